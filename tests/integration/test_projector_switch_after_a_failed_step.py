"""A switch lined up while the rebuild's runner waits out the back-off of a failed step (a transient database error:
its consumer has read past what it committed, its lock is free) loses nothing: the line-up goes back to the stored
offsets first. It used to step on from the consumer's position, storing the offsets past events never applied, and the
switch made that gap the live model's, with no error, nothing parked and no lag (report-rebuild finding 1)."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from tests.support.projector import PLR, produce, running_projector
from tests.support.rebuilds import (
    OPERATOR,
    caught_up_rebuild,
    learners_log,
    new_ulns,
    projected_live,
    topics_holding,
)
from tests.support.waiting import eventually

from lrs_platform.consumer import RetryPolicy

pytestmark = pytest.mark.integration

LEARNER_COUNT = 20


async def test_a_switch_while_the_rebuilds_runner_waits_out_a_failed_step_loses_no_event(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    ulns = new_ulns(2 * LEARNER_COUNT)
    first_ulns, later_ulns = ulns[:LEARNER_COUNT], ulns[LEARNER_COUNT:]
    first = learners_log(first_ulns)
    prefix = await topics_holding(kafka_bootstrap, first)
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix) as app:
        await projected_live(app, first)
        await caught_up_rebuild(app)
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
        later = learners_log(later_ulns)
        await produce(kafka_bootstrap, prefix, later)

        async def stale() -> bool:
            return bool(failed) and bool(runner._stale)

        await eventually(stale, within=30, what="the rebuild's step failed, waiting out its back-off")
        await projected_live(app, [*first, *later], what="the later events live")

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
