"""Decision 0124 on PostgreSQL: an operator's duties are stored with the account, the key of each session
carries them (the key the services authenticate is limited as a scoped operator key is), and changing them
revokes the keys of the sessions already open; the table refuses duties on an AO user's account."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from lrs_platform.database import apply_migrations, create_pool
from lrs_platform.identity import CredentialStore, OperatorScope, Principal
from portal.accounts import LockoutPolicy, Role
from portal.auth import Authentication
from portal.sessions import SessionPolicy
from portal.store import MIGRATIONS, SCHEMA, AccountStore, ServiceKeys, SessionStore

pytestmark = pytest.mark.integration


@pytest.fixture
async def stores(fresh_database_url: str) -> AsyncIterator[tuple[Authentication, CredentialStore, Any]]:
    pool = await create_pool(fresh_database_url, max_size=4)
    try:
        async with pool.acquire() as connection:
            await apply_migrations(connection, SCHEMA, MIGRATIONS)
        credentials = CredentialStore(pool)
        await credentials.migrate()
        auth = Authentication(
            AccountStore(pool), SessionStore(pool), ServiceKeys(credentials), LockoutPolicy(), SessionPolicy()
        )
        yield auth, credentials, pool
    finally:
        await pool.close()


async def test_a_session_key_is_limited_to_the_account_duties_until_they_change(
    stores: tuple[Authentication, CredentialStore, Any],
) -> None:
    auth, credentials, _ = stores
    _, password = await auth.create_account("oncall", "Oncall", Role.OPERATOR, None, None, ["dead-letters"])

    first = (await auth.sign_in("oncall", password)).session
    assert first is not None
    principal = await credentials.authenticate(first.service_key)
    assert isinstance(principal, Principal) and principal.scopes == frozenset({"dead-letters"})
    assert principal.may_use([OperatorScope.DEAD_LETTERS]) and not principal.may_use([OperatorScope.ERASURE])

    changed = await auth.set_duties("oncall", ["erasure", "rebuild"])
    assert changed.scopes == frozenset({"erasure", "rebuild"})
    assert await auth.session_for(first.token) is None
    assert await credentials.authenticate(first.service_key) is None

    second = (await auth.sign_in("oncall", password)).session
    assert second is not None
    assert await credentials.authenticate(second.service_key) == Principal.parse(
        "operator:oncall", frozenset({"erasure", "rebuild"})
    )
    await auth.set_duties("oncall", [])
    third = (await auth.sign_in("oncall", password)).session
    assert third is not None
    assert await credentials.authenticate(third.service_key) == Principal.parse("operator:oncall")


async def test_the_table_keeps_duties_to_operators(stores: tuple[Authentication, CredentialStore, Any]) -> None:
    auth, _, pool = stores
    await auth.create_account("nia", "Nia", Role.AO, "RN5133", None)

    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute("UPDATE portal.accounts SET scopes = '{support}' WHERE username = 'nia'")
    assert (await auth.account("nia")).scopes == frozenset()
