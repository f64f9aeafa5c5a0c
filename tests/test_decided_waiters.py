"""Waiters for a batch's decision stop at once on an abandoned batch (decision 0105), naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from bench.pipeline import BatchTiming, Pipeline, PipelineError
from bench.system import BenchSystem
from bench.workload import BenchBatch
from tests.integration.plr_flow import decided_view

BATCH_ID = "0b5e8d1e-7c42-4a53-9a51-3f0c1d2e4b6a"
ABANDONED = {
    "batch_id": BATCH_ID,
    "status": "abandoned",
    "failure_reason": "The LRS could not process this batch. Submit the file again.",
    "counts": {"total": 0, "accepted": 0, "rejected": 0},
}


def test_a_decided_view_is_completed_or_failed_and_an_abandoned_one_fails_the_wait_naming_the_batch() -> None:
    assert decided_view({"batch_id": BATCH_ID, "status": "completed"})
    assert decided_view({"batch_id": BATCH_ID, "status": "failed"})
    assert not decided_view({"batch_id": BATCH_ID, "status": "validating"})
    with pytest.raises(AssertionError, match=f"batch {BATCH_ID} was abandoned"):
        decided_view(ABANDONED)


class IngestAnswering:
    """Stands in for the bench's running system: ingest answers every batch view with `view`."""

    def __init__(self, view: dict[str, Any], logs: Path) -> None:
        self.view = view
        self.logs = logs

    def log_path(self, service: str) -> Path:
        return self.logs / f"{service}.log"

    def client(self, service: str, principal: str) -> httpx.AsyncClient:
        transport = httpx.MockTransport(lambda request: httpx.Response(200, json=self.view))
        return httpx.AsyncClient(transport=transport, base_url="http://ingest")


async def test_the_bench_stops_on_an_abandoned_batch_naming_its_reference_id_and_status(tmp_path: Path) -> None:
    pipeline = Pipeline(cast(BenchSystem, IngestAnswering(ABANDONED, tmp_path)), deadline_s=5)
    timing = BatchTiming(ao_id="RN5133", reference="bench-1", records=10, expected_rejected=0, batch_id=BATCH_ID)
    batch = BenchBatch("RN5133", "bench-1", b"", 10, 0, (), ())

    with pytest.raises(PipelineError, match=rf"batch bench-1 \({BATCH_ID}\) abandoned: The LRS could not process"):
        await pipeline.watch_view(batch, timing)
    assert timing.status == "abandoned"
