"""`lrs credentials revoke --key-id ID` revokes that one key, whoever's it is, and keeps who did it, as `revoke
--principal` and `rotate` do (report parity, finding 3): the CLI could revoke only every key of a principal (portal
sessions too) or rotate them all, where the portal revokes one AO key; an operator key doing more than its duties
could be ended only with every key of that operator. An id no key has, or a key revoked already, is said plainly
(exit 1), nothing changed."""

from __future__ import annotations

import asyncio
import getpass
import socket

import pytest
from tests.integration.credential_stores import credential_store  # noqa: F401 - the tests' `store` fixture

from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_platform.credential_store import CredentialStore, KeyRevokedAlreadyError, NoSuchKeyError
from lrs_platform.identity import Principal

pytestmark = pytest.mark.integration

REVOKER = f"{getpass.getuser()}@{socket.gethostname()}, lrs credentials revoke"


async def _lrs(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def _live(store: CredentialStore, principal: Principal) -> set[str]:
    return {key.key_id for key in await store.listing(principal=principal)}


async def test_the_store_revokes_one_key_of_any_principal_and_refuses_an_unknown_or_revoked_one(
    store: CredentialStore,
) -> None:
    operator = Principal.parse("operator:oncall")
    narrowed = await store.issue(operator, "on-call laptop")
    kept = await store.issue(operator, "runbook server")

    revoked = await store.revoke_key(narrowed.key_id, by="operator:lead")

    assert (revoked.key_id, revoked.principal, revoked.revoked_by) == (narrowed.key_id, operator, "operator:lead")
    assert revoked.revoked_at is not None
    assert await _live(store, operator) == {kept.key_id}
    assert await store.authenticate(narrowed.token) is None
    assert await store.authenticate(kept.token) == operator
    with pytest.raises(KeyRevokedAlreadyError) as again:
        await store.revoke_key(narrowed.key_id, by="operator:late")
    assert again.value.key.revoked_by == "operator:lead"  # its revoker stays
    with pytest.raises(NoSuchKeyError):
        await store.revoke_key("0123456789abcdef", by="operator:lead")


async def test_lrs_credentials_revokes_the_one_key_named_and_keeps_who_did_it(
    store: CredentialStore,
    fresh_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", fresh_database_url)
    ao = Principal.parse("ao:RN9093")
    leaked = await store.issue(ao, "MIS server B")
    scripts = await store.issue(ao, "exams office scripts")
    session = await store.issue_for_session(ao, "ao.demo")
    capsys.readouterr()

    assert await _lrs("credentials", "revoke", "--key-id", leaked.key_id.upper()) == ExitCode.OK

    said = capsys.readouterr().out
    assert f"revoked key {leaked.key_id} of ao:RN9093 (MIS server B); the other keys of ao:RN9093 stay" in said
    assert await _live(store, ao) == {scripts.key_id, session.key_id}
    (listed,) = [key for key in await store.listing(include_revoked=True) if key.key_id == leaked.key_id]
    assert listed.revoked_by == REVOKER

    assert await _lrs("credentials", "revoke", "--key-id", leaked.key_id) == ExitCode.FAILED
    err = " ".join(capsys.readouterr().err.split())
    assert f"key {leaked.key_id} of ao:RN9093 was revoked already, " in err
    assert f"by {REVOKER}: nothing changed" in err

    assert await _lrs("credentials", "revoke", "--key-id", "0123456789abcdef") == ExitCode.FAILED
    err = " ".join(capsys.readouterr().err.split())
    assert "no key 0123456789abcdef in the live key store: nothing was revoked" in err
    assert await _live(store, ao) == {scripts.key_id, session.key_id}
