"""Rebuild of the PLR from logs of growing size, through the projector's admin API.

One private log (the projector's topics under a fresh prefix, `PROJECTOR_TOPIC_PREFIX`) grows in
steps: for each size of the ladder (default 100,000, 300,000 and 1,000,000 `AchievementRecorded`
events) the events it lacks are produced as validation would, then the projector rebuilds it once
per worker count (default 1 and 2). The projector runs with `PROJECTOR_RUN_CONSUMER=false`, so its
live projection stays idle, and `PROJECTOR_OPERATOR_ACTIONS=true`, so it takes the rebuilds. Measured: from `POST /v1/admin/rebuild?workers=N` until `GET
/v1/admin/rebuild` says `caught_up` (loaded by the workers, keys and indexes built, tables logged,
the rebuild's runner at the targets); the time of each phase is taken from the polled status. The
rebuild is then abandoned (its schema dropped) before the next one.

From the runs: the rate at each size (does it hold as the log grows?), and a straight line through
(events, seconds) per worker count, extrapolated to 10^8 events. The baseline is plain aiokafka
reading the largest log.

With `profile`, the projector leaves its workers to others (`PROJECTOR_REBUILD_LAUNCH=external`,
as with a Kubernetes indexed Job) and the benchmark starts them under pyinstrument.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.baselines import delete_topics, kafka_consume
from bench.memory import sampling
from bench.processes import ROOT, ServiceProcess, free_port
from bench.system import ProfiledService, create_database, drop_database, issue_keys
from bench.workload import replay_events
from lrs_contracts import topics as contract_topics
from lrs_platform.kafka import ensure_topics, make_producer

PROJECTED = (contract_topics.PLR_EVENTS, contract_topics.LEARNER_EVENTS, contract_topics.CHALLENGE_EVENTS)
POLL_SECONDS = 0.25
EXTRAPOLATE_TO = 100_000_000


async def fill_log(bootstrap: str, topic: str, events: Iterator[tuple[bytes, bytes]], count: int) -> dict[str, Any]:
    """Produces the next `count` events as validation's producer would (idempotent, acks=all, gzip)."""
    producer = make_producer(bootstrap)
    await producer.start()
    started = time.perf_counter()
    size = 0
    try:
        pending = []
        for _ in range(count):
            key, value = next(events)
            size += len(value)
            pending.append(await producer.send(topic, value, key=key))
            if len(pending) >= 10_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return {
        "events": count,
        "mean_event_bytes": round(size / max(1, count)),
        "fill_s": round(time.perf_counter() - started, 1),
    }


def line_through(points: Sequence[tuple[int, float]]) -> tuple[float, float] | None:
    """Least-squares (fixed seconds, seconds per event) through (events, seconds); None for < 2 sizes."""
    sizes = {events for events, _ in points}
    if len(sizes) < 2:
        return None
    n = len(points)
    mean_x = sum(events for events, _ in points) / n
    mean_y = sum(seconds for _, seconds in points) / n
    slope = sum((events - mean_x) * (seconds - mean_y) for events, seconds in points) / sum(
        (events - mean_x) ** 2 for events, _ in points
    )
    return mean_y - slope * mean_x, slope


def scaling(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per worker count: the rate of the largest log against the smallest's, and the line's
    extrapolation to 10^8 events."""
    out: dict[str, Any] = {}
    for workers in sorted({run["workers"] for run in runs}):
        mine = sorted((run for run in runs if run["workers"] == workers), key=lambda run: run["events"])
        line = line_through([(run["events"], run["seconds"]) for run in mine])
        entry: dict[str, Any] = {
            "smallest": mine[0]["events"],
            "largest": mine[-1]["events"],
            "rate_ratio": round(mine[-1]["events_per_s"] / mine[0]["events_per_s"], 3) if len(mine) > 1 else None,
        }
        if line is not None:
            fixed, per_event = line
            entry.update(
                fixed_s=round(fixed, 2),
                us_per_event=round(per_event * 1e6, 2),
                hours_for_1e8=round((fixed + per_event * EXTRAPOLATE_TO) / 3600, 2),
            )
        out[str(workers)] = entry
    return out


@dataclasses.dataclass
class ReplaySetup:
    bootstrap: str
    database_url: str
    log_dir: Path
    prefix: str
    profile: bool


async def rebuild_benchmark(
    bootstrap: str,
    server_database_url: str,
    log_dir: Path,
    *,
    sizes: Sequence[int],
    workers: Sequence[int],
    learners: int,
    profile: bool = False,
) -> dict[str, Any]:
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    topics = [dataclasses.replace(topic, name=prefix + topic.name) for topic in PROJECTED]
    await ensure_topics(bootstrap, topics)
    plr_topic = prefix + contract_topics.PLR_EVENTS.name
    name = f"bench_replay_{uuid.uuid4().hex[:8]}"
    database_url = await create_database(server_database_url, name)
    setup = ReplaySetup(bootstrap, database_url, log_dir, prefix, profile)
    service: ServiceProcess | None = None
    runs: list[dict[str, Any]] = []
    fills: list[dict[str, Any]] = []
    try:
        events = replay_events(max(sizes), learners_count=learners)
        service = await _start_projector(setup)
        key = (await issue_keys(database_url, ["operator:bench"]))["operator:bench"]
        assert service.process is not None
        async with httpx.AsyncClient(
            base_url=service.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        ) as client:
            produced = 0
            for size in sorted(sizes):
                fills.append(await fill_log(bootstrap, plr_topic, events, size - produced))
                produced = size
                for count in workers:
                    runs.append(await _one_rebuild(setup, client, service.process.pid, size, count))
        baseline = await kafka_consume(bootstrap, plr_topic, produced)
    finally:
        if service is not None:
            service.stop()
        await drop_database(server_database_url, name)
        await delete_topics(bootstrap, [t.name for t in topics] + [t.dead_letters for t in topics])
    largest = max(sizes)
    headline = max((run for run in runs if run["events"] == largest), key=lambda run: run["workers"])
    return {
        "events": largest,
        "sizes": sorted(sizes),
        "workers": list(workers),
        "learners": learners,
        "fill": fills,
        "runs": runs,
        "scaling": scaling(runs),
        # the headline: the largest log with the most workers
        "events_per_s": headline["events_per_s"],
        "headline_workers": headline["workers"],
        "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
        "largest_process_rss_mb": max(run.get("largest_process_rss_mb", 0.0) for run in runs),
        "baseline_consume": baseline,
    }


async def _start_projector(setup: ReplaySetup) -> ServiceProcess:
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": setup.bootstrap,
        "DATABASE_URL": setup.database_url,
        "PROJECTOR_PORT": str(port),
        "PROJECTOR_LOG_JSON": "true",
        "PROJECTOR_TOPIC_PREFIX": setup.prefix,
        "PROJECTOR_RUN_CONSUMER": "false",
        "PROJECTOR_OPERATOR_ACTIONS": "true",  # no writer beside it: its rebuilds are the only ones
        **({"PROJECTOR_REBUILD_LAUNCH": "external"} if setup.profile else {}),
    }
    log = setup.log_dir / "replay-plr-projector.log"
    service = (
        ProfiledService("plr-projector", port, env, log, profile_path=setup.log_dir / "replay.pyinstrument.txt")
        if setup.profile
        else ServiceProcess("plr-projector", port, env, log)
    )
    service.start()
    await service.wait_ready()
    return service


async def _one_rebuild(
    setup: ReplaySetup, client: httpx.AsyncClient, pid: int, events: int, workers: int
) -> dict[str, Any]:
    phases: dict[str, float] = {}
    profiled: list[subprocess.Popen[bytes]] = []
    async with sampling({"plr-projector": pid}) as memory:
        started = time.perf_counter()
        response = await client.post("/v1/admin/rebuild", params={"workers": workers})
        if response.status_code != 202:
            raise RuntimeError(f"rebuild start answered {response.status_code}: {response.text[:300]}")
        status = response.json()
        phases[status["phase"]] = 0.0
        if setup.profile:
            profiled = [_profiled_worker(setup, status["rebuild_id"], events, workers, n) for n in range(workers)]
        try:
            status = await _until_caught_up(client, phases, started, within=3_600)
        finally:
            for process in profiled:
                await asyncio.to_thread(process.wait, 60)
        seconds = time.perf_counter() - started
    rebuilt = await _rebuilt_rows(setup.database_url, status["schema"])
    abandoned = await client.delete("/v1/admin/rebuild")
    if abandoned.status_code != 200:
        raise RuntimeError(f"rebuild abandon answered {abandoned.status_code}: {abandoned.text[:300]}")
    if rebuilt["parked"] or rebuilt["history"] < events * 0.999:  # (a random key may repeat)
        raise RuntimeError(f"the rebuild of {events:,} events wrote {rebuilt}")
    print(f"[bench] rebuild of {events:,} events, {workers} worker(s): {events / seconds:,.0f}/s", file=sys.stderr)
    return {
        "events": events,
        "workers": workers,
        "seconds": round(seconds, 2),
        "events_per_s": round(events / seconds),
        "phases_s": _durations(phases, seconds),
        "peak_rss_mb": memory.peak_mb()["plr-projector"],  # the projector and its worker processes together
        "largest_process_rss_mb": memory.largest_process_mb()["plr-projector"],  # the projector or one worker
        # what the workers themselves used, whatever else ran on the machine meanwhile
        "worker_cpu_us_per_event": round(sum(w["cpu_seconds"] for w in status["workers"]) / events * 1e6, 1),
        "machine_cpu_s": memory.cpu.get("machine"),
        "rebuilt_rows": rebuilt,
    }


def _profiled_worker(
    setup: ReplaySetup, rebuild_id: int, events: int, workers: int, worker: int
) -> subprocess.Popen[bytes]:
    report = setup.log_dir / f"replay-{events}-{workers}w-worker{worker}.pyinstrument.txt"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": setup.bootstrap,
        "DATABASE_URL": setup.database_url,
        "PROJECTOR_TOPIC_PREFIX": setup.prefix,
        "PROJECTOR_LOG_JSON": "true",
        "JOB_COMPLETION_INDEX": str(worker),
    }
    log = (setup.log_dir / "replay-workers.log").open("ab")
    command = [sys.executable, "-m", "bench.profiled", "plr_projector.rebuild", str(report)]
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)


def _durations(phases: dict[str, float], total: float) -> dict[str, float]:
    """Seconds in each phase, from the moments the polled status first showed it."""
    order = sorted(phases.items(), key=lambda item: item[1])
    ends = [moment for _, moment in order[1:]] + [total]
    return {phase: round(end - start, 2) for (phase, start), end in zip(order, ends, strict=True)}


async def _rebuilt_rows(database_url: str, schema: str) -> dict[str, int]:
    """Every event must have become a history entry of the rebuilt model, none parked."""
    connection = await asyncpg.connect(database_url)
    try:
        counts = {
            table: int(await connection.fetchval(f'SELECT count(*) FROM "{schema}".{table}'))
            for table in ("achievements", "achievement_history", "parked")
        }
    finally:
        await connection.close()
    return {
        "achievements": counts["achievements"],
        "history": counts["achievement_history"],
        "parked": counts["parked"],
    }


async def _until_caught_up(
    client: httpx.AsyncClient, phases: dict[str, float], started: float, within: float
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        status: dict[str, Any] = (await client.get("/v1/admin/rebuild")).json()
        phases.setdefault(status.get("phase", "following"), time.perf_counter() - started)
        if status.get("state") == "caught_up":
            return status
        if status.get("state") == "failed":
            raise RuntimeError(f"rebuild failed: {status.get('last_error')}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"rebuild not caught up within {within}s: {status}")
        await asyncio.sleep(POLL_SECONDS)
