"""A replay drops the copies of an event as live drops them, also where a copy is read in a later chunk
than its original (a replay refolds `max_batch_records` events at a time): a centre report published
again under the same Idempotency-Key, a retried Sandpit reset that publishes its erasures again."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from tests.support.projector import (
    Events,
    Record,
    centre_report,
    create_topics,
    dump_model,
    envelope_bytes,
    new_prefix,
    project,
    replay_finished,
    running_projector,
    uln_for,
)
from tests.support.waiting import eventually

from lrs_contracts.sandpit import SandpitAchievementsErased
from plr_projector.projection import PLR_TOPIC

pytestmark = pytest.mark.integration

OPERATOR = "operator:replay-tests"
CHUNK = 2  # the replay's chunk: each log below puts a copy in the chunk after its original's


async def _replayed_as_live(
    database_url: str, bootstrap: str, log: list[bytes], uln: str
) -> tuple[dict[str, list[tuple[Any, ...]]], dict[str, list[tuple[Any, ...]]]]:
    """The model as live projected `log` (one learner's), and as a replay from 0 then left it."""
    prefix = new_prefix()
    await create_topics(bootstrap, prefix)
    async with running_projector(database_url, bootstrap, prefix, max_batch_records=CHUNK) as app:
        await project(app, bootstrap, prefix, [Record(PLR_TOPIC, uln, value) for value in log])
        live = await dump_model(database_url)
        started = await app.post(OPERATOR, "/v1/admin/replay", **{"from": "0"})
        assert started.status_code == 202, started.text
        finished = await eventually(lambda: replay_finished(app, OPERATOR), within=60, what="replay finished")
        assert finished["state"] == "finished", finished
        assert finished["result"]["events"] == len(log)
        return live, await dump_model(database_url)


async def test_a_centre_report_published_again_a_chunk_later_is_dropped_by_the_replay(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    uln = uln_for(uuid.uuid4().int % 1_000_000)

    first, second = centre_report(uln, "Pass", 1), centre_report(uln, "Merit", 2)

    live, replayed = await _replayed_as_live(fresh_database_url, kafka_bootstrap, [first, second, first], uln)

    assert [row[7] for row in live["centre_achievements"]] == ["Merit"]
    assert replayed["centre_achievements"] == live["centre_achievements"]
    assert replayed == live


async def test_a_sandpit_reset_published_again_a_chunk_later_is_dropped_by_the_replay(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    uln = uln_for(uuid.uuid4().int % 1_000_000)
    events = Events()
    reset = envelope_bytes(SandpitAchievementsErased(reset_id=uuid.uuid4(), ao_id=events.ao_id, uln=uln))
    log = [
        envelope_bytes(events.recorded(uln, grade="5"), sequence=1),
        reset,
        envelope_bytes(events.recorded(uln, grade="8"), sequence=2),
        reset,
    ]

    live, replayed = await _replayed_as_live(fresh_database_url, kafka_bootstrap, log, uln)

    assert [row[9] for row in live["achievements"]] == ["8"]
    assert replayed["achievements"] == live["achievements"]
    assert replayed == live
