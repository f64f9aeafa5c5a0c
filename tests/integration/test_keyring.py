"""The learners' key store on a real PostgreSQL: created once, shared between processes, erased for good."""

from __future__ import annotations

import asyncio
import base64
import secrets
from pathlib import Path

import asyncpg
import pytest

from lrs_platform import keyring
from lrs_platform.database import create_pool
from lrs_platform.keyring import (
    ERASED,
    KeyLookup,
    Keyring,
    KeyringKey,
    KeyringNotConfigured,
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


async def test_the_wrapping_key_is_rotated_without_changing_any_learner_key(fresh_database_url: str) -> None:
    """Decision 0116: an operator adds a wrapping key, makes it wrap new keys, re-wraps the stored ones,
    and then the derived wrapping key opens nothing in the store; every learner key is the same key."""
    pool = await create_pool(fresh_database_url, max_size=4)
    try:
        await migrate(pool)
        root = KeyringKey.generate()
        added = base64.b64encode(secrets.token_bytes(32)).decode()
        before = Keyring(pool, root)
        old_ulns = [f"{9_200_000_000 + number}" for number in range(2_100)]
        issued = await before.issue([*old_ulns, ULNS[0]])
        sealed = {uln: _key(issued, uln).seal_text(Purpose.CHALLENGE_NOTE, uln) for uln in old_ulns[:3]}
        async with pool.acquire() as connection, connection.transaction():
            assert await before.erase(connection, ULNS[0])
        assert (await before.wrapping()).keys_by_wrapping_key == {0: 2_100}

        # step 1: every service is given the new key, still wrapping with the derived one
        knowing = Keyring(pool, root.with_wrapping(f"7:{added}"), ttl_seconds=0)
        assert (await knowing.wrapping()).wrap_with == 0
        # step 2: new keys are wrapped with it; the old ones still open
        rotating = Keyring(pool, root.with_wrapping(f"7:{added}", 7), ttl_seconds=0)
        fresh = await rotating.issue([ULNS[1]])
        state = await rotating.wrapping()
        assert (state.wrap_with, state.keys_by_wrapping_key, state.to_rewrap) == (7, {0: 2_100, 7: 1}, 2_100)
        with pytest.raises(KeyringUnavailable, match="wrapping key 7"):
            await Keyring(pool, root, ttl_seconds=0).find([ULNS[1]])  # a service not given it yet says so

        # step 3: the stored keys re-wrapped, a limited number at a time
        assert await rotating.rewrap(1_000, per_transaction=300) == 1_000
        assert (await rotating.wrapping()).keys_by_wrapping_key == {0: 1_100, 7: 1_001}
        assert await rotating.rewrap(10_000) == 1_100
        assert await rotating.rewrap(10_000) == 0
        assert (await rotating.wrapping()).keys_by_wrapping_key == {7: 2_101}

        found = await rotating.find([*old_ulns, ULNS[0], ULNS[1]])
        assert {uln: _key(found, uln).open_text(Purpose.CHALLENGE_NOTE, text) for uln, text in sealed.items()} == {
            uln: uln for uln in sealed
        }
        assert found[ULNS[0]] is ERASED  # the tombstone stays one
        note = _key(fresh, ULNS[1]).seal_text(Purpose.CHALLENGE_NOTE, "sealed before the re-wrap")
        assert _key(found, ULNS[1]).open_text(Purpose.CHALLENGE_NOTE, note) == "sealed before the re-wrap"
        # the derived wrapping key alone opens nothing in the store any more
        with pytest.raises(KeyringUnavailable, match="wrapping key 7"):
            await Keyring(pool, root, ttl_seconds=0).find(old_ulns[:1])
        async with pool.acquire() as connection:
            assert await connection.fetchval("SELECT count(*) FROM learner_keys.keys WHERE wrapped_by = 0") == 1
            assert await connection.fetchval("SELECT count(*) FROM learner_keys.keys WHERE erased_at IS NOT NULL") == 1
    finally:
        await pool.close()


def test_wrapping_keys_are_given_as_id_and_base64_and_never_shown() -> None:
    root = KeyringKey.generate()
    one, two = (base64.b64encode(secrets.token_bytes(32)).decode() for _ in range(2))
    key = root.with_wrapping(f" 1:{one}, 2:{two} ", 2)
    assert [key_id for key_id, _ in key.wrapping_keys] == [1, 2] and key.wrap_with == 2
    assert one not in repr(key) and base64.b64decode(one) not in repr(key).encode()
    assert root.with_wrapping("", 0) == root
    for wrapping, wrap_with in (("1", 0), (f"0:{one}", 0), (f"1:{one},1:{two}", 0), ("1:short", 0), (f"1:{one}", 3)):
        with pytest.raises(KeyringNotConfigured) as refused:
            root.with_wrapping(wrapping, wrap_with)
        assert one not in str(refused.value)


async def test_a_store_from_before_the_rotation_is_waited_for_then_upgraded_in_place(fresh_database_url: str) -> None:
    """A service upgraded before validation finds no `wrapped_by` yet: it says so and waits, as for a store
    not made yet; validation's start adds the column, and the keys stored before are wrapping key 0's."""
    pool = await create_pool(fresh_database_url, max_size=2)
    try:
        script = (Path(keyring.__file__).parent / "keyring_migrations" / "0001_learner_keys.sql").read_text()
        before_rotation = script.split("-- Which wrapping key wraps", 1)[0]
        async with pool.acquire() as connection:
            await connection.execute(before_rotation)
        root = KeyringKey.generate()
        stored_then = Keyring(pool, root)
        async with pool.acquire() as connection:  # a key as the code before stored it: no `wrapped_by`
            ref = stored_then.learner_ref(ULNS[0])
            await connection.execute(
                "INSERT INTO learner_keys.keys (learner_ref, wrapped_key) VALUES ($1, $2)",
                ref,
                stored_then._wrap(ref, b"k" * 32),
            )
        with pytest.raises(KeyringUnavailable, match="older than this service"):
            await Keyring(pool, root).find([ULNS[0]])

        await migrate(pool)
        found = await Keyring(pool, root).find([ULNS[0]])
        sealed = LearnerKey(ULNS[0], b"k" * 32).seal_text(Purpose.CHALLENGE_NOTE, "kept")
        assert _key(found, ULNS[0]).open_text(Purpose.CHALLENGE_NOTE, sealed) == "kept"
        assert (await Keyring(pool, root).wrapping()).keys_by_wrapping_key == {0: 1}
    finally:
        await pool.close()
