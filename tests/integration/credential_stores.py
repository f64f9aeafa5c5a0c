"""The key store on a fresh database that the credential integration modules share: import `credential_store` and
their tests ask for `store`, a migrated `CredentialStore` of the test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from lrs_platform.credential_store import CredentialStore
from lrs_platform.database import create_pool


@pytest.fixture(name="store")
async def credential_store(fresh_database_url: str) -> AsyncIterator[CredentialStore]:
    pool = await create_pool(fresh_database_url, max_size=2)
    try:
        credentials = CredentialStore(pool)
        await credentials.migrate()
        yield credentials
    finally:
        await pool.close()
