"""The projector's `GET /v1/admin/dlq/{uln}/value` of a first parked event that had no value (a tombstone) is a 404
whose code, PARKED_VALUE_NOT_KEPT, is what `lrs dlq show` and the portal act on: its title is words for people."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest

from lrs_contracts.codes import ProblemCode
from lrs_platform.identity import Principal
from lrs_platform.parking import ParkedRow
from lrs_platform.parking_api import NO_VALUE
from lrs_platform.problems import ProblemError
from plr_projector import admin_routes
from plr_projector.endpoints import Projector

TOMBSTONE = ParkedRow(
    id=3,
    consumer="plr-projector",
    topic="lrs.plr.events.v1",
    partition=3,
    offset=28,
    key=b"1000000043",
    value=None,
    timestamp_ms=0,
    reason="error",
    error="invalid",
    attempts=1,
    event_id=None,
    event_type=None,
    parked_at=datetime(2026, 12, 5, tzinfo=UTC),
)


class FirstParked:
    async def head(self, key: str, topic: str | None) -> ParkedRow:
        return TOMBSTONE


def projector() -> Projector:
    topics = SimpleNamespace(dead_letters=lambda topic: f"{topic}.dlq", logical=lambda topic: topic)
    fake: Any = SimpleNamespace(dead_letters=FirstParked(), topics=topics)
    return cast(Projector, fake)


async def test_a_first_parked_event_without_a_value_is_answered_with_its_code() -> None:
    with pytest.raises(ProblemError) as refused:
        await admin_routes.dlq_value("1000000043", Principal.parse("operator:ops"), projector())

    problem = refused.value.problem
    assert (problem.status, problem.code, problem.title) == (404, ProblemCode.PARKED_VALUE_NOT_KEPT, NO_VALUE)
    assert problem.type == "/problems/PARKED_VALUE_NOT_KEPT"
    assert refused.value.headers["LRS-Parked-Offset"] == "28"
