"""A reporting store rebuilt from empty with REPORTING_READ_PLR_LOG (docs/operations.md, "Rebuilding reporting's
store") catches up once the PLR log's reader has read the log's history too, not when the outcomes' group has: the
log takes hours where the outcomes take minutes, and each of its polls published the months it touched, partly read
(decision 0161). Real Kafka and PostgreSQL.

The PLR log's reader is held, deterministically, at the poll holding the second batch's event until the outcomes'
group has read past its ends and the catch-up has looked again: the log's reader being behind, as a long log keeps
it. The batches' events lie apart on one partition, more than a poll's records between each, so that each is read
by a poll of its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from asgi_lifespan import LifespanManager
from tests.integration.test_reporting import completed, envelope, random_ao
from tests.integration.test_reporting import produce as produce_outcomes
from tests.integration.test_reporting_mi import produce, recorded
from tests.support.kafka import pin_group_at_end
from tests.support.waiting import eventually

from lrs_contracts.outcomes import BatchCompleted
from lrs_contracts.registry import decode
from lrs_contracts.topics import BATCH_OUTCOMES, CHALLENGE_EVENTS, PLR_EVENTS, REPORTING_PLR_TIMELINESS
from lrs_platform.kafka import ensure_topics, make_consumer
from reporting import catch_up, stream
from reporting.bootstrap import create_app
from reporting.config import ReportingSettings

pytestmark = pytest.mark.integration

MAX_RECORDS = 50
"""The PLR log's reader's records per poll: as many other events lie between two batches' events."""
ULN = "1000000043"
"""Every event of the log here is the same learner's: one partition, read in the order written."""


def _at(day: int) -> datetime:
    return datetime(2023, 5, day, 10, 0, tzinfo=UTC)


class Checks:
    """The catch-up's looks at whether the groups have read past the ends: how many began, how many ended."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.began = self.ended = 0
        checking: Callable[..., Awaitable[bool]] = catch_up.read_past

        async def counted(*args: Any, **kwargs: Any) -> bool:
            self.began += 1
            try:
                return await checking(*args, **kwargs)
            finally:
                self.ended += 1

        monkeypatch.setattr(catch_up, "read_past", counted)
        monkeypatch.setattr(catch_up, "CHECK_SECONDS", 0.2)


def _hold_the_log_reader_at(
    batch: BatchCompleted, monkeypatch: pytest.MonkeyPatch
) -> tuple[asyncio.Event, asyncio.Event]:
    """The PLR log's reader stops at the poll holding `batch`'s event until let go, outside the consumer's lock (the
    outcomes are applied meanwhile): (reached, let_go)."""
    reached, let_go = asyncio.Event(), asyncio.Event()
    marker = str(batch.batch_id).encode()

    def consumer_held_at_the_batch(*args: Any, **kwargs: Any) -> AIOKafkaConsumer:
        consumer = make_consumer(*args, **kwargs)  # as the reader's own, which the stream module imports
        polling = consumer.getmany

        async def getmany(*partitions: TopicPartition, **options: Any) -> Any:
            polled = await polling(*partitions, **options)
            if any(marker in (record.value or b"") for records in polled.values() for record in records):
                reached.set()
                await let_go.wait()
            return polled

        consumer.getmany = getmany
        return consumer

    monkeypatch.setattr(stream, "make_consumer", consumer_held_at_the_batch)
    return reached, let_go


async def test_a_store_rebuilt_reading_the_plr_log_publishes_each_month_once_the_log_is_read_too(
    kafka_bootstrap: str, fresh_database_url: str, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ensure_topics(kafka_bootstrap)
    settings = ReportingSettings(
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        DATABASE_URL=fresh_database_url,
        app_id=f"reporting-catch-up-log-{uuid.uuid4().hex[:8]}",
        log_json=True,
        read_plr_log=True,
        plr_log_max_records=MAX_RECORDS,
    )
    await pin_group_at_end(kafka_bootstrap, settings.app_id, (BATCH_OUTCOMES, CHALLENGE_EVENTS))
    await pin_group_at_end(kafka_bootstrap, settings.plr_log_group, (PLR_EVENTS,))
    ao = random_ao()
    # Completions written before they named their qualifications (decision 0107): measured from the PLR log alone.
    # Issued Monday 15 May 2023; on the PLR 22 to 25 May: 5, 6, 7 and 8 working days.
    batches = [completed(ao, "2023-05-15", accepted=1, rejected=0) for _ in range(4)]
    log: list[tuple[str, Any, datetime]] = []
    for day, batch in enumerate(batches, start=22):
        if log:  # another batch's events, of a batch reporting holds nothing of: a poll's worth
            others = completed(random_ao(), "2023-05-15", accepted=1, rejected=0)
            log += [(ULN, recorded(others, ULN, "60000001"), _at(20))] * MAX_RECORDS
        log.append((ULN, recorded(batch, ULN, "60000001"), _at(day)))
    await produce(kafka_bootstrap, PLR_EVENTS.name, *log)
    await produce_outcomes(kafka_bootstrap, *[(batch.batch_id, envelope(batch)) for batch in batches])

    checks = Checks(monkeypatch)
    reached, let_go = _hold_the_log_reader_at(batches[1], monkeypatch)
    reader = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=None, enable_auto_commit=False)
    await reader.start()
    partitions = [TopicPartition(REPORTING_PLR_TIMELINESS.name, p) for p in range(REPORTING_PLR_TIMELINESS.partitions)]
    reader.assign(partitions)
    for partition, offset in (await reader.end_offsets(partitions)).items():
        reader.seek(partition, offset)
    key, seen = f"{ao}|2023-05".encode(), list[dict[str, Any]]()

    async def published() -> list[dict[str, Any]]:
        for records in (await reader.getmany(timeout_ms=200)).values():
            seen.extend(
                decode(record.value or b"")[1].model_dump(mode="json") for record in records if record.key == key
            )
        return seen

    app = create_app(settings)
    try:
        async with (
            LifespanManager(app, startup_timeout=60, shutdown_timeout=40),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting") as client,
        ):
            try:
                rows = await pool.fetch("SELECT topic, partition, end_offset FROM reporting.catching_up")
                outcome_ends = {
                    (row["topic"], row["partition"]): row["end_offset"]
                    for row in rows
                    if row["topic"] in (BATCH_OUTCOMES.name, CHALLENGE_EVENTS.name)
                }
                assert outcome_ends, "a store rebuilt from empty notes where the outcomes end"
                await eventually(
                    lambda: _true(reached.is_set()), within=120, what="the PLR log's reader at the second batch's event"
                )
                await eventually(
                    lambda: catch_up._group_read_past(kafka_bootstrap, settings.app_id, outcome_ends),
                    within=60,
                    what="the outcomes' group past where the outcomes ended",
                )
                looked = checks.began

                async def looked_again() -> bool:  # or caught up already, and looking no more
                    return checks.ended > looked or await publications(client) == "ok"

                await eventually(looked_again, within=30, what="the catch-up looking again")
                while_the_log_is_read = await publications(client)
            finally:
                let_go.set()

            async def the_month_measured() -> bool:
                return any(each["batches_measured"] == 4 for each in await published())

            await eventually(the_month_measured, within=120, what="the month's PLR timeliness, once caught up")

            async def caught_up() -> bool:  # said once the months are out: a moment after they are read here
                return await publications(client) == "ok"

            await eventually(caught_up, within=30, what="/readyz no longer catching up")
            # one key, one partition, in order: a publication of the month while the log was read would be here
            assert [(each["batches_measured"], each["worst_working_days"]) for each in seen] == [(4, 8)]
            assert while_the_log_is_read.startswith("catching up"), "caught up before the PLR log was read"
        assert await pool.fetchval("SELECT count(*) FROM reporting.catching_up") == 0
    finally:
        await reader.stop()


async def _true(value: bool) -> bool:
    return value


async def publications(client: httpx.AsyncClient) -> str:
    """What /readyz says of publications: "ok", or "catching up: ..." while the history is read again."""
    return str((await client.get("/readyz")).json()["checks"]["publications"])
