"""`lrs credentials revoke --key-id ID` (report parity, finding 3): what it is not given right is a usage error before
the database is asked: an id not shaped as the key store makes them, --key-id with another action, or with
--principal too. (tests/integration/test_credentials_revoke_one_key.py revokes with a real key store.)"""

from __future__ import annotations

import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["revoke", "--key-id", "not-a-key"], "--key-id 'not-a-key' is not a key id: 16 characters, 0-9 and a-f"),
        (["create", "--key-id", "0123456789abcdef", "--principal", "ao:RN9093"], "--key-id is for revoke"),
        (
            ["revoke", "--key-id", "0123456789abcdef", "--principal", "ao:RN9093"],
            "give --principal (every key of it) or --key-id (that key alone), not both",
        ),
        (["revoke"], "--principal (every key of it, like ao:RN9093) or --key-id (one key, as list shows it)"),
    ],
)
def test_a_key_id_given_wrong_is_a_usage_error_before_the_database(
    argv: list[str], said: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@127.0.0.1:1/lrs")  # nothing listens: never reached

    assert main(["credentials", *argv]) == ExitCode.USAGE

    assert said in " ".join(capsys.readouterr().err.split())


def test_the_help_names_the_key_id(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "200")

    assert main(["credentials", "--help"]) == ExitCode.OK

    said = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert "--key-id" in said and "the one key --key-id names" in said
