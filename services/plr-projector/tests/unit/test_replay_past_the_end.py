"""`lrs projector replay --from N` with N past the end of every partition (runbook walk, finding 9): the replay
answered "re-projected 0 learners (0 events)", as one that found learners with no events would, and an operator who
typed a wrong offset took the fix as re-projected. Its result now carries `past_end`, each partition's end."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from aiokafka import TopicPartition

from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from plr_projector.api import admin_router, operation_problem
from plr_projector.endpoints import projector_of
from plr_projector.operations import OperationError
from plr_projector.projection import PLR_TOPIC
from plr_projector.replays import Replays

ENDS = {0: 300, 1: 280}


class _Topics:
    def logical(self, topic: str) -> str:
        return topic


class _Probe:
    """The log's offsets for a time: none on any partition, as for a time after its last event."""

    async def offsets_for_time(self, partitions: list[TopicPartition], timestamp_ms: int) -> dict[int, int | None]:
        return dict.fromkeys((tp.partition for tp in partitions), None)


def _replays() -> Replays:
    live = SimpleNamespace(
        partitions=[TopicPartition(PLR_TOPIC, partition) for partition in ENDS],
        topics=_Topics(),
        lock=asyncio.Lock(),
        positions={(PLR_TOPIC, partition): end for partition, end in ENDS.items()},
    )
    replays = Replays(pool=None, live=live, probe=_Probe(), bootstrap_servers="127.0.0.1:9", chunk=10)  # type: ignore[arg-type]

    async def nothing(*_: object) -> AsyncIterator[Any]:  # the log read: no learner's event in the range
        return
        yield

    replays._read = nothing  # type: ignore[method-assign, assignment]
    return replays


@pytest.mark.parametrize("start", [120_000, 300, datetime(2099, 1, 1, tzinfo=UTC)])
async def test_a_start_past_the_end_of_every_partition_is_said_with_the_ends(start: int | datetime) -> None:
    result = await _replays()._replay(start)

    assert result["past_end"] == {"0": 300, "1": 280}
    assert (result["learners"], result["events"]) == (0, 0)


async def test_a_start_within_a_partition_that_finds_no_learner_is_not_past_the_end() -> None:
    result = await _replays()._replay(290)  # partition 0 holds 290..299: a read, finding no learner's event

    assert "past_end" not in result and (result["learners"], result["events"]) == (0, 0)


async def test_the_route_sends_the_ends_as_built() -> None:
    row = {
        "replay_id": 5,
        "requested": "120000",
        "requested_by": "operator:ops",
        "state": "finished",
        "result": json.dumps({"learners": 0, "events": 0, "seconds": 0.11, "past_end": {"0": 300, "1": 280}}),
        "started_at": datetime(2026, 12, 6, 17, 0, tzinfo=UTC),
        "finished_at": datetime(2026, 12, 6, 17, 0, tzinfo=UTC),
    }

    class Rows:
        async def fetchrow(self, query: str, *args: object) -> dict[str, Any]:
            return row

    replays = Replays(pool=Rows(), live=None, probe=None, bootstrap_servers="", chunk=1)  # type: ignore[arg-type]
    app = build_app("plr-projector", title="PLR", description="", lifespan=noop_lifespan)
    app.add_exception_handler(OperationError, operation_problem)
    app.include_router(admin_router)
    app.dependency_overrides[projector_of] = lambda: SimpleNamespace(replays=replays)
    app.dependency_overrides[current_principal] = lambda: Principal.parse("operator:ops")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        answer = (await client.get("/v1/admin/replay")).json()

    assert answer["result"] == {"learners": 0, "events": 0, "seconds": 0.11, "past_end": {"0": 300, "1": 280}}
