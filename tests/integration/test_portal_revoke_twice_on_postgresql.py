"""A portal Revoke sent twice, on PostgreSQL: the second revokes nothing and keeps nothing in the audit, and the
portal reads the key as revoked already (the keys' page says so rather than 404); a key never issued, an operator's
or a portal session's is not an AO's key revoked already."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.support.portal_accounts import portal_stores

from lrs_platform.credential_store import SESSION_KEY_LABEL, CredentialStore
from lrs_platform.identity import Principal, PrincipalKind
from portal.accounts import AccountChange, LockoutPolicy
from portal.auth import Authentication

pytestmark = pytest.mark.integration


@pytest.fixture
async def stores(fresh_database_url: str) -> AsyncIterator[tuple[Authentication, CredentialStore, Any]]:
    async with portal_stores(fresh_database_url, LockoutPolicy()) as portal:
        yield portal.auth, portal.credentials, portal.pool


async def test_a_key_revoked_twice_is_read_as_revoked_already(
    stores: tuple[Authentication, CredentialStore, Any],
) -> None:
    auth, _, _ = stores
    issued = await auth.issue_ao_key("RN5133", "results system", by="operator:desk")
    assert await auth.revoked_ao_key(issued.key_id) is None  # not revoked yet

    first = await auth.revoke_ao_key(issued.key_id, by="operator:desk")
    second = await auth.revoke_ao_key(issued.key_id, by="operator:desk")
    revoked = await auth.revoked_ao_key(issued.key_id)

    assert first == Principal(PrincipalKind.AO, "RN5133") and second is None
    assert revoked is not None and revoked.principal == first and revoked.revoked_at is not None
    assert revoked.label == "results system"
    kept = [change for change in await auth.changes(limit=10) if change.change is AccountChange.AO_KEY_REVOKED]
    assert [change.detail for change in kept] == [f"key {issued.key_id}"]


async def test_only_an_aos_listed_key_is_read_as_revoked_already(
    stores: tuple[Authentication, CredentialStore, Any],
) -> None:
    auth, credentials, _ = stores
    operator_key = await credentials.issue(Principal.parse("operator:desk"), "desk")
    session_key = await credentials.issue_for_session(Principal(PrincipalKind.AO, "RN5133"), "nia")
    await credentials.revoke(operator_key.key_id, session_key.key_id)

    assert await auth.revoked_ao_key("0123456789abcdef") is None
    assert await auth.revoked_ao_key(operator_key.key_id) is None
    assert await auth.revoked_ao_key(session_key.key_id) is None
    assert await credentials.revoked_listed(session_key.key_id, PrincipalKind.AO) is not None  # as listed with it
    assert (
        await credentials.revoked_listed(session_key.key_id, PrincipalKind.AO, label_not_starting=SESSION_KEY_LABEL)
        is None
    )
