"""The learners' key store on a real PostgreSQL: created once, shared between processes, erased for good."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from lrs_platform.database import create_pool
from lrs_platform.keyring import (
    ERASED,
    KeyLookup,
    Keyring,
    KeyringKey,
    KeyringUnavailable,
    LearnerKey,
    Purpose,
    migrate,
)

pytestmark = pytest.mark.integration

ULNS = ["9000000043", "9000000051", "9000000078"]


async def test_keys_are_created_once_shared_and_an_erased_learner_never_gets_one_again(
    fresh_database_url: str,
) -> None:
    pool = await create_pool(fresh_database_url, max_size=4)
    try:
        secret = KeyringKey.generate()
        first, second = Keyring(pool, secret), Keyring(pool, secret, ttl_seconds=0)
        with pytest.raises(KeyringUnavailable):
            await first.issue(ULNS)
        assert not await first.ready()
        await migrate(pool)
        await migrate(pool)  # again, as a second validation replica would
        assert await first.ready()

        assert await first.find(ULNS) == {}
        issued = await first.issue(ULNS)
        assert set(issued) == set(ULNS)
        sealed = {uln: _key(issued, uln).seal_text(Purpose.CHALLENGE_REASON, f"about {uln}") for uln in ULNS}
        # another process with the same keyring key opens what the first sealed; nothing was re-created
        reissued = await second.issue(ULNS)
        assert {uln: _key(reissued, uln).open_text(Purpose.CHALLENGE_REASON, sealed[uln]) for uln in ULNS} == {
            uln: f"about {uln}" for uln in ULNS
        }

        async with pool.acquire() as connection:
            rows = await connection.fetch("SELECT learner_ref, wrapped_key FROM learner_keys.keys")
            assert len(rows) == 3
            stored = b"".join(row["learner_ref"] + row["wrapped_key"] for row in rows)
            assert not any(uln.encode() in stored for uln in ULNS), "the store lists no ULN"
            async with connection.transaction():
                assert await second.erase(connection, ULNS[0]) is True
            async with connection.transaction():
                assert await second.erase(connection, ULNS[0]) is False
            async with connection.transaction():
                assert await second.erase(connection, "9000000086") is True  # never had a key: a tombstone

        assert (await second.issue([ULNS[0], "9000000086"])) == {ULNS[0]: ERASED, "9000000086": ERASED}
        assert (await second.find(ULNS))[ULNS[0]] is ERASED
        # a key still cached elsewhere goes when the erasure reaches that process
        first.forget(ULNS[0])
        assert (await first.find([ULNS[0]]))[ULNS[0]] is ERASED

        # a keyring key that is not the store's opens nothing, and its service is not ready
        stranger = Keyring(pool, KeyringKey.generate())
        assert not await stranger.ready()
        with pytest.raises(KeyringUnavailable, match="not the one the learner key store was made with"):
            await stranger.check()
        with pytest.raises(KeyringUnavailable):
            await stranger.find(ULNS[1:])
        await second.check()
    finally:
        await pool.close()


async def test_a_batch_of_keys_is_unwrapped_alike_whatever_its_size(fresh_database_url: str) -> None:
    pool = await create_pool(fresh_database_url, max_size=2)
    try:
        await migrate(pool)
        secret = KeyringKey.generate()
        many = [f"{9_100_000_000 + number}" for number in range(2_500)]
        issued = await Keyring(pool, secret).issue(many)
        found = await Keyring(pool, secret).find(many)
        sealed = _key(issued, many[-1]).seal_text(Purpose.CHALLENGE_NOTE, "n")
        assert len(found) == len(many) and _key(found, many[-1]).open_text(Purpose.CHALLENGE_NOTE, sealed) == "n"
    finally:
        await pool.close()


async def test_two_processes_issuing_the_same_new_learner_get_the_same_key(fresh_database_url: str) -> None:
    pool = await create_pool(fresh_database_url, max_size=4)
    try:
        await migrate(pool)
        secret = KeyringKey.generate()
        rings = [Keyring(pool, secret) for _ in range(4)]
        answers = await asyncio.gather(*(ring.issue(ULNS) for ring in rings))
        sealed = _key(answers[0], ULNS[1]).seal_text(Purpose.CHALLENGE_NOTE, "note")
        for answer in answers[1:]:
            assert _key(answer, ULNS[1]).open_text(Purpose.CHALLENGE_NOTE, sealed) == "note"
        connection = await asyncpg.connect(fresh_database_url)
        try:
            assert await connection.fetchval("SELECT count(*) FROM learner_keys.keys") == 3
        finally:
            await connection.close()
    finally:
        await pool.close()


def _key(lookup: KeyLookup, uln: str) -> LearnerKey:
    key = lookup[uln]
    assert isinstance(key, LearnerKey)
    return key
