"""An `after_batch` read that finds none of the batch's events answers 503 PROJECTION_PENDING saying where to find
out why: ingest's batch route to an AO and an operator, who may read it; a learner or a provider, whom that route
refuses (403 "Batches are not open to learner callers"), is told what they can do instead."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiokafka import TopicPartition

from lrs_platform.identity import Principal
from lrs_platform.problems import ProblemError
from plr_projector.endpoints import Projector
from plr_projector.plr_routes import waited_for_writes
from plr_projector.projection import PLR_TOPIC
from plr_projector.read_your_writes import batch_scope

ULNS = ("1026893096",)


def _reader_that_has_seen_nothing_of_the_batch() -> Projector:
    @contextlib.asynccontextmanager
    async def acquire() -> AsyncIterator[object]:
        yield object()

    async def applied(*_args: Any, **_kwargs: Any) -> int:
        return 0

    async def stepped(timeout: float) -> None:
        raise AssertionError("a read with no wait left asks once")

    live = SimpleNamespace(
        partitions=[TopicPartition(PLR_TOPIC, 0)], model=SimpleNamespace(batch_events_applied=applied), stepped=stepped
    )
    return cast(
        Projector,
        SimpleNamespace(
            pool=SimpleNamespace(acquire=acquire),
            live=live,
            model=live.model,
            topics=SimpleNamespace(logical=lambda name: name),
            read_wait_max_ms=30_000,
        ),
    )


async def _pending_detail(principal: str) -> str:
    scope = batch_scope(Principal.parse(principal), ULNS)
    with pytest.raises(ProblemError) as pending:
        await waited_for_writes(_reader_that_has_seen_nothing_of_the_batch(), None, uuid.uuid4(), 0, scope=scope)
    problem = pending.value.problem
    assert (problem.status, problem.code) == (503, "PROJECTION_PENDING")
    assert "Retry-After" not in pending.value.headers
    assert problem.detail is not None
    return problem.detail


@pytest.mark.parametrize("principal", ["learner:1026893096", "provider:10000001"])
async def test_a_learner_or_provider_is_not_sent_to_the_batch_route_that_refuses_them(principal: str) -> None:
    detail = await _pending_detail(principal)

    assert "ingest" not in detail
    assert "GET /v1/batches" not in detail
    assert "ask the awarding organisation that sent the batch whether it completed" in detail


@pytest.mark.parametrize("principal", ["ao:RN9093", "operator:ops"])
async def test_an_ao_or_an_operator_is_sent_to_ingests_batch_route(principal: str) -> None:
    detail = await _pending_detail(principal)

    assert detail.endswith("ingest's GET /v1/batches/{id} says which.")
