"""A message held back (`blocked`) that becomes its key's poison in an operator's retry or skip, against PostgreSQL:
it is named by its event as a poison parked at once is (its row's `event_id`/`event_type`, its copy's
`lrs-event-id`/`lrs-event-type` on `<topic>.dlq`), and the answer names it as the poison now (`poison_id`), the id
a next skip takes. A held-back message was parked without its event, and failing again only made it the poison: its
copy went to `<topic>.dlq` without the headers and `lrs dlq list --json` said `event_id: null`. It is parked with
its event now, read from its own envelope, so the list names it while it waits too.

Runs where PostgreSQL is given (`DATABASE_URL`, as `scripts/dev/with-infra.sh` sets it); skipped elsewhere."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest
from tests.support.databases import create_database, migrated_connection, unique_name

from lrs_contracts.dead_letters import DeadLetter, Headers
from lrs_platform.consumer import Message, PoisonGuard, RetryPolicy
from lrs_platform.database import create_pool
from lrs_platform.parking import DeadLetterOffice, ParkedMessages

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="needs PostgreSQL (DATABASE_URL)"),
]

SCHEMA, CONSUMER, TOPIC = "ingest_parked", "ingest.batch-view", "lrs.batch.outcomes.v1"
KEY = b"b3db5e2f-5a4e-4f0e-9d2c-1f0e3d2c1b0a"
QUICK = RetryPolicy(base_seconds=0.01, max_seconds=0.05)
STARTED = "lrs.batch.validation.started.v1"


@pytest.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    url = await create_database(os.environ["DATABASE_URL"], unique_name("newpoison"))
    async with migrated_connection(url, SCHEMA, "lrs_platform.parking_migrations"):
        pass
    made = await create_pool(url, max_size=4)
    try:
        yield made
    finally:
        async with asyncio.timeout(30):
            await made.close()


async def handler(messages: Sequence[Message]) -> None:
    """Refuses an event whose data says it is poison (a contract-breaking event, as the walk sent)."""
    for handled in messages:
        if json.loads(handled.value or b"{}")["data"].get("poison"):
            raise ValueError("invalid: record_count: Field required")


def event(event_id: uuid.UUID, *, poison: bool) -> bytes:
    return json.dumps({"event_id": str(event_id), "event_type": STARTED, "data": {"poison": poison}}).encode()


@pytest.mark.parametrize("action", ["retry", "skip"])
async def test_a_held_back_message_that_fails_again_is_the_poison_named_by_its_event_and_its_id(
    pool: asyncpg.Pool, action: str
) -> None:
    sent: list[tuple[str, Headers]] = []

    async def publish(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        sent.append((topic, headers))

    first_event, second_event = uuid.uuid4(), uuid.uuid4()
    office = DeadLetterOffice(ParkedMessages(pool, SCHEMA), publish)
    guard = PoisonGuard(CONSUMER, handler, office, QUICK)
    await guard.apply([Message(TOPIC, 0, 5, KEY, event(first_event, poison=True))])
    await guard.apply([Message(TOPIC, 0, 6, KEY, event(second_event, poison=True))])
    [first, second], _ = await office.listing(CONSUMER)
    assert (first.reason, first.event_id) == ("error", str(first_event))
    assert (second.reason, second.event_id, second.event_type) == ("blocked", str(second_event), STARTED)
    assert len(sent) == 1

    if action == "retry":  # the fix deployed: the first applies now, and the second fails
        await pool.execute(
            f"UPDATE {SCHEMA}.parked_messages SET value = $2 WHERE id = $1", first.id, event(first_event, poison=False)
        )
        result = await office.retry(first.id, "operator:ops")
        assert (result.applied, result.skipped) == (1, 0)
    else:
        result = await office.skip(first.id, "operator:ops", "a duplicate")
        assert (result.applied, result.skipped) == (0, 1)

    assert (result.still_parked, result.poison_id) == (1, second.id)
    assert result.view()["poison_id"] == second.id
    [now] = (await office.listing(CONSUMER))[0]
    assert now.id == second.id
    assert (now.reason, now.event_id, now.event_type) == ("error", str(second_event), STARTED)
    assert (now.view()["event_id"], now.view()["event_type"]) == (str(second_event), STARTED)
    topic, headers = sent[-1]
    letter = DeadLetter.from_headers(headers)
    assert (topic, letter.original_offset) == (f"{TOPIC}.dlq", 6)
    assert (letter.event_id, letter.event_type) == (str(second_event), STARTED)


async def test_a_poison_that_fails_again_keeps_the_event_it_was_parked_with(pool: asyncpg.Pool) -> None:
    """The poison parked at once had its event already: failing again keeps it, and the id the operator gave."""
    office = DeadLetterOffice(ParkedMessages(pool, SCHEMA), _nothing_sent)
    guard = PoisonGuard(CONSUMER, handler, office, QUICK)
    first_event = uuid.uuid4()
    await guard.apply([Message(TOPIC, 0, 5, KEY, event(first_event, poison=True))])
    [first], _ = await office.listing(CONSUMER)

    result = await office.retry(first.id, "operator:ops")

    assert (result.still_parked, result.poison_id) == (1, first.id)
    [again], _ = await office.listing(CONSUMER)
    assert (again.attempts, again.event_id, again.event_type) == (first.attempts + 1, str(first_event), STARTED)


async def test_a_held_back_message_is_listed_by_its_event_before_it_is_the_poison(pool: asyncpg.Pool) -> None:
    """A message held back behind its stream's poison has no dead letter: it is named by its own envelope, so
    `lrs dlq list --json` gives its event id while it waits (it said null until it became the poison). A value that
    is no envelope (not JSON) is parked all the same, with no event."""
    office = DeadLetterOffice(ParkedMessages(pool, SCHEMA), _nothing_sent)
    guard = PoisonGuard(CONSUMER, handler, office, QUICK)
    poison_event, held_event = uuid.uuid4(), uuid.uuid4()
    await guard.apply([Message(TOPIC, 0, 5, KEY, event(poison_event, poison=True))])

    await guard.apply(
        [Message(TOPIC, 0, 6, KEY, event(held_event, poison=False)), Message(TOPIC, 0, 7, KEY, b"not an envelope")]
    )

    [poison, held, unreadable], _ = await office.listing(CONSUMER)
    assert (poison.reason, poison.event_id) == ("error", str(poison_event))
    assert (held.reason, held.offset, held.event_id, held.event_type) == ("blocked", 6, str(held_event), STARTED)
    assert (held.view()["event_id"], held.view()["event_type"]) == (str(held_event), STARTED)
    assert (unreadable.reason, unreadable.offset) == ("blocked", 7)
    assert (unreadable.event_id, unreadable.event_type) == (None, None)


async def _nothing_sent(*_: object) -> None:
    return None
