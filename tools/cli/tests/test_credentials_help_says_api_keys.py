""" "Credential" names two unrelated things: the API keys `lrs credentials` makes, and the signed PLR credentials of
`lrs plr credential`, whose signing keys `lrs credential-keys` rotates. `lrs credentials` sits beside
`lrs credential-keys` in `lrs --help`, so its help says which it is, and where the other is."""

from __future__ import annotations

import re

import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main

SAID = (
    "create, rotate, revoke or list API keys, the keys callers present to the API (not PLR credentials: see"
    " `lrs plr credential` and `lrs credential-keys`)"
)


def _shown(capsys: pytest.CaptureFixture[str]) -> str:
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", capsys.readouterr().out).split())


@pytest.mark.parametrize("arguments", [["--help"], ["credentials", "--help"]], ids=["lrs", "lrs credentials"])
def test_lrs_credentials_says_it_is_api_keys_not_plr_credentials(
    arguments: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(arguments) == ExitCode.OK

    assert SAID in _shown(capsys)
