"""The portal's account, session and key stores on a fresh PostgreSQL database, wired as bootstrap wires them.

Passwords are hashed at argon2id's lowest cost while the stores are open (as services/portal/tests/unit/stubbed_portal.py
does for the unit tests), the decoy hash included: these tests prove what is checked and what is held, and a bound on
their time must measure that, not one default-cost argon2 verify (0.8-2 s each on a loaded 2-core machine).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import asyncpg
from argon2 import PasswordHasher

from lrs_domain.reference_files import load_register
from lrs_platform.credential_store import CredentialStore
from lrs_platform.database import apply_migrations, create_pool
from portal import passwords
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


@contextmanager
def cheap_password_hashes() -> Iterator[None]:
    """argon2id at its lowest cost for hashing, verifying and the decoy an unknown or locked name verifies (argon2
    verifies with the cost written in the hash, so the decoy must be made again with the cheap hasher too)."""
    hasher, decoy = passwords._hasher, passwords._DECOY_HASH
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    passwords._hasher, passwords._DECOY_HASH = cheap, cheap.hash(secrets.token_urlsafe(16))
    try:
        yield
    finally:
        passwords._hasher, passwords._DECOY_HASH = hasher, decoy


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
        with cheap_password_hashes():
            yield PortalStores(auth, pool, credentials, lockout)
    finally:
        await pool.close()
