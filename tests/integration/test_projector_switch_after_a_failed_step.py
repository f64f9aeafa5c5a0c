"""A switch lined up while the rebuild's runner waits out the back-off of a failed step (a transient database error:
its consumer has read past what it committed, its lock is free) loses nothing: the line-up goes back to the stored
offsets first. It used to step on from the consumer's position, storing the offsets past events never applied, and the
switch made that gap the live model's, with no error, nothing parked and no lag (report-rebuild finding 1)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from tests.support.projector import (
    LEARNERS,
    PLR,
    Events,
    Record,
    create_topics,
    envelope_bytes,
    new_prefix,
    produce,
    registered,
    running_projector,
    stored_offsets,
    uln_for,
)
from tests.support.waiting import eventually

from lrs_platform.consumer import RetryPolicy

pytestmark = pytest.mark.integration

OPERATOR = "operator:ops-tests"
LEARNER_COUNT = 20


def _log(base: int) -> tuple[list[Record], list[str]]:
    records: list[Record] = []
    ulns = [uln_for(base + index) for index in range(LEARNER_COUNT)]
    events = Events(ao_id="RN5133")
    for index, uln in enumerate(ulns):
        records.append(Record(LEARNERS, uln, envelope_bytes(registered(uln), sequence=index * 10)))
        records.append(Record(PLR, uln, envelope_bytes(events.recorded(uln), sequence=index * 10 + 1)))
    return records, ulns


async def test_a_switch_while_the_rebuilds_runner_waits_out_a_failed_step_loses_no_event(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    base = uuid.uuid4().int % 50_000_000
    first, _ = _log(base)
    await produce(kafka_bootstrap, prefix, first)
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix) as app:

        async def projected(count: int) -> bool:
            return sum((await stored_offsets(fresh_database_url)).values()) >= count

        await eventually(lambda: projected(len(first)), within=60, what="live projection")
        start = await app.post(OPERATOR, "/v1/admin/rebuild", workers=0)
        assert start.status_code == 202, start.text

        async def rebuilt() -> bool:
            return bool((await app.get(OPERATOR, "/v1/admin/rebuild")).json()["state"] == "caught_up")

        await eventually(rebuilt, within=60, what="rebuild caught up")
        runner = app.app.state.projector.rebuilds.job.runner
        # its next step fails as a lost connection fails it, once; its back-off outlasts the test
        runner.attempts.policy = RetryPolicy(base_seconds=600, max_seconds=600)
        applying = runner._apply
        failed: list[int] = []

        async def fails_once(messages: list[Any], *arguments: Any, **options: Any) -> Any:
            if not failed and any(message.topic == PLR for message in messages):  # a poll of later achievements
                failed.append(len(messages))
                raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")
            return await applying(messages, *arguments, **options)

        runner._apply = fails_once
        later, later_ulns = _log(base + LEARNER_COUNT)
        await produce(kafka_bootstrap, prefix, later)

        async def stale() -> bool:
            return bool(failed) and bool(runner._stale)

        await eventually(stale, within=30, what="the rebuild's step failed, waiting out its back-off")
        await eventually(lambda: projected(len(first) + len(later)), within=60, what="the later events live")

        switched = await app.post(OPERATOR, "/v1/admin/rebuild/switch")
        assert switched.status_code == 200, switched.text

    connection = await asyncpg.connect(fresh_database_url)
    try:
        live = await connection.fetchval(
            "SELECT count(DISTINCT uln) FROM plr.achievements WHERE uln = ANY($1::text[])", later_ulns
        )
    finally:
        await connection.close()
    assert live == LEARNER_COUNT  # every later learner's achievement is in the model made live
