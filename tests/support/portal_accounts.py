"""The portal's account, session and key stores on a fresh PostgreSQL database, wired as bootstrap wires them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from lrs_domain.reference_files import load_register
from lrs_platform.credential_store import CredentialStore
from lrs_platform.database import apply_migrations, create_pool
from portal.accounts import LockoutPolicy
from portal.auth import Authentication
from portal.sessions import SessionPolicy
from portal.store import MIGRATIONS, SCHEMA, AccountStore, ServiceKeys, SessionStore

TEST_REGISTER = {*load_register(), "RN5133"}  # the register, and the AO most tests use (not in it)


@dataclass
class PortalStores:
    auth: Authentication
    pool: asyncpg.Pool
    credentials: CredentialStore
    lockout: LockoutPolicy

    def with_sessions(self, sessions: SessionStore) -> Authentication:
        """Authentication as bootstrap builds it, with `sessions` for its session store."""
        return Authentication(
            AccountStore(self.pool),
            sessions,
            ServiceKeys(self.credentials),
            self.lockout,
            SessionPolicy(),
            register=TEST_REGISTER,
        )

    async def live_sessions_of(self, username: str) -> int:
        count: int = await self.pool.fetchval("SELECT count(*) FROM portal.sessions WHERE username = $1", username)
        return count

    async def live_session_keys_of(self, username: str) -> int:
        count: int = await self.pool.fetchval(
            "SELECT count(*) FROM identity.credentials WHERE label = $1 AND revoked_at IS NULL",
            f"portal session: {username}",
        )
        return count


@asynccontextmanager
async def portal_stores(database_url: str, lockout: LockoutPolicy) -> AsyncIterator[PortalStores]:
    pool = await create_pool(database_url, max_size=5)
    try:
        async with pool.acquire() as connection:
            await apply_migrations(connection, SCHEMA, MIGRATIONS)
        credentials = CredentialStore(pool)
        await credentials.migrate()
        auth = Authentication(
            AccountStore(pool),
            SessionStore(pool),
            ServiceKeys(credentials),
            lockout,
            SessionPolicy(),
            register=TEST_REGISTER,
        )
        yield PortalStores(auth, pool, credentials, lockout)
    finally:
        await pool.close()
