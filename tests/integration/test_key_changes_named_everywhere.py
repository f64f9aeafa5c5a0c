"""Who made and revoked an AO's API keys, and which keys a rotation or a revoke ended, on PostgreSQL (report "keyrot"
K3, K9, K10): a key issued and revoked in the portal is kept in `identity.key_changes` as the operator's, in the
portal, beside those `lrs credentials` made, so `lrs credentials list --revoked` (its table and --json) names who made
and revoked every key; `CredentialStore.rotate` returns the keys it revoked and `revoke_every_key_of` those it
revoked, and `lrs credentials rotate` of a principal with several keys in use revokes nothing without --yes."""

from __future__ import annotations

import asyncio
import getpass
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.support.portal_accounts import portal_stores

from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_contracts.environments import Environment
from lrs_platform.credential_store import SESSION_KEY_LABEL, CredentialStore
from lrs_platform.identity import Principal, PrincipalKind
from portal.accounts import AccountChange, LockoutPolicy
from portal.auth import Authentication

pytestmark = pytest.mark.integration

AO = Principal(PrincipalKind.AO, "RN9093")  # in the register shipped, which `lrs credentials rotate` checks
HERE = f"{getpass.getuser()}@{socket.gethostname()}"


@pytest.fixture
async def stores(fresh_database_url: str) -> AsyncIterator[tuple[Authentication, CredentialStore, Any]]:
    async with portal_stores(fresh_database_url, LockoutPolicy()) as portal:
        yield portal.auth, portal.credentials, portal.pool


async def _lrs(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def _listed(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    capsys.readouterr()
    assert await _lrs("credentials", "list", "--principal", str(AO), "--revoked", "--json") == ExitCode.OK
    return {key["key_id"]: key for key in json.loads(capsys.readouterr().out)}


async def test_keys_issued_and_revoked_in_the_portal_are_listed_with_who_made_and_revoked_them(
    stores: tuple[Authentication, CredentialStore, Any],
    fresh_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    auth, credentials, pool = stores
    monkeypatch.setenv("DATABASE_URL", fresh_database_url)
    in_the_portal = await auth.issue_ao_key(AO.id, "portal drill key", by="operator:desk")
    assert await auth.revoke_ao_key(in_the_portal.key_id, by="operator:officer") == AO
    assert await auth.revoke_ao_key(in_the_portal.key_id, by="operator:late") is None  # sent twice: nothing more
    by_lrs = await credentials.issue(AO, "make up", by=f"{HERE}, lrs credentials create")
    assert await auth.revoke_ao_key(by_lrs.key_id, by="operator:officer") == AO

    listed = await _listed(capsys)
    assert (listed[in_the_portal.key_id]["created_by"], listed[in_the_portal.key_id]["revoked_by"]) == (
        "operator:desk, the portal",
        "operator:officer, the portal",
    )
    assert (listed[by_lrs.key_id]["created_by"], listed[by_lrs.key_id]["revoked_by"]) == (
        f"{HERE}, lrs credentials create",
        "operator:officer, the portal",
    )
    assert await _lrs("credentials", "list", "--principal", str(AO), "--revoked") == ExitCode.OK
    table = capsys.readouterr().out
    assert "portal drill key; made by operator:desk, the portal; revoked by operator:officer, the portal" in table
    # the portal's own audit of account changes keeps them as before
    kept = [(change.change, change.detail) for change in await auth.changes(limit=10) if change.subject == str(AO)]
    assert sorted(kept) == sorted(
        [
            (AccountChange.AO_KEY_ISSUED, f"key {in_the_portal.key_id}"),
            (AccountChange.AO_KEY_REVOKED, f"key {in_the_portal.key_id}"),
            (AccountChange.AO_KEY_REVOKED, f"key {by_lrs.key_id}"),
        ]
    )
    rows = await pool.fetchval("SELECT count(*) FROM identity.key_changes WHERE key_id = $1", in_the_portal.key_id)
    assert rows == 2  # made, revoked once


async def test_a_key_revoked_where_the_portal_keeps_no_audit_of_its_own_is_kept_in_the_key_store(
    stores: tuple[Authentication, CredentialStore, Any],
) -> None:
    """The Sandpit's store is revoked outside the portal's transaction (`revoke_listed` without a connection)."""
    _, _, pool = stores
    sandpit_like = CredentialStore(pool, environment=Environment.SANDPIT)
    issued = await sandpit_like.issue(AO, "rehearsals", by="operator:desk, the portal")

    revoked = await sandpit_like.revoke_listed(
        issued.key_id, PrincipalKind.AO, label_not_starting=SESSION_KEY_LABEL, by="operator:officer, the portal"
    )

    assert revoked == AO
    [key] = await sandpit_like.listing(principal=AO, include_revoked=True)
    assert (key.created_by, key.revoked_by) == ("operator:desk, the portal", "operator:officer, the portal")


async def test_a_rotation_and_a_revoke_return_the_keys_they_ended(
    stores: tuple[Authentication, CredentialStore, Any],
) -> None:
    _, credentials, _ = stores
    mis = await credentials.issue(AO, "MIS nightly", by="operator:maker")
    unsaid = await credentials.issue(AO, None)
    session = await credentials.issue_for_session(AO, "ao.demo")

    rotated = await credentials.rotate(AO, "rotated 2027", by="operator:rotator")

    assert [(key.key_id, key.label) for key in rotated.replaced] == [(mis.key_id, "MIS nightly"), (unsaid.key_id, None)]
    assert [(key.created_by, key.revoked_by) for key in rotated.replaced] == [
        ("operator:maker", "operator:rotator"),
        (None, "operator:rotator"),
    ]
    assert all(key.revoked_at is not None for key in rotated.replaced)

    ended = await credentials.revoke_every_key_of(AO, by="operator:revoker")

    assert [(key.key_id, key.label) for key in ended] == [
        (session.key_id, f"{SESSION_KEY_LABEL} ao.demo"),
        (rotated.key_id, "rotated 2027"),
    ]
    assert [await credentials.authenticate(key) for key in (session.token, rotated.token)] == [None, None]
    listed = {key.key_id: key for key in await credentials.listing(principal=AO, include_revoked=True)}
    assert listed[rotated.key_id].revoked_by == "operator:revoker" and listed[rotated.key_id].created_by == (
        "operator:rotator"
    )
    assert await credentials.revoke_every_key_of(AO, by="operator:revoker") == []


async def test_lrs_credentials_rotate_of_several_keys_in_use_revokes_none_without_yes_and_names_them_with_it(
    stores: tuple[Authentication, CredentialStore, Any],
    fresh_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, credentials, _ = stores
    monkeypatch.setenv("DATABASE_URL", fresh_database_url)
    mis = await credentials.issue(AO, "MIS nightly")
    second = await credentials.issue(AO, "second system")
    session = await credentials.issue_for_session(AO, "ao.demo")
    capsys.readouterr()

    assert await _lrs("credentials", "rotate", "--principal", str(AO)) == ExitCode.USAGE  # no terminal to ask

    refused = capsys.readouterr()
    assert refused.out == "" and "pass --yes" in refused.err and mis.key_id in refused.err
    assert len(await credentials.listing(principal=AO)) == 3  # nothing made, nothing revoked

    assert await _lrs("credentials", "rotate", "--principal", str(AO), "--yes") == ExitCode.OK

    rotated = capsys.readouterr()
    assert rotated.out.startswith("lrs_") and len(rotated.out.splitlines()) == 1  # the key alone
    assert "revoked 2 key(s) of ao:RN9093" in rotated.err
    assert f"  {mis.key_id}  MIS nightly\n" in rotated.err and f"  {second.key_id}  second system\n" in rotated.err
    assert await credentials.authenticate(session.token) == AO  # the person stays signed in

    assert await _lrs("credentials", "revoke", "--principal", str(AO)) == ExitCode.OK

    revoked = capsys.readouterr().out
    assert revoked.startswith(
        "revoked 2 key(s) of ao:RN9093, 1 of them portal session keys (ao.demo signed out of the portal):\n"
    )
    assert f"  {session.key_id}  {SESSION_KEY_LABEL} ao.demo\n" in revoked
