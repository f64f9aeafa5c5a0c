"""Validation's decision store in PostgreSQL: a decision stored once and read back as it was, and the AO's
achievement states it leaves."""

from __future__ import annotations

import struct
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import asyncpg
import pytest

from lrs_contracts.environments import LIVE_TOPICS
from lrs_contracts.plr import AchievementData, AchievementKey, ResultStatus
from lrs_contracts.sandpit import SandpitReset
from lrs_domain.achievements import AchievementState
from lrs_platform.database import apply_migrations, create_pool
from validation.decision_store import DecisionStore, OutgoingMessage, encode_messages
from validation.sandpit import SandpitResets

pytestmark = pytest.mark.integration

AO = "RN5133"


@pytest.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(fresh_database_url, max_size=3)
    try:
        async with pool.acquire() as connection:
            await apply_migrations(connection, "validation", "validation.migrations")
        yield pool
    finally:
        await pool.close()


def _messages(count: int, mark: str) -> list[OutgoingMessage]:
    """~1 KB a message, as a large batch's events are: `count` of them span many of the store's pieces."""
    return [
        OutgoingMessage(
            "lrs.plr.events.v1", f"{1_000_000_000 + line}", f'{{"line":{line},"mark":"{mark}"}}'.encode() * 40
        )
        for line in range(count)
    ]


def _state(uln: str, grade: str, status: ResultStatus = ResultStatus.PROVISIONAL) -> AchievementState:
    return AchievementState(
        achievement_id=uuid.uuid5(uuid.NAMESPACE_URL, uln),
        key=AchievementKey(ao_id=AO, uln=uln, qualification_number="60012345", award_date=date(2024, 8, 22)),
        data=AchievementData(grade=grade),
        status=status,
        withdrawn=False,
    )


async def test_a_large_decision_is_stored_and_read_back_as_it_was(pool: asyncpg.Pool) -> None:
    store, batch_id = DecisionStore(pool), uuid.uuid4()
    messages = [*_messages(5_000, "first"), OutgoingMessage("lrs.batch.outcomes.v1", str(batch_id), b"{}")]

    recorded = await store.record(batch_id, AO, False, messages, [])

    assert recorded.messages == tuple(messages)
    stored = await store.stored(batch_id)
    assert stored is not None
    assert (stored.failed, stored.messages, stored.published) == (False, tuple(messages), False)
    raw = await pool.fetchval("SELECT messages FROM validation.decisions WHERE batch_id = $1", batch_id)
    assert raw == encode_messages(messages)


async def test_a_decision_is_stored_as_validation_compressed_it_without_compressing_it_again(
    pool: asyncpg.Pool,
) -> None:
    store, batch_id = DecisionStore(pool), uuid.uuid4()

    await store.record(batch_id, AO, False, _messages(5_000, "first"), [])

    compression = await pool.fetchval(
        "SELECT pg_column_compression(messages) FROM validation.decisions WHERE batch_id = $1", batch_id
    )
    assert compression is None


async def test_a_decision_stored_before_its_messages_were_compressed_by_validation_is_read_back(
    pool: asyncpg.Pool,
) -> None:
    store, batch_id = DecisionStore(pool), uuid.uuid4()
    messages = _messages(3_000, "before")
    framed = [b"\x00framed-messages-1\n"]
    for message in messages:
        topic, key = message.topic.encode(), message.key.encode()
        framed += (struct.pack(">HHI", len(topic), len(key), len(message.value)), topic, key, message.value)
    async with pool.acquire() as connection:
        await connection.execute("ALTER TABLE validation.decisions ALTER COLUMN messages SET STORAGE EXTENDED")
        await connection.execute(
            "INSERT INTO validation.decisions (batch_id, ao_id, failed, messages) VALUES ($1, $2, false, $3)",
            batch_id,
            AO,
            b"".join(framed),
        )
        await connection.execute("ALTER TABLE validation.decisions ALTER COLUMN messages SET STORAGE EXTERNAL")
    assert (
        await pool.fetchval(
            "SELECT pg_column_compression(messages) FROM validation.decisions WHERE batch_id = $1", batch_id
        )
        == "lz4"
    )

    stored = await store.stored(batch_id)

    assert stored is not None
    assert stored.messages == tuple(messages)


async def test_a_failed_decision_without_messages_is_stored_as_failed(pool: asyncpg.Pool) -> None:
    store, batch_id = DecisionStore(pool), uuid.uuid4()

    await store.record(batch_id, AO, True, [], [])

    stored = await store.stored(batch_id)
    assert stored is not None
    assert (stored.failed, stored.messages) == (True, ())


async def test_the_decision_stored_first_wins_and_its_states_alone_are_kept(pool: asyncpg.Pool) -> None:
    store, batch_id = DecisionStore(pool), uuid.uuid4()
    first = _messages(300, "first")
    await store.record(batch_id, AO, False, first, [_state("1000000043", "A")])

    again = await store.record(batch_id, AO, True, _messages(300, "second"), [_state("1000000043", "B")])

    assert (again.failed, again.messages) == (False, tuple(first))
    states = await store.existing_states(AO, [("1000000043", "60012345")])
    assert [state.data.grade for state in states[("1000000043", "60012345")]] == ["A"]


async def test_a_later_decision_changes_the_states_it_names_and_adds_new_ones(pool: asyncpg.Pool) -> None:
    store = DecisionStore(pool)
    await store.record(uuid.uuid4(), AO, False, [], [_state("1000000043", "A"), _state("1000000051", "B")])

    changed = _state("1000000043", "A*", ResultStatus.FINAL)
    await store.record(uuid.uuid4(), AO, False, [], [changed, _state("1000000068", "C")])

    wanted = [("1000000043", "60012345"), ("1000000051", "60012345"), ("1000000068", "60012345")]
    states = await store.existing_states(AO, wanted)
    assert {pair: [state.data.grade for state in found] for pair, found in states.items()} == {
        ("1000000043", "60012345"): ["A*"],
        ("1000000051", "60012345"): ["B"],
        ("1000000068", "60012345"): ["C"],
    }
    assert states[("1000000043", "60012345")] == [changed]


async def test_new_achievements_are_added_beside_those_the_decision_changes(pool: asyncpg.Pool) -> None:
    store = DecisionStore(pool)
    first = [_state("1000000043", "A"), _state("1000000051", "B")]
    await store.record(uuid.uuid4(), AO, False, [], first, {state.achievement_id for state in first})

    changed, added = _state("1000000043", "A*", ResultStatus.FINAL), _state("1000000068", "C")
    await store.record(uuid.uuid4(), AO, False, [], [changed, added], {added.achievement_id})

    states = await store.existing_states(AO, [(uln, "60012345") for uln in ("1000000043", "1000000051", "1000000068")])
    assert {pair[0]: found for pair, found in states.items()} == {
        "1000000043": [changed],
        "1000000051": [first[1]],
        "1000000068": [added],
    }


async def test_a_state_said_to_be_new_that_stands_already_is_replaced_as_any_other(pool: asyncpg.Pool) -> None:
    store = DecisionStore(pool)
    await store.record(uuid.uuid4(), AO, False, [], [_state("1000000043", "A")])

    again, added = _state("1000000043", "B"), _state("1000000068", "C")
    batch_id = uuid.uuid4()
    await store.record(batch_id, AO, False, [], [again, added], {again.achievement_id, added.achievement_id})

    states = await store.existing_states(AO, [("1000000043", "60012345"), ("1000000068", "60012345")])
    assert states == {("1000000043", "60012345"): [again], ("1000000068", "60012345"): [added]}
    last_batches = await pool.fetch("SELECT DISTINCT last_batch_id FROM validation.achievements")
    assert [row["last_batch_id"] for row in last_batches] == [batch_id]
    assert await store.stored(batch_id) is not None


async def test_a_decision_forgets_its_messages_a_week_after_publishing_and_still_says_it_was_decided(
    pool: asyncpg.Pool,
) -> None:
    store = DecisionStore(pool)
    old, recent, unpublished = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for batch_id in (old, recent, unpublished):
        await store.record(batch_id, AO, True, _messages(3, str(batch_id)), [])
    await store.mark_published(old)
    await store.mark_published(recent)
    await pool.execute(
        "UPDATE validation.decisions SET published_at = now() - interval '8 days' WHERE batch_id = $1", old
    )

    assert await store.forget_published_messages() == 1
    assert await store.forget_published_messages() == 0

    forgotten = await store.stored(old)
    assert forgotten is not None and (forgotten.failed, forgotten.messages, forgotten.published) == (True, (), True)
    assert await store.is_decided(old)
    # a decider storing the batch again finds it decided and published: nothing to send
    again = await store.record(old, AO, True, _messages(3, "again"), [])
    assert (again.ours, again.published, again.messages) == (False, True, ())
    for kept in (recent, unpublished):
        stored = await store.stored(kept)
        assert stored is not None and stored.messages == tuple(_messages(3, str(kept)))


async def test_a_batch_a_sandpit_reset_forgot_is_never_decided_again_when_read_again(pool: asyncpg.Pool) -> None:
    """A code review: the reset deleted the batch's decision, so the batch read again (a rebalance re-reads from the
    offset the reset committed, before both) was decided again, and the reset read again deleted nothing: the
    next batch was judged against states the Sandpit should not have."""
    store = DecisionStore(pool)
    resets = SandpitResets(pool, None, LIVE_TOPICS)  # forgetting sends nothing: no producer
    batch_id = uuid.uuid4()
    reset = SandpitReset(reset_id=uuid.uuid4(), ao_id=AO, requested_by=f"ao:{AO}", requested_at=datetime.now(UTC))
    await store.record(batch_id, AO, False, _messages(1, "first"), [_state("3000000002", "A")])

    await resets._forget(reset, "the reset's causation")  # the store's part of `apply`

    again = await store.stored(batch_id)
    assert again is not None and again.published and again.messages == ()  # decided, nothing left to send
    assert await store.is_decided(batch_id)
    assert await store.existing_states(AO, [("3000000002", "60012345")]) == {}
