"""A key's label is one line of text, whoever makes the key (door walk, finding 4): a rotation given one that is not
revokes nothing, and `lrs credentials create` makes no key, on the real key store."""

from __future__ import annotations

import asyncio

import pytest
from tests.integration.credential_stores import credential_store  # noqa: F401 - the tests' `store` fixture

from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_platform.credential_store import CredentialStore
from lrs_platform.identity import Principal, PrincipalKind


async def test_a_label_that_is_not_one_line_makes_no_key_and_revokes_none(
    store: CredentialStore, fresh_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    provider = Principal.parse("provider:10001234")
    kept = await store.issue(provider, "the college's MIS")

    with pytest.raises(ValueError, match="line break"):
        await store.rotate(provider, "ok\n0000000000000000  operator:ghost  every  fake row")
    monkeypatch.setenv("DATABASE_URL", fresh_database_url)
    code = await asyncio.to_thread(
        main, ["credentials", "create", "--principal", "operator:door", "--label", "a\x1b[31mred"]
    )

    assert code == ExitCode.USAGE
    assert "The label holds the control character U+001B at character 2" in capsys.readouterr().err
    assert await store.authenticate(kept.token) == provider  # not revoked
    assert [key.key_id for key in await store.listing(include_revoked=True)] == [kept.key_id]
    assert await store.count(PrincipalKind.OPERATOR, include_revoked=True) == 0
