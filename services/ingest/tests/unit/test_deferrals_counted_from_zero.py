"""`lrs_ingest_submissions_deferred_total{ao_id}` has an AO's series at 0 from its first submission since the start,
before any deferral: `increase()` then sees the AO's first deferral (a series born at 1 increases by nothing)."""

from __future__ import annotations

import uuid
from typing import Any

from prometheus_client import REGISTRY

from ingest.api import _deferred, _records_waiting_at_the_limit
from ingest.config import IngestSettings
from ingest.repository import Waiting
from lrs_platform.identity import Principal, PrincipalKind

METRIC = "lrs_ingest_submissions_deferred_total"


class Batches:
    """The AO's records waiting for their decision, as the deferral asks for them."""

    def __init__(self, waiting: int) -> None:
        self.waiting = waiting

    async def records_waiting(self, ao_id: str, *, publishing_seconds: float) -> Waiting:
        return Waiting(records=self.waiting, batches=1)

    async def find_by_dedup(self, ao_id: str, dedup_key: str) -> Any:
        return None


def _counted(ao_id: str) -> float | None:
    return REGISTRY.get_sample_value(METRIC, {"ao_id": ao_id})


async def test_an_aos_series_is_at_zero_from_its_first_submission_then_counts_its_deferrals() -> None:
    ao = Principal(PrincipalKind.AO, f"RN{uuid.uuid4().int % 10**8:08d}")
    settings = IngestSettings(max_waiting_records_per_ao=10)
    assert _counted(ao.id) is None

    assert await _records_waiting_at_the_limit(ao, Batches(waiting=3), settings, None) is None  # type: ignore[arg-type]
    assert _counted(ao.id) == 0.0  # let through, its series at 0

    waiting = await _records_waiting_at_the_limit(ao, Batches(waiting=10), settings, None)  # type: ignore[arg-type]
    assert (waiting, _counted(ao.id)) == (Waiting(10, 1), 0.0)  # at the limit, but a keyless file may yet be a replay
    assert _deferred(ao, Waiting(10, 1), settings).problem.status == 429
    assert _counted(ao.id) == 1.0
