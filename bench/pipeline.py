"""Batches through the running system, timed at each stage boundary.

For one batch (all times wall-clock, `time.time()`, so they line up with the services' log stamps):
- `posted`: the POST /v1/batches request starts;
- `accepted`: ingest answered 202 (the whole batch is committed to Kafka);
- `decided`: validation committed its Kafka transaction of events + outcomes (the timestamp of its
  `batch_decided` log line, written right after the commit);
- `viewed`: the batch view says completed (one batch: GET /v1/batches/{id}?wait_until_decided=30;
  the sustained run: the AO's batch list, polled twice a second);
- `readable`: GET /v1/learners/{uln}/plr?after_batch={id} answered 200 for an accepted learner of the
  batch. The projector answers that only once an event of the batch is projected *and* its stored
  offsets have reached the end of the PLR log as of that moment; the batch's events are one Kafka
  transaction, so at that point every accepted record of the batch is readable. A sample of accepted
  records (`probes`) is then read back to check it.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.system import BenchSystem
from bench.workload import BenchBatch
from lrs_domain.identifiers import display_qan

DECIDED = ("completed", "failed", "abandoned")
"""Final statuses: an abandoned batch (decision 0103) will never be decided, and stops the run at once."""


class PipelineError(RuntimeError):
    """The system did not do what the benchmark needs (a refused batch, a timeout, a missing record)."""


@dataclass
class BatchTiming:
    ao_id: str
    reference: str
    records: int
    expected_rejected: int
    batch_id: str = ""
    posted: float = 0.0
    accepted: float = 0.0
    decided: float | None = None
    viewed: float | None = None
    readable: float | None = None
    status: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    ingest_ms: float | None = None
    validation_ms: float | None = None
    probes_found: int = 0
    probes: int = 0

    @property
    def latency(self) -> float | None:
        return None if self.readable is None else self.readable - self.posted

    def stages(self) -> dict[str, float | None]:
        def span(start: float | None, end: float | None) -> float | None:
            return None if start is None or end is None else round(end - start, 3)

        return {
            "ingest_s": span(self.posted, self.accepted),
            "validation_s": span(self.accepted, self.decided),
            "projection_s": span(self.decided, self.readable),
            "batch_view_s": span(self.posted, self.viewed),
            "end_to_end_s": span(self.posted, self.readable),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "ao_id": self.ao_id,
            "reference": self.reference,
            "batch_id": self.batch_id,
            "records": self.records,
            "status": self.status,
            "counts": self.counts,
            **self.stages(),
            "ingest_service_ms": self.ingest_ms,
            "validation_service_ms": self.validation_ms,
            "probes_found": f"{self.probes_found}/{self.probes}",
        }


def _record_view(timing: BatchTiming, view: dict[str, Any]) -> None:
    timing.viewed = time.time()
    timing.status = view["status"]
    timing.counts = {k: v for k, v in view["counts"].items() if isinstance(v, int)}
    if timing.status != "completed":
        raise PipelineError(
            f"batch {timing.reference} ({timing.batch_id}) {timing.status}: {view.get('failure_reason')}"
        )


class LogIndex:
    """Reads a service's JSON log as it grows and finds events by (event name, batch id)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._entries: dict[tuple[str, str], dict[str, Any]] = {}

    def _refresh(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as log:
            log.seek(self._offset)
            data = log.read()
        complete = data.rfind(b"\n") + 1
        self._offset += complete
        for line in data[:complete].splitlines():
            if not line.startswith(b"{"):
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if "batch_id" in entry and "event" in entry:
                self._entries[(entry["event"], entry["batch_id"])] = entry

    async def find(self, event: str, batch_id: str, within: float = 10.0) -> dict[str, Any] | None:
        deadline = time.monotonic() + within
        while True:
            self._refresh()
            entry = self._entries.get((event, batch_id))
            if entry is not None or time.monotonic() > deadline:
                return entry
            await asyncio.sleep(0.1)


def stamp(entry: dict[str, Any] | None) -> float | None:
    if entry is None or "timestamp" not in entry:
        return None
    return datetime.fromisoformat(str(entry["timestamp"]).replace("Z", "+00:00")).timestamp()


class Pipeline:
    """Submits batches and watches them through the system."""

    def __init__(self, system: BenchSystem, deadline_s: float = 300.0) -> None:
        self.system = system
        self.deadline_s = deadline_s
        self.ingest_log = LogIndex(system.log_path("ingest"))
        self.validation_log = LogIndex(system.log_path("validation"))

    async def register(self, learners_csv: str) -> int:
        async with self.system.client("validation", "operator:bench", timeout=600) as client:
            response = await client.post(
                "/v1/learners/import", content=learners_csv, headers={"Content-Type": "text/csv"}
            )
        if response.status_code != 201:
            raise PipelineError(f"learner import answered {response.status_code}: {response.text[:500]}")
        return int(response.json()["registered"])

    async def submit(self, batch: BenchBatch, timing: BatchTiming) -> None:
        key = f"bench-{uuid.uuid4()}"
        headers = {"Content-Type": "application/xml", "Idempotency-Key": key}
        timing.posted = time.time()
        async with self.system.client("ingest", f"ao:{batch.ao_id}") as client:
            for attempt in range(5):
                response = await client.post("/v1/batches", content=batch.content, headers=headers)
                if response.status_code == 202:
                    break
                if response.status_code not in (409, 503) or attempt == 4:
                    raise PipelineError(f"ingest answered {response.status_code}: {response.text[:500]}")
                # Kafka busy or the same key still publishing: the documented answer is to retry.
                await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
        timing.accepted = time.time()
        timing.batch_id = str(response.json()["batch_id"])

    async def watch_view(self, batch: BenchBatch, timing: BatchTiming) -> None:
        deadline = time.monotonic() + self.deadline_s
        async with self.system.client("ingest", f"ao:{batch.ao_id}") as client:
            while True:
                response = await client.get(f"/v1/batches/{timing.batch_id}", params={"wait_until_decided": 30})
                view = response.json()
                if response.status_code == 200 and view["status"] in DECIDED:
                    break
                if time.monotonic() > deadline:
                    raise PipelineError(f"batch {timing.batch_id} not decided in {self.deadline_s}s: {view}")
        _record_view(timing, view)

    async def watch_views(self, ao_id: str, timings: Sequence[BatchTiming], done: asyncio.Event) -> None:
        """Follows an AO's batches in its batch list (GET /v1/batches), twice a second: one request
        for all of them, where a long poll per batch would add fifty waiting requests to ingest."""
        async with self.system.client("ingest", f"ao:{ao_id}") as client:
            while True:
                waiting = {t.batch_id: t for t in timings if t.ao_id == ao_id and t.batch_id and not t.status}
                if not waiting and done.is_set():
                    return
                if waiting:
                    page = (await client.get("/v1/batches", params={"page_size": 200})).json()
                    for view in page["items"]:
                        timing = waiting.get(str(view["batch_id"]))
                        if timing is not None and view["status"] in DECIDED:
                            _record_view(timing, view)
                late = [
                    t.batch_id for t in waiting.values() if not t.status and time.time() - t.accepted > self.deadline_s
                ]
                if late:
                    raise PipelineError(f"{ao_id}: batches not decided within {self.deadline_s}s of acceptance: {late}")
                await asyncio.sleep(0.5)

    async def wait_readable(self, batch: BenchBatch, timing: BatchTiming) -> None:
        uln = batch.accepted_ulns[0]
        deadline = time.monotonic() + self.deadline_s
        async with self.system.client("plr-projector", "operator:bench") as client:
            while True:
                response = await client.get(
                    f"/v1/learners/{uln}/plr", params={"after_batch": timing.batch_id, "wait_ms": 10_000}
                )
                if response.status_code == 200:
                    timing.readable = time.time()
                    return
                if response.status_code != 503:
                    raise PipelineError(f"PLR read answered {response.status_code}: {response.text[:300]}")
                if timing.status and timing.status != "completed":
                    raise PipelineError(f"batch {timing.reference} {timing.status}: nothing to read")
                if time.monotonic() > deadline:
                    raise PipelineError(f"batch {timing.batch_id} not on the PLR within {self.deadline_s}s")

    async def check_probes(self, batch: BenchBatch, timing: BatchTiming) -> None:
        """Reads back a sample of accepted records: each must be on its learner's PLR."""
        found = 0
        async with self.system.client("plr-projector", "operator:bench") as client:
            for uln, qualification_number, award_date in batch.probes:
                body = (await client.get(f"/v1/learners/{uln}/plr")).json()
                found += any(
                    event.get("awarding_organisation_id") == batch.ao_id
                    and event.get("subject_code") == display_qan(qualification_number)
                    and event.get("achievement_award_date") == award_date
                    for event in body.get("learning_events", [])
                )
        timing.probes, timing.probes_found = len(batch.probes), found
        if found != len(batch.probes):
            raise PipelineError(f"batch {timing.reference}: {found}/{len(batch.probes)} sampled records on the PLR")

    async def service_times(self, timing: BatchTiming) -> None:
        submitted = await self.ingest_log.find("batch_submitted", timing.batch_id)
        decided = await self.validation_log.find("batch_decided", timing.batch_id)
        timing.ingest_ms = submitted.get("ms") if submitted else None
        timing.validation_ms = decided.get("ms") if decided else None
        timing.decided = stamp(decided)

    async def one(self, batch: BenchBatch) -> BatchTiming:
        """Submits one batch and follows it until it is readable (the latency measurement)."""
        timing = BatchTiming(batch.ao_id, batch.reference, batch.records, batch.rejected)
        await self.submit(batch, timing)
        await asyncio.gather(self.watch_view(batch, timing), self.wait_readable(batch, timing))
        await self.service_times(timing)
        await self.check_probes(batch, timing)
        return timing

    async def many(self, batches_by_ao: Mapping[str, Sequence[BenchBatch]]) -> list[BatchTiming]:
        """One submitter per AO, each sending its next batch as soon as the last is accepted; a single
        reader follows the batches onto the PLR in acceptance order (one request in flight, so the
        measurement adds no load to the projector to speak of)."""
        accepted: asyncio.Queue[tuple[BenchBatch, BatchTiming]] = asyncio.Queue()
        timings: list[BatchTiming] = []
        all_submitted = asyncio.Event()
        total = sum(len(batches) for batches in batches_by_ao.values())

        async def submitter(batches: Sequence[BenchBatch]) -> None:
            for batch in batches:
                timing = BatchTiming(batch.ao_id, batch.reference, batch.records, batch.rejected)
                timings.append(timing)
                await self.submit(batch, timing)
                accepted.put_nowait((batch, timing))

        async def submitters() -> None:
            await asyncio.gather(*(submitter(batches) for batches in batches_by_ao.values()))
            all_submitted.set()

        async def reader() -> None:
            for _ in range(total):
                batch, timing = await accepted.get()
                await self.wait_readable(batch, timing)

        await asyncio.gather(
            submitters(), reader(), *(self.watch_views(ao_id, timings, all_submitted) for ao_id in batches_by_ao)
        )
        for timing in timings:
            await self.service_times(timing)
        lookup = {batch.reference: batch for batches in batches_by_ao.values() for batch in batches}
        for timing in timings[:: max(1, len(timings) // 5)]:
            await self.check_probes(lookup[timing.reference], timing)
        return timings


async def projector_counters(system: BenchSystem) -> dict[str, float]:
    """The live projection's applied PLR events and time spent in batch transactions (Prometheus)."""
    async with httpx.AsyncClient(base_url=system.url("plr-projector"), timeout=30) as client:
        text = (await client.get("/metrics")).text
    applied = seconds = 0.0
    for line in text.splitlines():
        if line.startswith("lrs_projector_events_total{") and 'projection="live"' in line and "applied" in line:
            applied += float(line.rsplit(" ", 1)[1])
        if line.startswith("lrs_projector_batch_seconds_sum{") and 'projection="live"' in line:
            seconds += float(line.rsplit(" ", 1)[1])
    return {"applied_events": applied, "batch_seconds": seconds}
