"""The Sandpit's PLR log keeps 30 days and its model keeps achievements for ever (report-sandpit finding 1): a replay
re-read its learners' "whole history" from the log's first kept offset and a rebuild loaded from it, silently dropping
every achievement whose event had expired. In the Sandpit both are now refused (409 SANDPIT_LOG_EXPIRED, nothing
started) while the PLR log no longer starts at offset 0 on some partition; live's log is kept for ever, and live is
never refused so (its replay does not even ask the log where it starts)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from aiokafka import TopicPartition

from lrs_contracts.codes import ProblemCode
from lrs_contracts.environments import Environment
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from plr_projector.api import admin_router, operation_problem
from plr_projector.consumer import Topics
from plr_projector.endpoints import projector_of
from plr_projector.operations import OperationError
from plr_projector.projection import PLR_TOPIC
from plr_projector.rebuild_jobs import EndedRebuild, Rebuilds
from plr_projector.replays import Replays, SandpitLogExpired, refuse_an_expired_sandpit_log

LEARNERS = "lrs.learner.events.v1"  # a shared topic the projector also reads: where it starts is not asked about


class _Probe:
    """The log: the PLR topic starts at `firsts` (offset 0 where not named); every partition ends at 500."""

    def __init__(self, firsts: dict[int, int]) -> None:
        self.firsts = firsts
        self.asked = 0

    async def beginning_offsets(self, partitions: list[TopicPartition]) -> dict[tuple[str, int], int]:
        self.asked += 1
        return {
            (tp.topic.removeprefix("sandpit."), tp.partition): self.firsts.get(tp.partition, 0)
            if tp.topic.endswith(PLR_TOPIC)
            else 7  # the shared topic started later: not the Sandpit's own log, not refused for
            for tp in partitions
        }

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[tuple[str, int], int]:
        return {(tp.topic.removeprefix("sandpit."), tp.partition): 500 for tp in partitions}


class _Started(Exception):
    """The pool was asked to record the operation: it was not refused."""


class _Pool:
    async def fetchval(self, query: str, *args: object) -> int:
        if "INSERT" in query:
            raise _Started
        return 1  # the next rebuild's id

    def acquire(self) -> Any:  # a rebuild makes its schema
        raise _Started


def _live(environment: Environment) -> Any:
    topics = Topics("", environment)
    return SimpleNamespace(
        topics=topics,
        partitions=[
            *(TopicPartition(topics.physical(PLR_TOPIC), partition) for partition in range(3)),
            TopicPartition(LEARNERS, 0),
        ],
        lock=asyncio.Lock(),
        positions={},
    )


def _replays(environment: Environment, probe: _Probe) -> Replays:
    return Replays(pool=_Pool(), live=_live(environment), probe=probe, bootstrap_servers="", chunk=1)  # type: ignore[arg-type]


def _rebuilds(environment: Environment, probe: _Probe) -> Rebuilds:
    return Rebuilds(pool=_Pool(), live=_live(environment), make_runner=None, probe=probe)  # type: ignore[arg-type]


async def _start(operation: str, environment: Environment, probe: _Probe) -> None:
    if operation == "replay":
        await _replays(environment, probe).start("2026-12-07T19:23:23Z", "operator:ops")
    else:
        await _rebuilds(environment, probe).start("operator:ops", workers=0)


def test_the_decision_refuses_the_sandpit_only_where_its_log_has_moved_on() -> None:
    refuse_an_expired_sandpit_log(Environment.SANDPIT, {0: 0, 1: 0}, "replay")  # whole: nothing said
    refuse_an_expired_sandpit_log(Environment.LIVE, {0: 30, 1: 63}, "replay")  # live: never refused
    with pytest.raises(SandpitLogExpired) as refused:
        refuse_an_expired_sandpit_log(Environment.SANDPIT, {0: 30, 1: 0, 2: 1_049}, "rebuild")

    assert refused.value.code is ProblemCode.SANDPIT_LOG_EXPIRED
    assert refused.value.detail == (
        "The Sandpit's PLR log keeps 30 days (it now starts at offset 30 on partition 0, offset 1,049 on partition 2):"
        " re-projecting would drop the achievements recorded before it; reset the AOs' Sandpits instead. No rebuild"
        " was started."
    )


@pytest.mark.parametrize("operation", ["replay", "rebuild"])
async def test_a_sandpit_replay_or_rebuild_is_refused_before_anything_starts(operation: str) -> None:
    probe = _Probe({1: 63})
    with pytest.raises(SandpitLogExpired) as refused:
        await _start(operation, Environment.SANDPIT, probe)

    assert "(it now starts at offset 63 on partition 1)" in refused.value.detail
    assert refused.value.detail.endswith(f"No {operation} was started.")


@pytest.mark.parametrize("operation", ["replay", "rebuild"])
async def test_a_sandpit_log_still_whole_and_live_are_not_refused(operation: str) -> None:
    for environment, firsts in ((Environment.SANDPIT, {}), (Environment.LIVE, {0: 30, 1: 63})):
        probe = _Probe(firsts)
        with pytest.raises(_Started):
            await _start(operation, environment, probe)
        if operation == "replay" and environment is Environment.LIVE:
            assert probe.asked == 0  # live's replay is as it was: the log's start is not asked


async def test_the_refusal_is_a_409_with_its_code() -> None:
    replays = _replays(Environment.SANDPIT, _Probe({0: 30}))
    app = build_app("plr-projector", title="PLR", description="", lifespan=noop_lifespan)
    app.add_exception_handler(OperationError, operation_problem)
    app.include_router(admin_router)
    app.dependency_overrides[projector_of] = lambda: SimpleNamespace(replays=replays, takes_operator_actions=True)
    app.dependency_overrides[current_principal] = lambda: Principal.parse("operator:ops")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        answer = await client.post("/v1/admin/replay", params={"from": "2026-12-07T19:23:23Z"})

    assert answer.status_code == 409
    problem = answer.json()
    assert problem["code"] == "SANDPIT_LOG_EXPIRED"
    assert problem["detail"].startswith(
        "The Sandpit's PLR log keeps 30 days (it now starts at offset 30 on partition 0)"
    )


@pytest.mark.parametrize(
    ("environment", "model"),
    [(Environment.SANDPIT, "the Sandpit's current model"), (Environment.LIVE, "the live model")],
)
async def test_the_rebuild_refusals_name_the_sandpits_own_model(environment: Environment, model: str) -> None:
    """Report-sandpit finding 6: the projector's words under the Sandpit say its own model, not "live"."""
    rebuilds = _rebuilds(environment, _Probe({}))
    rebuilds._ended = EndedRebuild(3, "switched", "operator:ops", datetime(2026, 12, 7, tzinfo=UTC))

    with pytest.raises(OperationError) as refused:
        await rebuilds.compare()

    assert (
        refused.value.detail
        == f"No rebuild is running. Rebuild 3 was switched to by operator:ops: its model is {model}. Start a rebuild first."
    )
