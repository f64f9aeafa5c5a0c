"""An operator's retry or skip against PostgreSQL: one unit of the parked table, its copies sent after it commits.

Runs where PostgreSQL is given (`DATABASE_URL`, as `scripts/dev/with-infra.sh` sets it); skipped elsewhere."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError
from tests.support.databases import create_database, migrated_connection, unique_name
from tests.support.waiting import eventually

from lrs_contracts.dead_letters import DeadLetter, Headers
from lrs_platform.consumer import Message, PoisonGuard, RetryPolicy
from lrs_platform.database import create_pool
from lrs_platform.parking import DeadLetterAction, DeadLetterOffice, ParkedMessages

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="needs PostgreSQL (DATABASE_URL)"),
]

SCHEMA, CONSUMER, TOPIC = "notifier_parked", "notifier.replay-unit", "lrs.batch.outcomes.v1"
QUICK = RetryPolicy(base_seconds=0.01, max_seconds=0.05)


@pytest.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    url = await create_database(os.environ["DATABASE_URL"], unique_name("replay"))
    async with migrated_connection(url, SCHEMA, "lrs_platform.parking_migrations"):
        pass
    made = await create_pool(url, max_size=4)
    try:
        yield made
    finally:
        async with asyncio.timeout(30):
            await made.close()


class Handler:
    """Refuses values containing b'poison'; fails transiently (the database away) once for each value in `blips`."""

    def __init__(self, *blips: bytes) -> None:
        self.applied: list[bytes] = []
        self.blips = list(blips)

    async def __call__(self, messages: Sequence[Message]) -> None:
        for handled in messages:
            if b"poison" in (handled.value or b""):
                raise ValueError("cannot apply")
            if handled.value in self.blips:
                self.blips.remove(handled.value)
                raise ConnectionRefusedError("database away")
        self.applied.extend(handled.value or b"" for handled in messages)


def message(offset: int, value: bytes, key: bytes = b"batch-7") -> Message:
    return Message(TOPIC, 0, offset, key, value)


async def parked_rows(pool: asyncpg.Pool) -> list[tuple[int, str, bool]]:
    rows = await pool.fetch(f'SELECT "offset", reason, dlq_pending FROM {SCHEMA}.parked_messages ORDER BY "offset"')
    return [(row["offset"], row["reason"], row["dlq_pending"]) for row in rows]


async def park_stream(guard: PoisonGuard, *values: bytes) -> None:
    for offset, value in enumerate(values, start=1):
        await guard.apply([message(offset, value)])


async def test_a_skip_cut_short_by_a_transient_failure_leaves_the_stream_as_it_was_and_records_nothing(
    pool: asyncpg.Pool,
) -> None:
    """The skipped head was deleted, the message applied after it too, and the one cut short was left `blocked` at the
    stream's head with no poison before it, while `dead_letter_actions` had no row and the operator was told "try
    again later" (a review's probe): now nothing of it stays, and the skip made again is recorded once."""
    handler = Handler(b"k3")
    store = ParkedMessages(pool, SCHEMA)
    office = DeadLetterOffice(store, _nothing_sent)
    guard = PoisonGuard(CONSUMER, handler, office, QUICK)
    await park_stream(guard, b"k1-poison", b"k2", b"k3")
    before = await parked_rows(pool)
    [head, *_], _ = await office.listing(CONSUMER)

    with pytest.raises(ConnectionRefusedError):
        await office.skip(head.id, "operator:alice", "known bad row")
    assert await parked_rows(pool) == before == [(1, "error", False), (2, "blocked", False), (3, "blocked", False)]
    assert await office.actions(10) == []
    assert (await office.counts(CONSUMER)) == {"error": 1, "blocked": 2}

    done = await office.skip(head.id, "operator:alice", "known bad row")
    assert (done.skipped, done.applied, done.still_parked) == (1, 2, 0)
    assert await parked_rows(pool) == []
    [action] = await office.actions(10)
    assert (action.action, action.operator, action.offset, action.skipped, action.applied) == (
        "skip",
        "operator:alice",
        1,
        1,
        2,
    )
    assert handler.applied == [b"k2", b"k2", b"k3"]  # applied again: a consumer's effects are idempotent


class SlowHandler(Handler):
    """A handler as slow as a relay taking its time to answer: longer than the server's idle-in-transaction timeout."""

    async def __call__(self, messages: Sequence[Message]) -> None:
        if not any(b"poison" in (handled.value or b"") for handled in messages):
            await asyncio.sleep(1.5)
        await super().__call__(messages)


async def test_a_skip_outlasting_the_servers_idle_in_transaction_timeout_is_made_and_recorded(
    pool: asyncpg.Pool,
) -> None:
    """The skip's transaction waits idle while the handler works: a database set to end such transactions after a
    second ended it after the handler's effect, and the skip answered 503 at every try (a review's probe)."""
    database = await pool.fetchval("SELECT current_database()")
    await pool.execute(f"ALTER DATABASE \"{database}\" SET idle_in_transaction_session_timeout = '1s'")
    await pool.expire_connections()  # new sessions take the setting
    store = ParkedMessages(pool, SCHEMA)
    office = DeadLetterOffice(store, _nothing_sent)
    handler = SlowHandler()
    guard = PoisonGuard(CONSUMER, handler, office, QUICK)
    await park_stream(guard, b"k1-poison", b"k2")
    [head, *_], _ = await office.listing(CONSUMER)

    done = await office.skip(head.id, "operator:alice", "known bad row")

    assert (done.skipped, done.applied, done.still_parked) == (1, 1, 0)
    assert await parked_rows(pool) == []
    assert [action.action for action in await office.actions(10)] == ["skip"]


async def test_a_new_poisons_copy_is_sent_once_the_skip_has_committed_and_later_when_kafka_was_away(
    pool: asyncpg.Pool,
) -> None:
    sent: list[tuple[bytes | None, DeadLetter]] = []
    kafka = {"up": True}
    copied = asyncio.Event()

    async def publish(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        if not kafka["up"]:
            raise KafkaConnectionError()
        sent.append((value, DeadLetter.from_headers(headers)))
        copied.set()

    office = DeadLetterOffice(ParkedMessages(pool, SCHEMA), publish)
    guard = PoisonGuard(CONSUMER, Handler(), office, QUICK)
    await park_stream(guard, b"k1-poison", b"k2-poison", b"k3-poison", b"k4")
    [head, second, third, _], _ = await office.listing(CONSUMER)
    assert [letter.original_offset for _, letter in sent] == [1]

    # Kafka up: the new head's copy is on its DLQ by the time the skip answers
    done = await office.skip(head.id, "operator:ops", "bad data")
    assert (done.skipped, done.applied, done.still_parked, done.error) == (1, 0, 3, "ValueError: cannot apply")
    assert [letter.original_offset for _, letter in sent] == [1, 2]
    assert await parked_rows(pool) == [(2, "error", False), (3, "blocked", False), (4, "blocked", False)]

    # Kafka away: the skip is made and recorded, the copy waits in the table and goes once Kafka is back
    kafka["up"] = False
    copied.clear()
    done = await office.skip(second.id, "operator:ops", "bad data too")
    assert (done.skipped, done.still_parked) == (1, 2)
    assert await parked_rows(pool) == [(3, "error", True), (4, "blocked", False)]
    kafka["up"] = True
    async with asyncio.timeout(10):
        await copied.wait()

    async def copy_marked_sent() -> bool:
        return not (await parked_rows(pool))[0][2]

    await eventually(copy_marked_sent, within=10, what="the new poison's copy marked sent", every=0.01)
    assert [letter.original_offset for _, letter in sent] == [1, 2, 3]
    done = await office.skip(third.id, "operator:ops", "bad data three")
    assert (done.skipped, done.applied, done.still_parked) == (1, 1, 0)
    assert [action.offset for action in await office.actions(10)] == [3, 2, 1]


class HeldRecording(ParkedMessages):
    """The store, its `record_action` held until `go_on`: the moment between the replay's end and the commit."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        super().__init__(pool, schema)
        self.recording, self.go_on = asyncio.Event(), asyncio.Event()

    async def record_action(self, action: DeadLetterAction) -> None:
        self.recording.set()
        await self.go_on.wait()
        await super().record_action(action)


async def test_a_message_of_the_stream_read_before_the_retry_commits_is_applied_after_it_not_parked(
    pool: asyncpg.Pool,
) -> None:
    """The guard's lock is let go as the replay ends, before the office records the action and commits: this replica's
    consumer reading the stream then saw it still held and must wait for the commit, not park the message behind a
    poison the retry has removed (DESIGN.md §5)."""
    handler = Handler()
    store = HeldRecording(pool, SCHEMA)
    office = DeadLetterOffice(store, _nothing_sent)
    guard = PoisonGuard(CONSUMER, handler, office, QUICK)
    await park_stream(guard, b"k1-poison")
    [head], _ = await office.listing(CONSUMER)
    await pool.execute(f"UPDATE {SCHEMA}.parked_messages SET value = 'k1' WHERE id = $1", head.id)  # the fix

    retry = asyncio.create_task(office.retry(head.id, "operator:ops"))
    try:
        async with asyncio.timeout(10):
            await store.recording.wait()
            next_one = asyncio.create_task(guard.apply([message(2, b"k2")]))

            async def waiting_or_done() -> bool:
                return next_one.done() or await _waiting_for_a_lock(pool)

            await eventually(waiting_or_done, within=10, what="the consumer waiting for the stream", every=0.01)
            store.go_on.set()
            result = await retry
            await next_one
    finally:
        store.go_on.set()
        retry.cancel()
    assert (result.applied, result.still_parked) == (1, 0)
    assert handler.applied == [b"k1", b"k2"]
    assert await parked_rows(pool) == []


async def _waiting_for_a_lock(pool: asyncpg.Pool) -> bool:
    waiting: int = await pool.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = ("
        "SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    return waiting > 0


async def _nothing_sent(*_: Any) -> None:
    return None


async def test_a_login_refused_for_a_while_is_waited_out_and_parks_nothing(pool: asyncpg.Pool) -> None:
    """The service's role refused its login (a credential rotated) as its pooled connections were renewed: each
    message tried meanwhile was parked as poison and its key held, once PostgreSQL let the service in again."""
    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + await pool.fetchval("SELECT current_database()")
    role = unique_name("svc")
    await pool.execute(f"CREATE ROLE {role} LOGIN")
    service = await create_pool(url.replace("//postgres@", f"//{role}@", 1), min_size=0, max_size=2)
    applied: list[bytes] = []
    refused: list[str] = []

    async def handler(messages: Sequence[Message]) -> None:
        try:
            await service.fetchval("SELECT 1")
        except Exception as error:
            refused.append(type(error).__name__)
            raise
        applied.extend(handled.value or b"" for handled in messages)

    office = DeadLetterOffice(ParkedMessages(pool, SCHEMA), _nothing_sent)
    guard = PoisonGuard(CONSUMER, handler, office, QUICK)
    try:
        await guard.apply([message(1, b"a1")])
        await pool.execute(f"ALTER ROLE {role} NOLOGIN")
        await pool.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role)
        await service.expire_connections()
        applying = asyncio.create_task(guard.apply([message(2, b"a2"), message(3, b"b1", key=b"batch-8")]))

        async def refused_long_or_done() -> bool:
            # more refusals than it took to park both messages as poison (a batch's attempt, then three each)
            return len(refused) >= 8 or applying.done()

        await eventually(refused_long_or_done, within=10, what="eight refused logins", every=0.01)
        assert not applying.done()  # waiting it out, as for a database away
        assert set(refused) == {"InvalidAuthorizationSpecificationError"}
        await pool.execute(f"ALTER ROLE {role} LOGIN")
        async with asyncio.timeout(10):
            await applying
    finally:
        await service.close()
        await pool.execute(f"DROP ROLE {role}")
    assert applied == [b"a1", b"a2", b"b1"]
    assert await parked_rows(pool) == []
