"""`python -m bench.run [--smoke]`: the benchmark on real Kafka and PostgreSQL (see docs/performance.md).

Needs KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL (`make bench` starts throw-away ones when unset). Run it
on a broker of its own: it puts ~550,000 records on the services' topics, which every validation
consumer group that starts later on that broker would decide again.

Writes bench/results/<YYYY-MM-DD>.json and prints a table. Exit status 1 when the pipeline failed
(a batch refused or failed, a timeout, a record missing from the PLR); timings never fail the run.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import sys
import time
import traceback
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from bench import baselines, report, workload
from bench.memory import infrastructure, sampling
from bench.pipeline import BatchTiming, Pipeline, projector_counters
from bench.processes import SERVICES
from bench.replay import rebuild_benchmark
from bench.system import create_database, drop_database, running_system, wait_until_quiet
from lrs_platform.keyring import KEYRING_KEY_VARIABLE, KeyringKey

RESULTS = Path(__file__).resolve().parent / "results"
REPLAY_FILL_PER_S = 10_000  # generating and producing the replay log (measured: ~12,500/s on 2 cores)
REPLAY_REBUILD_PER_S = 20_000  # for planning only: a cautious rate of one rebuild
REPLAY_FIXED_S = 30  # projector start, baseline consume, clean-up
REBUILD_FIXED_S = 10  # worker processes starting, indexes of a small log, the abandon


@dataclass(frozen=True)
class Plan:
    records: int = 10_000
    latency_runs: int = 5
    awarding_organisations: int = 5
    batches_per_ao: int = 10
    replay_sizes: tuple[int, ...] = (100_000, 300_000, 1_000_000)  # the log grows through these
    replay_workers: tuple[int, ...] = (1, 2)  # each size is rebuilt once per worker count
    replay_learners: int = 200_000
    replay_only: bool = False
    smoke: bool = False
    budget_s: float = 14 * 60  # the replay shrinks so that the whole run ends within this
    profile: str | None = None
    uln_salt: str = ""

    @property
    def learners(self) -> int:
        return self.records * (1 if self.smoke else 5)

    @property
    def sustained_batches(self) -> int:
        return 0 if self.smoke else self.awarding_organisations * self.batches_per_ao


SMOKE = Plan(records=1_000, latency_runs=1, replay_sizes=(2_000,), replay_workers=(2,), smoke=True)


# --- the run -------------------------------------------------------------------------------------


def progress(phase: str, started: float) -> str:
    print(f"[bench {time.time() - started:6.1f} s] {phase}", file=sys.stderr, flush=True)
    return phase


def machine() -> dict[str, Any]:
    cpu_model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model or platform.processor(),
        "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


async def postgres_version(database_url: str) -> str:
    connection = await asyncpg.connect(database_url)
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


def _groups(people: Sequence[workload.BenchLearner], size: int) -> list[Sequence[workload.BenchLearner]]:
    return [people[start : start + size] for start in range(0, len(people), size)]


def build_workload(
    plan: Plan,
) -> tuple[list[workload.BenchLearner], list[workload.BenchBatch], dict[str, list[workload.BenchBatch]]]:
    """Latency batches are Pearson's (sequence 0..n-1); each AO's sustained batches follow on."""
    people = workload.learners(plan.learners, uln_salt=plan.uln_salt)
    groups = _groups(people, plan.records)
    pearson = workload.AWARDING_ORGANISATIONS[0]
    latency = [workload.build_batch(pearson, n, groups[n % len(groups)]) for n in range(plan.latency_runs)]
    sustained: dict[str, list[workload.BenchBatch]] = {}
    for a, ao_id in enumerate(
        workload.AWARDING_ORGANISATIONS[: plan.awarding_organisations if plan.sustained_batches else 0]
    ):
        first = plan.latency_runs if ao_id == pearson else 0
        sustained[ao_id] = [
            workload.build_batch(ao_id, first + n, groups[(a + n) % len(groups)]) for n in range(plan.batches_per_ao)
        ]
    return people, latency, sustained


def replay_sizes_within_budget(plan: Plan, elapsed_s: float) -> tuple[int, ...]:
    """The replay's ladder: the plan's, without its largest sizes while filling the log and
    rebuilding it would end the run after `plan.budget_s` (the smallest size always stays)."""
    sizes = tuple(sorted(plan.replay_sizes))

    def seconds(ladder: tuple[int, ...]) -> float:
        rebuilds = sum(size / REPLAY_REBUILD_PER_S + REBUILD_FIXED_S for size in ladder) * len(plan.replay_workers)
        return REPLAY_FIXED_S + max(ladder) / REPLAY_FILL_PER_S + rebuilds

    while len(sizes) > 1 and elapsed_s + seconds(sizes) > plan.budget_s:
        sizes = sizes[:-1]
    return sizes


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarise_latency(timings: list[BatchTiming]) -> dict[str, Any]:
    stages: dict[str, dict[str, float]] = {}
    for stage in ("ingest_s", "validation_s", "projection_s", "batch_view_s", "end_to_end_s"):
        values = [v for t in timings if (v := t.stages()[stage]) is not None]
        if values:
            stages[stage] = {"p50": round(percentile(values, 0.5), 3), "p95": round(percentile(values, 0.95), 3)}
    return {"runs": [t.as_dict() for t in timings], "stages": stages, **stages.get("end_to_end_s", {})}


def summarise_sustained(
    timings: list[BatchTiming], before: dict[str, float], after: dict[str, float]
) -> dict[str, Any]:
    """Rates of the whole run and of each stage. A stage's window is the wall-clock span in which it
    handled the run's records (bounded below by its input); its busy time is the service's own time
    summed over the batches (ingest and validation: their log lines' `ms`, ingest's including the
    wait for its one-batch-at-a-time publish lock; projection: lrs_projector_batch_seconds)."""
    records = sum(t.records for t in timings)
    accepted = sum(t.counts.get("accepted", 0) for t in timings)
    posted = min(t.posted for t in timings)
    accepted_at = [t.accepted for t in timings]
    decided = [t.decided for t in timings if t.decided is not None] or [posted]  # no log lines: no window
    readable = max(t.readable or 0.0 for t in timings)
    projected = after["applied_events"] - before["applied_events"]

    def stage(count: float, start: float, end: float, busy_s: float) -> dict[str, Any]:
        return {
            "window_s": round(end - start, 2),
            "records_per_s": _rate(count, end - start),
            "busy_s": round(busy_s, 2),
            "busy_records_per_s": _rate(count, busy_s),
        }

    return {
        "batches": len(timings),
        "records": records,
        "accepted": accepted,
        "end_to_end_s": round(readable - posted, 2),
        "records_per_s": _rate(records, readable - posted),
        "accepted_per_s": _rate(accepted, readable - posted),
        "stages": {
            "ingest": stage(records, posted, max(accepted_at), sum(t.ingest_ms or 0 for t in timings) / 1000),
            "validation": stage(
                records, min(accepted_at), max(decided), sum(t.validation_ms or 0 for t in timings) / 1000
            ),
            "projection": {
                **stage(projected, min(decided), readable, after["batch_seconds"] - before["batch_seconds"]),
                "events_applied": int(projected),
            },
        },
        "batches_detail": [t.as_dict() for t in timings],
    }


def cpu_per_record(cpu_s: dict[str, float], records: int) -> dict[str, float]:
    """Each service's CPU time in a phase as µs per submitted record, all services' together, Kafka's,
    PostgreSQL's and the benchmark client's, and the whole machine's (`machine`: all of these and whatever
    else ran)."""
    if not records:
        return {}
    per_record = {name: round(seconds * 1_000_000 / records, 1) for name, seconds in cpu_s.items()}
    services = sum(seconds for name, seconds in cpu_s.items() if name in SERVICES)
    per_record["services"] = round(services * 1_000_000 / records, 1)
    return per_record


def _rate(count: float, seconds: float) -> int | None:
    return round(count / seconds) if seconds > 0 else None


async def run_pipeline(
    plan: Plan,
    result: dict[str, Any],
    kafka_bootstrap: str,
    database_url: str,
    log_dir: Path,
    *,
    started: float,
    phase: list[str],
) -> None:
    """Latency, sustained throughput and the baselines, into `result`; `phase[0]` says where it is."""
    phase[0] = progress("workload", started)
    clock = time.perf_counter()
    people, latency_batches, sustained_batches = build_workload(plan)
    sizes = [len(b.content) for b in latency_batches]
    result["workload"] = {
        "learners": len(people),
        "batch_bytes": max(sizes),
        "mean_record_bytes": round(sum(sizes) / sum(b.records for b in latency_batches)),
        "rejected_per_batch": latency_batches[0].rejected,
        "generate_s": round(time.perf_counter() - clock, 1),
    }
    phase[0] = progress("start", started)
    principals = ["operator:bench", *(f"ao:{ao}" for ao in workload.AWARDING_ORGANISATIONS)]
    clock = time.perf_counter()
    result["database"] = f"bench_{uuid.uuid4().hex[:10]}"
    system_database_url = await create_database(database_url, result["database"])
    async with running_system(
        kafka_bootstrap,
        system_database_url,
        log_dir,
        principals=principals,
        profile=plan.profile if plan.profile in SERVICES else None,
    ) as system:
        pipeline = Pipeline(system)
        result["setup"] = {"start_s": round(time.perf_counter() - clock, 1)}
        phase[0] = progress("register", started)
        clock = time.perf_counter()
        for chunk in _groups(people, 10_000):
            await pipeline.register(workload.learners_csv(chunk))
        result["setup"]["register_s"] = round(time.perf_counter() - clock, 1)
        result["setup"]["quiet"] = await wait_until_quiet(system)

        phase[0] = progress("latency", started)
        pids = {name: system.pid(name) for name in SERVICES}
        others = infrastructure(kafka_bootstrap, system_database_url)
        async with sampling(pids, others) as memory:
            timings = []
            for batch in latency_batches:
                timings.append(await pipeline.one(batch))
                await wait_until_quiet(system, within=60)
        result["latency"] = summarise_latency(timings)
        measured_batches = [t.batch_id for t in timings]
        result["memory_peak_mb"]["latency"] = memory.peak_mb()
        result["cpu_s"] = {"latency": memory.cpu}
        result["cpu_us_per_record"] = {"latency": cpu_per_record(memory.cpu, sum(t.records for t in timings))}

        if sustained_batches:
            phase[0] = progress("sustained", started)
            before = await projector_counters(system)
            async with sampling(pids, others) as memory:
                timings = await pipeline.many(sustained_batches)
            after = await projector_counters(system)
            result["sustained"] = summarise_sustained(timings, before, after)
            measured_batches = [t.batch_id for t in timings]
            result["memory_peak_mb"]["sustained"] = memory.peak_mb()
            result["cpu_s"]["sustained"] = memory.cpu
            result["cpu_us_per_record"]["sustained"] = cpu_per_record(memory.cpu, result["sustained"]["records"])
        result["emails_sent"] = system.smtp.messages

    # The same number of records of the same size, and the rows the projection wrote for them:
    # the sustained run's, or the latency batches' when there is no sustained run (smoke).
    phase[0] = progress("baselines", started)
    records = result["sustained"]["records"] if sustained_batches else sum(b.records for b in latency_batches)
    result["baselines"] = {
        "kafka": await baselines.kafka_round_trip(kafka_bootstrap, records, result["workload"]["mean_record_bytes"]),
        "postgres_copy": await baselines.postgres_copy(system_database_url, measured_batches),
    }
    await drop_database(database_url, result.pop("database"))


async def run(plan: Plan, kafka_bootstrap: str, database_url: str, log_dir: Path) -> dict[str, Any]:
    """The whole benchmark; returns the result document (`ok` false when the pipeline failed)."""
    started = time.time()
    result: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "smoke" if plan.smoke else ("replay" if plan.replay_only else "full"),
        "machine": {**machine(), "postgresql": await postgres_version(database_url)},
        "plan": dataclasses.asdict(plan),
        "logs": str(log_dir),
        "memory_peak_mb": {},
        "ok": False,
    }
    phase = ["start"]
    await asyncio.to_thread(log_dir.mkdir, parents=True, exist_ok=True)
    try:
        if not plan.replay_only:
            await run_pipeline(plan, result, kafka_bootstrap, database_url, log_dir, started=started, phase=phase)
        sizes = replay_sizes_within_budget(plan, time.time() - started) if plan.replay_sizes else ()
        if sizes:
            phase[0] = progress(f"replay ({', '.join(f'{size:,}' for size in sizes)} events)", started)
            result["replay"] = await rebuild_benchmark(
                kafka_bootstrap,
                database_url,
                log_dir,
                sizes=sizes,
                workers=plan.replay_workers,
                learners=plan.replay_learners,
                profile=plan.profile == "replay",
            )
            result["replay"]["planned_sizes"] = list(plan.replay_sizes)
        result["ok"] = True
    except Exception as error:
        result["error"] = {
            "phase": phase[0],
            "message": f"{type(error).__name__}: {error}",
            "traceback": traceback.format_exc(),
        }
    finally:
        if "database" in result:  # the run failed before the baselines dropped it
            await drop_database(database_url, result.pop("database"))
    result["duration_s"] = round(time.time() - started, 1)
    result["ratios"] = report.ratios(result)
    result["targets"] = report.targets(result)
    return result


async def run_smoke(kafka_bootstrap: str, database_url: str, log_dir: Path) -> dict[str, Any]:
    """`make bench-smoke` and the integration test: 1 batch of 1,000 records, small baselines."""
    return await run(dataclasses.replace(SMOKE, uln_salt=uuid.uuid4().hex[:8]), kafka_bootstrap, database_url, log_dir)


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="1 batch of 1,000 records and small baselines")
    parser.add_argument("--latency-runs", type=int, default=Plan.latency_runs)
    parser.add_argument("--batches-per-ao", type=int, default=Plan.batches_per_ao)
    parser.add_argument(
        "--replay-sizes",
        type=_sizes,
        default=Plan.replay_sizes,
        help="the rebuild's log sizes, comma-separated (default 100000,300000,1000000); 0 skips the replay",
    )
    parser.add_argument(
        "--replay-workers", type=_sizes, default=Plan.replay_workers, help="worker counts per size (default 1,2)"
    )
    parser.add_argument("--replay-only", action="store_true", help="only the rebuild benchmark (and its baseline)")
    parser.add_argument(
        "--profile",
        choices=[*sorted(SERVICES), "replay"],
        help="run this service (or the rebuild's projector and workers) under pyinstrument; reports beside the logs",
    )
    parser.add_argument("--out", type=Path, help="result file (default bench/results/<date>.json)")
    arguments = parser.parse_args(argv)
    kafka_bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database_url = os.environ.get("DATABASE_URL")
    if not kafka_bootstrap or not database_url:
        print("KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL must be set (make bench does it)", file=sys.stderr)
        return 2
    # every service of the run opens the learners' keys with one keyring key (decision 0080); each run has
    # a database of its own, so a key of its own does when the environment gives none
    os.environ.setdefault(KEYRING_KEY_VARIABLE, KeyringKey.generate().encoded())
    plan = (
        SMOKE
        if arguments.smoke
        else Plan(
            latency_runs=arguments.latency_runs,
            batches_per_ao=arguments.batches_per_ao,
            replay_sizes=tuple(size for size in arguments.replay_sizes if size > 0),
            replay_workers=arguments.replay_workers,
            replay_only=arguments.replay_only,
        )
    )
    plan = dataclasses.replace(plan, profile=arguments.profile, uln_salt=uuid.uuid4().hex[:8])
    stamp = datetime.now(UTC)
    log_dir = RESULTS / "logs" / stamp.strftime("%Y%m%dT%H%M%SZ")
    result = asyncio.run(run(plan, kafka_bootstrap, database_url, log_dir))
    suffix = "-smoke" if plan.smoke else "-replay" if plan.replay_only else ""
    out = arguments.out or RESULTS / f"{stamp:%Y-%m-%d}{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(report.table(result))
    print(f"\nresults: {out}\nservice logs: {log_dir}")
    if not result["ok"]:
        print(f"\nFAILED in {result['error']['phase']}: {result['error']['message']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
