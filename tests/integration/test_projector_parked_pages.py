"""The projector's operator work on parked events reads them a page at a time (a code review): a retry or skip
read every parked event of its stream at once, the rebuild's recorded actions and a replay every parked event
of the log, each row with its whole message. Paged, each gives what one read of them all gave: the same rows,
the same results, in the same order."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import asyncpg
import pytest
from aiokafka import TopicPartition
from tests.support.databases import migrated_connection
from tests.support.projector import PLR, Events, dump_model, envelope_bytes, uln_for

from lrs_platform.database import create_pool
from plr_projector.consumer import Runner, Topics
from plr_projector.dead_letters import drain_stream
from plr_projector.operations import LogProbe
from plr_projector.projection import BatchChanges, Message, OperatorAction, Parked
from plr_projector.rebuild_jobs import Rebuilds
from plr_projector.replays import Replays
from plr_projector.store import MIGRATIONS, ReadModel

pytestmark = pytest.mark.integration

PAGE = 3
WHOLE = 1_000_000  # every parked event in one read, as before the pages
POISON = b"not an event"


@pytest.fixture
def page_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many rows each read of parked events returned."""
    sizes: list[int] = []
    for name in ("parked", "parked_firsts", "parked_offsets"):
        original = getattr(ReadModel, name)

        async def counted(self: ReadModel, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            rows = await _original(self, *args, **kwargs)
            sizes.append(len(rows))
            return rows

        monkeypatch.setattr(ReadModel, name, counted)
    return sizes


@pytest.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    for schema in ("paged", "whole"):
        async with migrated_connection(fresh_database_url, schema, MIGRATIONS):
            pass
    pool = await create_pool(fresh_database_url, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


def runner(pool: asyncpg.Pool, schema: str) -> Runner:
    return Runner(
        schema,
        ReadModel(schema),
        pool,
        "127.0.0.1:1",  # never started: no broker is asked
        Topics(),
        max_batch_records=100,
        poll_timeout_ms=100,
        dead_letter_producer=None,
    )


def message(partition: int, offset: int, uln: str, value: bytes) -> Message:
    return Message(PLR, partition, offset, uln.encode(), value, 1_700_000_000_000 + offset)


def learners_events(uln: str, grades: Sequence[str]) -> Iterator[bytes]:
    """The learner's achievement recorded with the first grade, then updated to each of the others."""
    events = Events()
    yield envelope_bytes(events.recorded(uln, grades[0]))
    for grade in grades[1:]:
        yield envelope_bytes(events.updated(uln, grade))


async def park(model: ReadModel, pool: asyncpg.Pool, messages: Sequence[Message]) -> None:
    """Each stream's first message parked as its poison, the rest held behind it."""
    streams: set[bytes | None] = set()
    parked = []
    for item in messages:
        reason = "blocked" if item.key in streams else "error"
        streams.add(item.key)
        parked.append(Parked(item, reason, "unreadable" if reason == "error" else None, None, None, item.value))
    async with pool.acquire() as connection, connection.transaction():
        await model.write(connection, BatchChanges(parked=parked), {}, publish_dead_letters=False)


async def test_a_skip_projects_its_stream_a_page_at_a_time_as_it_did_all_at_once(
    pool: asyncpg.Pool, fresh_database_url: str, page_sizes: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    learner, other = uln_for(1), uln_for(2)
    events = [POISON, *learners_events(learner, ["1", "2", "3"]), POISON, *learners_events(learner, ["4", "5", "6"])]
    # the skipped poison, three events, a second poison and three events held behind it: in pages of three, the
    # second page parks the poison and the third is held behind what the second parked
    stream = [message(0, 100 + n, learner, value) for n, value in enumerate(events)]
    held_elsewhere = [message(1, 5, other, POISON), message(1, 6, other, next(learners_events(other, ["9"])))]
    results = {}
    for schema, page in (("whole", WHOLE), ("paged", PAGE)):
        monkeypatch.setattr("plr_projector.dead_letters.PARKED_PAGE", page)
        live = runner(pool, schema)
        await park(live.model, pool, stream + held_elsewhere)
        live.actions[stream[0].position] = OperatorAction("skip")
        page_sizes.clear()
        results[schema] = await drain_stream(live, learner, PLR, "operator:ops-tests")
        assert live.stats.batches == 1  # one retry accounted as one batch, as before

    assert page_sizes and max(page_sizes) <= PAGE, f"reads of parked events returned {page_sizes} rows"
    assert results["paged"] == results["whole"]
    [result] = results["paged"]
    assert (result["applied"], result["skipped"], result["still_parked"]) == (3, 1, 4)
    assert result["error"]  # the second poison's
    paged, whole = await dump_model(fresh_database_url, "paged"), await dump_model(fresh_database_url, "whole")
    assert paged == whole
    assert [row[2] for row in paged["parked"]] == [104, 105, 106, 107, 5, 6]


async def test_the_rebuilds_recorded_actions_read_the_parked_streams_a_page_at_a_time(
    pool: asyncpg.Pool, fresh_database_url: str, page_sizes: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    ulns = [uln_for(10 + n) for n in range(7)]
    parked = [
        message(0, 10 * n + step, uln, value)
        for n, uln in enumerate(ulns)
        for step, value in enumerate([POISON, *learners_events(uln, ["6", "7"])])
    ]
    skipped = {ulns[n].encode() for n in (0, 3, 4, 6)}  # on both sides of each page's end
    results = {}
    for schema, page in (("whole", WHOLE), ("paged", PAGE)):
        monkeypatch.setattr("plr_projector.rebuild_jobs.PARKED_PAGE", page)
        monkeypatch.setattr("plr_projector.dead_letters.PARKED_PAGE", page)
        rebuild = runner(pool, schema)
        await park(rebuild.model, pool, parked)
        rebuild.actions.update(
            {item.position: OperatorAction("skip") for item in parked if item.value == POISON and item.key in skipped}
        )
        rebuilds = Rebuilds(pool, runner(pool, "plr"), no_runner, LogProbe("127.0.0.1:1", Topics()))
        page_sizes.clear()
        await rebuilds._apply_recorded_actions(rebuild)
        results[schema] = rebuild.stats.batches

    assert page_sizes and max(page_sizes) <= PAGE, f"reads of parked events returned {page_sizes} rows"
    assert results == {"whole": 4, "paged": 4}
    paged, whole = await dump_model(fresh_database_url, "paged"), await dump_model(fresh_database_url, "whole")
    assert paged == whole
    assert {row[3].encode() for row in paged["parked"]} == {uln.encode() for uln in ulns} - skipped


def no_runner(schema: str, model: ReadModel, publishes: bool) -> Runner:
    raise AssertionError("no rebuild starts here")


async def test_a_replay_reads_the_parked_events_a_page_at_a_time_and_leaves_out_what_it_left_out_before(
    pool: asyncpg.Pool, fresh_database_url: str, page_sizes: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    learner, other = uln_for(30), uln_for(31)
    log = [message(0, offset, learner, value) for offset, value in enumerate(learners_events(learner, "0123456789"))]
    parked = [log[2], log[5], log[6], log[9], message(0, 20, other, POISON), message(0, 21, other, POISON)]
    parked += [message(1, 3, other, POISON), message(1, 4, other, POISON)]

    async def read(
        partitions: list[TopicPartition], starts: dict[int, int], ends: dict[int, int]
    ) -> AsyncIterator[Message]:
        for item in log:
            if starts.get(item.partition, 0) <= item.offset < ends.get(item.partition, 0):
                yield item

    results = {}
    for schema, page in (("whole", WHOLE), ("paged", 2)):
        monkeypatch.setattr("plr_projector.replays.PARKED_PAGE", page)
        live = runner(pool, schema)
        await park(live.model, pool, parked)
        live._partitions = [TopicPartition(PLR, 0)]
        live.positions = {(PLR, 0): len(log)}
        replays = Replays(pool, live, LogProbe("127.0.0.1:1", Topics()), "127.0.0.1:1", chunk=3)
        monkeypatch.setattr(replays, "_read", read)
        page_sizes.clear()
        result = await replays._replay(0)
        results[schema] = {key: value for key, value in result.items() if key != "seconds"}

    assert page_sizes and max(page_sizes) <= 2, f"reads of parked events returned {page_sizes} rows"
    assert results["paged"] == results["whole"] == {"learners": 1, "events": 6}
    paged, whole = await dump_model(fresh_database_url, "paged"), await dump_model(fresh_database_url, "whole")
    assert paged == whole
    assert await pool.fetchval('SELECT grade FROM "paged".achievements') == "8"  # the last not parked: 9 is
