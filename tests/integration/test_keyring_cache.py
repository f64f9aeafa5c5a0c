"""A key found once is remembered: a later `find` of it answers from memory, the store unasked."""

from __future__ import annotations

import pytest

from lrs_platform.database import create_pool
from lrs_platform.keyring import ERASED, Keyring, KeyringKey, KeyringUnavailable, LearnerKey, Purpose, migrate

pytestmark = pytest.mark.integration

ULNS = ["9000000043", "9000000051", "9000000078"]


async def test_keys_and_erasures_found_once_are_found_again_with_the_key_store_away(fresh_database_url: str) -> None:
    pool = await create_pool(fresh_database_url, max_size=2)
    try:
        await migrate(pool)
        secret = KeyringKey.generate()
        issuer = Keyring(pool, secret)
        issued = await issuer.issue(ULNS)
        first = issued[ULNS[0]]
        assert isinstance(first, LearnerKey)
        note = first.seal_text(Purpose.CHALLENGE_NOTE, "note")
        async with pool.acquire() as connection, connection.transaction():
            await issuer.erase(connection, ULNS[2])

        readers_pool = await create_pool(fresh_database_url, max_size=2)
        reader = Keyring(readers_pool, secret)
        await reader.find(ULNS)
        await readers_pool.close()  # from here on, only what the reader holds

        found = await reader.find(ULNS)
        key = found[ULNS[0]]
        assert isinstance(key, LearnerKey) and key.open_text(Purpose.CHALLENGE_NOTE, note) == "note"
        assert isinstance(found[ULNS[1]], LearnerKey) and found[ULNS[2]] is ERASED
        with pytest.raises(KeyringUnavailable):
            await reader.find(["9000000086"])  # not found before: the store is asked, and is away
    finally:
        await pool.close()
