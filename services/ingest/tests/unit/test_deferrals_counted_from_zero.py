"""`lrs_ingest_submissions_deferred_total{ao_id}` has an AO's series at 0 from its first submission since the start,
before any deferral: `increase()` then sees the AO's first deferral (a series born at 1 increases by nothing)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from prometheus_client import REGISTRY

from ingest.api import _refuse_while_too_many_wait
from ingest.config import IngestSettings
from lrs_platform.identity import Principal, PrincipalKind
from lrs_platform.problems import ProblemError

METRIC = "lrs_ingest_submissions_deferred_total"


class Batches:
    """The AO's records waiting for their decision, as the deferral asks for them."""

    def __init__(self, waiting: int) -> None:
        self.waiting = waiting

    async def records_waiting(self, ao_id: str, *, publishing_seconds: float) -> int:
        return self.waiting

    async def find_by_dedup(self, ao_id: str, dedup_key: str) -> Any:
        return None


def _deferred(ao_id: str) -> float | None:
    return REGISTRY.get_sample_value(METRIC, {"ao_id": ao_id})


async def test_an_aos_series_is_at_zero_from_its_first_submission_then_counts_its_deferrals() -> None:
    ao = Principal(PrincipalKind.AO, f"RN{uuid.uuid4().int % 10**8:08d}")
    settings = IngestSettings(max_waiting_records_per_ao=10)
    assert _deferred(ao.id) is None

    await _refuse_while_too_many_wait(ao, Batches(waiting=3), settings, None)  # type: ignore[arg-type]
    assert _deferred(ao.id) == 0.0  # let through, its series at 0

    with pytest.raises(ProblemError):
        await _refuse_while_too_many_wait(ao, Batches(waiting=10), settings, None)  # type: ignore[arg-type]
    assert _deferred(ao.id) == 1.0
