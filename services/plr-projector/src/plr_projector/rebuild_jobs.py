"""The operators' rebuild of the projection into a fresh schema: started, supervised, compared, switched to
or abandoned here; its bulk-load workers are `plr_projector.rebuild`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from lrs_platform.consumer import Failure, RetryPolicy, classify_failure
from lrs_platform.database import apply_migrations, migrations_in
from lrs_platform.logging import get_logger
from plr_projector import metrics
from plr_projector.config import ProjectorSettings
from plr_projector.consumer import Runner, TopicPositions
from plr_projector.dead_letters import PARKED_PAGE, drain_stream
from plr_projector.operations import LogProbe, OperationError, Refusal
from plr_projector.projection import PLR_TOPIC, BatchChanges, Stream
from plr_projector.rebuild import (
    events_in,
    passes_for,
    plan_slices,
    ranges_from_json,
    ranges_to_json,
    worker_environment,
)
from plr_projector.replays import refuse_an_expired_sandpit_log
from plr_projector.store import (
    BULK_COLUMNS,
    LIVE_SCHEMA,
    MIGRATIONS,
    OPS_SCHEMA,
    Deferred,
    ReadModel,
    compare_models,
    defer_bulk_indexes,
    restore_bulk_table,
)

# named as before the split: the `logger` field of its log lines stays what it was
_log = get_logger("plr_projector.operations")


WORKER_POLL_SECONDS = 0.2
WORKER_STARTS = 3  # a local worker that keeps failing fails the rebuild after this many starts
RESTORED_TOGETHER = 2  # tables made LOGGED and indexed side by side after a bulk load
LINE_UP_ROUNDS = 3  # compare and switch pause both projections and line them up at most this many times
# A database (or Kafka) outage under a rebuild's supervisor is waited out with this back-off, as the live runner does
SUPERVISOR_RETRY = RetryPolicy()


@dataclass(frozen=True)
class RebuildSettings:
    """How rebuilds run (decision 0033). `workers` 0: no bulk load, the rebuild's runner replays the
    log from offset 0 through the live code path."""

    workers: int = 0
    launch: str = "process"  # 'process': started here; 'external': an indexed Job runs them
    events_per_pass: int = 200_000
    worker_environment: dict[str, str] = field(default_factory=dict)
    # The workers an indexed Job runs (PROJECTOR_REBUILD_WORKERS with external launch): the only bulk load a
    # rebuild may plan. None: whoever runs the workers runs as many as the rebuild asks for (a benchmark's).
    job_workers: int | None = None
    max_workers: int | None = None  # PROJECTOR_REBUILD_MAX_WORKERS: what this pod's memory holds
    worker_retry_seconds: float = 300.0  # with external launch: see `given_up`

    @classmethod
    def of(cls, settings: ProjectorSettings) -> RebuildSettings:
        external = settings.rebuild_launch == "external"
        workers = settings.rebuild_workers if settings.rebuild_workers is not None else os.cpu_count() or 1
        max_workers = None if external else settings.rebuild_max_workers
        return cls(
            workers=workers if max_workers is None else min(workers, max_workers),
            launch=settings.rebuild_launch,
            events_per_pass=settings.rebuild_events_per_pass,
            worker_environment=worker_environment(settings),
            job_workers=settings.rebuild_workers if external else None,
            max_workers=max_workers,
            worker_retry_seconds=settings.rebuild_worker_retry_seconds,
        )

    def planned_workers(self, requested: int | None) -> int:
        """The workers a rebuild plans (before the partitions bound them). A Job's rebuild waits for a row per
        worker it planned: a worker the Job does not run would leave it loading for ever, so another number is
        refused; 0 needs no Job at all."""
        if requested is None:
            return self.workers
        if self.job_workers is not None and requested not in (0, self.job_workers):
            raise OperationError(
                Refusal.INVALID,
                "Workers set by the rebuild Job",
                f"This projector's rebuild workers run as an indexed Job of {self.job_workers}"
                f" (PROJECTOR_REBUILD_WORKERS={self.job_workers}, which must equal the Job's parallelism and"
                f" completions), so a rebuild of {requested} workers would wait for ever. Leave out workers (or give"
                f" {self.job_workers}), or give 0 to replay through the live code path without the Job.",
            )
        if self.max_workers is not None and requested > self.max_workers:
            raise OperationError(
                Refusal.INVALID,
                "More rebuild workers than this projector holds",
                f"This projector runs at most {self.max_workers} rebuild worker process(es)"
                f" (PROJECTOR_REBUILD_MAX_WORKERS={self.max_workers}, what its memory holds), so a rebuild of"
                f" {requested} was not started. Give {self.max_workers} or fewer, or leave out workers.",
            )
        return requested


def given_up(rows: list[dict[str, Any]], retry_seconds: float) -> dict[str, Any] | None:
    """A worker the indexed Job has given up on, if any: its row failed and has not changed for `retry_seconds`.
    The Job retries a failed index after its back-off, and the retry marks the row running as it begins
    (`rebuild._load`), so a row failed for longer than any back-off is one no retry will take up: its pod has
    used up backoffLimitPerIndex (or the Job was deleted). A failed row retried within the bound fails nothing."""
    return next((row for row in rows if row["state"] == "failed" and row["unchanged_seconds"] > retry_seconds), None)


@dataclass
class RebuildJob:
    rebuild_id: int
    schema: str
    runner: Runner
    targets: TopicPositions
    started_by: str
    started_at: datetime
    resumed_monotonic: float
    resumed_done: int
    target_reached_monotonic: float | None = None  # the rate is measured up to here, not on as time passes
    workers: int = 0
    phase: str = "following"  # 'loading' -> 'indexing' -> 'following'
    state: str = "running"  # -> 'caught_up', or 'failed'
    error: str | None = None
    waiting: str | None = None  # the outage the supervisor is waiting out (the rebuild goes on after it)
    comparison: dict[str, Any] | None = None
    worker_rows: list[dict[str, Any]] = field(default_factory=list)
    supervisor: asyncio.Task[None] | None = None


RunnerFactory = Callable[[str, ReadModel, bool], Runner]


@dataclass(frozen=True)
class EndedRebuild:
    """The last rebuild switched to or abandoned, and who did it (plr_ops.rebuilds' `finished_by`)."""

    rebuild_id: int
    state: str  # 'switched' or 'abandoned'
    finished_by: str | None  # None: ended by a release that did not record it
    finished_at: datetime | None

    def said(self) -> dict[str, Any]:
        return {
            "rebuild_id": self.rebuild_id,
            "state": self.state,
            "finished_by": self.finished_by,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


class RebuildFailed(Exception):
    """A bulk load could not finish: a worker kept failing (`worker`), or the keys could not be built."""

    def __init__(self, message: str, worker: int | None = None) -> None:
        super().__init__(message)
        self.worker = worker


class Rebuilds:
    """Rebuilds the model into `plr_rebuild_<n>` while `plr` keeps serving: worker processes load
    the log up to the end offsets of the start with COPY (module `rebuild`), the projector builds the
    keys and indexes, then a runner of its own follows the log from those offsets."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        live: Runner,
        make_runner: RunnerFactory,
        probe: LogProbe,
        settings: RebuildSettings | None = None,
    ) -> None:
        self.pool = pool
        self.live = live
        self.make_runner = make_runner
        self.probe = probe
        self.settings = settings or RebuildSettings()
        self.job: RebuildJob | None = None
        # held from the check that none runs until the new one is launched: two requests at once (a double
        # click) would otherwise both pass the check and build the same schema, one answering 500
        self._starting = asyncio.Lock()
        # held by compare, switch and abandon (and `stop`) from their look at the job to their end, so that one
        # finds the job another has switched to or abandoned gone, and is refused: never both carried out, nor
        # one renaming a schema the other dropped. Taken before the runners' locks (`_aligned`), never after.
        self._deciding = asyncio.Lock()
        self._ended: EndedRebuild | None = None  # the last rebuild switched to or abandoned

    async def resume(self) -> None:
        """A rebuild survives a restart of the projector: its state is in plr_ops, its rows and
        offsets in its schema, and its workers go on from their last finished pass."""
        ended = await self.pool.fetchrow(
            f"SELECT rebuild_id, state, finished_by, finished_at FROM {OPS_SCHEMA}.rebuilds WHERE state IN {_ENDED}"
            " ORDER BY rebuild_id DESC LIMIT 1"
        )
        if ended is not None:
            self._ended = EndedRebuild(ended["rebuild_id"], ended["state"], ended["finished_by"], ended["finished_at"])
        row = await self.pool.fetchrow(
            f"SELECT * FROM {OPS_SCHEMA}.rebuilds WHERE state IN ('running', 'caught_up', 'failed')"
            " ORDER BY rebuild_id DESC LIMIT 1"
        )
        if row is None:
            return
        failed = row["error"] if row["state"] == "failed" else None
        if failed is None:
            failed = await self._why_not_resumable(row["schema_name"])
            if failed is not None:
                _log.warning("rebuild_failed", rebuild_id=row["rebuild_id"], phase=row["phase"], error=failed)
        if failed is not None:  # its workers too, where a release before this one left them looking alive
            await self.pool.fetch(_FAIL_REBUILD, row["rebuild_id"], failed, _STOPPED_FAILED)
        await self._launch(
            row["rebuild_id"],
            row["schema_name"],
            _positions_from_json(row["target_offsets"]),
            row["started_by"],
            row["started_at"],
            workers=row["workers"],
            phase=row["phase"],
            failed=failed,
            comparison=row["comparison"],
        )

    async def _why_not_resumable(self, schema: str) -> str | None:
        """Why the rebuild cannot go on (None: it can). Its schema is gone where an abandon was cut short
        by a release before the drop and the mark were one transaction, or by an operator's hand: the
        projector starts all the same, with the rebuild failed, for an operator to abandon. A schema
        that lacks a migration the live schema has was begun by an older release: a rebuild's schema is
        migrated when the rebuild starts, never after (docs/deploy.md, Upgrade)."""
        if await self.pool.fetchval("SELECT to_regclass($1)", f'"{schema}".schema_migrations') is None:
            return f"its schema {schema} is gone (an abandon cut short?): abandon it and start again"
        applied = await self.pool.fetchval(f'SELECT max(version) FROM "{schema}".schema_migrations')
        if applied is not None and applied < migrations_in(MIGRATIONS)[-1].version:
            return "begun by an older release of the projector, whose model it builds: abandon it and start again"
        return None

    async def _launch(
        self,
        rebuild_id: int,
        schema: str,
        targets: TopicPositions,
        started_by: str,
        started_at: datetime,
        *,
        workers: int,
        phase: str,
        failed: str | None = None,
        comparison: Any = None,
    ) -> None:
        runner = self.make_runner(f"rebuild-{rebuild_id}", ReadModel(schema), False)
        job = RebuildJob(
            rebuild_id,
            schema,
            runner,
            targets,
            started_by,
            started_at,
            time.monotonic(),
            0,
            workers=workers,
            phase=phase,
            comparison=json.loads(comparison) if isinstance(comparison, str) else comparison,
        )
        self.job = job
        if failed is not None:
            job.state, job.error = "failed", failed
            await self._read_workers(job)
            return
        if phase == "following":
            async with self.pool.acquire() as connection:
                job.resumed_done = _done(await ReadModel(schema).offsets(connection), targets)
        else:
            await self._read_workers(job)
            job.resumed_done = self._loaded(job)
        job.supervisor = asyncio.create_task(self._supervise(job), name=f"rebuild-{rebuild_id}")

    async def start(self, operator: str, workers: int | None = None) -> dict[str, Any]:
        async with self._starting:
            return await self._start(operator, workers)

    async def _start(self, operator: str, workers: int | None) -> dict[str, Any]:
        if self.job is not None:
            raise OperationError(Refusal.NOT_NOW, "Rebuild running", _unfinished(self.job))
        planned = self.settings.planned_workers(workers)
        rebuild_id = int(
            await self.pool.fetchval(f"SELECT coalesce(max(rebuild_id), 0) + 1 FROM {OPS_SCHEMA}.rebuilds")
        )
        schema = f"plr_rebuild_{rebuild_id}"
        targets = await self.probe.end_offsets(self.live.partitions)
        firsts = await self.probe.beginning_offsets(self.live.partitions)
        refuse_an_expired_sandpit_log(
            self.live.topics.environment,
            {partition: offset for (topic, partition), offset in firsts.items() if topic == PLR_TOPIC},
            "rebuild",
        )
        ranges = {key: (min(firsts.get(key, 0), target), target) for key, target in targets.items()}
        plr_partitions = sum(1 for topic, _ in ranges if topic == PLR_TOPIC)
        count = min(planned, plr_partitions)
        async with self.pool.acquire() as connection:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await apply_migrations(connection, schema, MIGRATIONS)
            async with connection.transaction():
                deferred = await defer_bulk_indexes(connection, schema) if count else {}
                started_at = await connection.fetchval(
                    f"INSERT INTO {OPS_SCHEMA}.rebuilds (rebuild_id, schema_name, state, started_by, target_offsets,"
                    " workers, phase, deferred_ddl) VALUES ($1, $2, 'running', $3, $4, $5, $6, $7) RETURNING started_at",
                    rebuild_id,
                    schema,
                    operator,
                    _positions_to_json(targets),
                    count,
                    "loading" if count else "following",
                    json.dumps(deferred),
                )
                for worker, slice_ranges in enumerate(plan_slices(ranges, count) if count else []):
                    await connection.execute(
                        f"INSERT INTO {OPS_SCHEMA}.rebuild_workers (rebuild_id, worker, partitions, passes,"
                        " events_total) VALUES ($1, $2, $3, $4, $5)",
                        rebuild_id,
                        worker,
                        ranges_to_json(slice_ranges),
                        passes_for(slice_ranges, self.settings.events_per_pass),
                        events_in(slice_ranges),
                    )
        await self._launch(
            rebuild_id, schema, targets, operator, started_at, workers=count, phase="loading" if count else "following"
        )
        _log.info(
            "rebuild_started",
            rebuild_id=rebuild_id,
            schema=schema,
            operator=operator,
            target=sum(targets.values()),
            workers=count,
        )
        return self.status()

    # --- the phases --------------------------------------------------------------------------------

    async def _supervise(self, job: RebuildJob) -> None:
        """Loads, indexes and starts following. A PostgreSQL (or Kafka) outage is waited out, the phase it cut short
        done again from what had committed (as after a restart of the projector), the status saying what it waits
        for; any other failure fails the rebuild, recorded in plr_ops.rebuilds (that too waiting out an outage), so
        that the status and the database agree. The task never ends with an exception: an abandon awaits it."""
        attempt = 0
        while True:
            try:
                await self._supervised_phases(job)
                job.waiting = None
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                why = f"{type(error).__name__}: {str(error)[:300]}"
                if classify_failure(error) is not Failure.TRANSIENT:
                    job.waiting = None
                    await self._fail(job, error, why)
                    return
                attempt += 1
                job.waiting = f"waiting for the database or Kafka to come back ({why}); the rebuild goes on then"
                _log.warning("rebuild_waiting", rebuild_id=job.rebuild_id, phase=job.phase, error=why, attempt=attempt)
                with contextlib.suppress(Exception):
                    await job.runner.stop()  # a start cut short: the next one begins afresh
                await asyncio.sleep(SUPERVISOR_RETRY.delay(attempt))

    async def _supervised_phases(self, job: RebuildJob) -> None:
        if job.phase == "loading":
            await self._await_workers(job)
            await self._set_phase(job, "indexing")
        if job.phase == "indexing":
            await self._finish_load(job)
        await self._follow(job)

    async def _fail(self, job: RebuildJob, error: Exception, why: str) -> None:
        """The rebuild failed, recorded in plr_ops.rebuilds with its unfinished workers stopped; an outage meanwhile
        is waited out, so that the database never goes on saying running for a rebuild the status says failed."""
        _log.warning("rebuild_failed", rebuild_id=job.rebuild_id, phase=job.phase, error=why)
        lost = error.worker if isinstance(error, RebuildFailed) else None
        stopped = f"stopped: worker {lost} failed" if lost is not None else _STOPPED_FAILED
        attempt = 0
        try:
            while True:
                try:
                    await self.pool.fetch(_FAIL_REBUILD, job.rebuild_id, why, stopped)
                    await self._read_workers(job)  # as ended here, or as a worker that finished meanwhile wrote it
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as recording:
                    attempt += 1
                    _log.warning(
                        "rebuild_failure_not_recorded",
                        rebuild_id=job.rebuild_id,
                        error=f"{type(recording).__name__}: {str(recording)[:300]}",
                        attempt=attempt,
                    )
                    if classify_failure(recording) is not Failure.TRANSIENT:
                        return
                    await asyncio.sleep(SUPERVISOR_RETRY.delay(attempt))
        finally:  # the status says failed once its workers' rows say how they ended
            job.state, job.error = "failed", why

    async def _read_workers(self, job: RebuildJob) -> None:
        rows = await self.pool.fetch(
            "SELECT worker, state, passes, passes_done, events_total, events_read, cpu_seconds, error,"
            " extract(epoch FROM now() - updated_at)::float8 AS unchanged_seconds"
            f" FROM {OPS_SCHEMA}.rebuild_workers WHERE rebuild_id = $1 ORDER BY worker",
            job.rebuild_id,
        )
        job.worker_rows = [dict(row) for row in rows]

    async def _await_workers(self, job: RebuildJob) -> None:
        """Until every worker has loaded its slice; local workers are started (and restarted after a
        failure: they go on from their last finished pass) here, a Job's are failed once it gives up on one."""
        processes: dict[int, asyncio.subprocess.Process] = {}
        starts: Counter[int] = Counter()
        try:
            while True:
                await self._read_workers(job)
                if all(row["state"] == "done" for row in job.worker_rows):
                    return
                if self.settings.launch == "process":
                    for row in job.worker_rows:
                        worker, process = row["worker"], processes.get(row["worker"])
                        if row["state"] == "done" or (process is not None and process.returncode is None):
                            continue
                        if process is not None and process.returncode == 0 and await self._done_since(job, worker):
                            continue  # it wrote `done` and exited after the rows were read
                        if process is not None:  # started here, it exited before its slice was done: say how
                            returncode = process.returncode or 0
                            exit_said = self._exit_said(returncode)
                            # killed by a signal, it wrote nothing: a failed row is an earlier start's
                            own = row["error"] if row["state"] == "failed" and returncode >= 0 else None
                            if returncode:  # 0: it found its slice done after the rows were read
                                _log.warning(
                                    "rebuild_worker_exited",
                                    rebuild_id=job.rebuild_id,
                                    worker=worker,
                                    returncode=returncode,
                                    error=own or exit_said,
                                    starts=starts[worker],
                                )
                            if starts[worker] >= WORKER_STARTS:
                                raise RebuildFailed(await self._worker_given_up(job, row, exit_said, own), worker)
                        starts[worker] += 1
                        processes[worker] = await self._spawn(job, worker)
                elif (lost := given_up(job.worker_rows, self.settings.worker_retry_seconds)) is not None:
                    raise RebuildFailed(
                        f"worker {lost['worker']} failed and was not retried within"
                        f" {self.settings.worker_retry_seconds:g} s (the Job gave up on it): {lost['error'] or 'failed'}",
                        lost["worker"],
                    )
                await asyncio.sleep(WORKER_POLL_SECONDS)
        finally:
            for process in processes.values():
                if process.returncode is None:
                    process.terminate()
                await process.wait()

    async def _done_since(self, job: RebuildJob, worker: int) -> bool:
        """Whether `worker`'s row says `done` now (read again: the rows read before may predate its last write)."""
        state = await self.pool.fetchval(
            f"SELECT state FROM {OPS_SCHEMA}.rebuild_workers WHERE rebuild_id = $1 AND worker = $2",
            job.rebuild_id,
            worker,
        )
        return bool(state == "done")

    def _exit_said(self, returncode: int) -> str:
        """How a local worker's process ended. One killed by SIGKILL is most likely one the kernel killed for
        using more memory than it was given (an OOM kill): that is said, with the settings that bound it."""
        if returncode >= 0:
            return f"exited with status {returncode}" + (" before its slice was loaded" if returncode == 0 else "")
        try:
            said = f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            said = f"was killed by signal {-returncode}"
        if -returncode == signal.SIGKILL:
            said += (
                " (out of memory? each worker holds a pass of ~250 MB by default: lower"
                f" PROJECTOR_REBUILD_EVENTS_PER_PASS, now {self.settings.events_per_pass}, or run fewer workers,"
                " PROJECTOR_REBUILD_MAX_WORKERS)"
            )
        return said

    async def _worker_given_up(self, job: RebuildJob, row: dict[str, Any], exit_said: str, own: str | None) -> str:
        """Why the rebuild fails on a local worker started WORKER_STARTS times: the error the worker wrote where it
        failed by itself (`own`), else its last exit, which its row is marked failed with (as the worker marks it),
        so that `status.workers[].error` says it too."""
        worker = row["worker"]
        if own is not None:
            return f"worker {worker}: {own}"
        await self.pool.execute(
            f"UPDATE {OPS_SCHEMA}.rebuild_workers SET state = 'failed', error = $3, updated_at = now()"
            " WHERE rebuild_id = $1 AND worker = $2 AND state <> 'done'",
            job.rebuild_id,
            worker,
            exit_said,
        )
        row["state"], row["error"] = "failed", exit_said
        return f"worker {worker} (started {WORKER_STARTS} times) {exit_said}"

    async def _spawn(self, job: RebuildJob, worker: int) -> asyncio.subprocess.Process:
        command = ["-m", "plr_projector.rebuild", "--rebuild-id", str(job.rebuild_id), "--worker", str(worker)]
        return await asyncio.create_subprocess_exec(sys.executable, *command, env=self.settings.worker_environment)

    async def _set_phase(self, job: RebuildJob, phase: str) -> None:
        await self.pool.execute(
            f"UPDATE {OPS_SCHEMA}.rebuilds SET phase = $2 WHERE rebuild_id = $1", job.rebuild_id, phase
        )
        job.phase = phase

    async def _finish_load(self, job: RebuildJob) -> None:
        """Each table LOGGED with its keys and indexes (two at a time, the largest first), then the
        offsets the runner starts from. A restart redoes what had not committed."""
        started = time.monotonic()
        deferred: Deferred = json.loads(
            await self.pool.fetchval(
                f"SELECT deferred_ddl FROM {OPS_SCHEMA}.rebuilds WHERE rebuild_id = $1", job.rebuild_id
            )
        )
        loaded: TopicPositions = {}
        for row in await self.pool.fetch(
            f"SELECT partitions FROM {OPS_SCHEMA}.rebuild_workers WHERE rebuild_id = $1", job.rebuild_id
        ):
            # as the live runner does, no offset is stored for a partition nothing was read from
            loaded.update(
                {key: target for key, (first, target) in ranges_from_json(row["partitions"]).items() if first < target}
            )
        side_by_side = asyncio.Semaphore(RESTORED_TOGETHER)

        async def restore(table: str) -> None:
            async with side_by_side, self.pool.acquire() as connection:
                await restore_bulk_table(connection, job.schema, table, deferred.get(table, []))

        await asyncio.gather(*(restore(table) for table in BULK_COLUMNS))
        async with self.pool.acquire() as connection, connection.transaction():
            model = ReadModel(job.schema)
            # A worker knows the erasures it read, worker 0's first pass all of them: a report another worker or
            # pass folded for an erased learner loses its free text here, as the live model's did
            await model.erase_centre_text(connection)
            await model.write(connection, BatchChanges(), loaded, publish_dead_letters=False)
            await connection.execute(
                f"UPDATE {OPS_SCHEMA}.rebuilds SET phase = 'following' WHERE rebuild_id = $1", job.rebuild_id
            )
        job.phase = "following"
        _log.info("rebuild_indexed", rebuild_id=job.rebuild_id, seconds=round(time.monotonic() - started, 1))

    async def _follow(self, job: RebuildJob) -> None:
        await job.runner.start()
        await self._apply_recorded_actions(job.runner)
        job.runner.run_in_background()

    async def _apply_recorded_actions(self, runner: Runner) -> None:
        """A skip or replacement an operator recorded while the workers were loading: the workers
        did not see it, the live model did. The parked streams are read a page at a time, each by its first
        event; a drain changes only its own stream, so the pages after it read as one read before it would."""
        after: Stream | None = None
        while True:
            async with runner.pool.acquire() as connection:
                firsts = await runner.model.parked_firsts(connection, after=after, limit=PARKED_PAGE)
            for first in firsts:
                if first.position in runner.actions:
                    async with runner.lock:
                        await drain_stream(runner, first.park_key, first.topic, "rebuild")
            if len(firsts) < PARKED_PAGE:
                return
            after = (firsts[-1].topic, firsts[-1].park_key)

    # --- progress ----------------------------------------------------------------------------------

    @staticmethod
    def _loaded(job: RebuildJob) -> int:
        """Events loaded by the workers, scaled to the target (a slice in several passes reads its
        partitions once per pass)."""
        target = sum(job.targets.values())
        work = sum(row["events_total"] * row["passes"] for row in job.worker_rows)
        read = sum(row["events_read"] for row in job.worker_rows)
        return min(target, round(target * read / work)) if work else target

    def status(self) -> dict[str, Any]:
        job = self.job
        if job is None:
            # who switched to or abandoned the last one, as a running one's answer says who started it
            return {"state": "idle"} if self._ended is None else {"state": "idle", "last": self._ended.said()}
        target = sum(job.targets.values())
        if job.phase == "following":
            done = _done(job.runner.positions, job.targets)
        else:
            done = self._loaded(job) if job.phase == "loading" else target
        remaining = max(0, target - done)
        if remaining == 0 and job.target_reached_monotonic is None:
            job.target_reached_monotonic = time.monotonic()
        elapsed = (job.target_reached_monotonic or time.monotonic()) - job.resumed_monotonic
        rate = (done - job.resumed_done) / elapsed if elapsed > 0 else 0.0
        # caught up once its supervisor is done too: until then it may still be applying recorded actions and
        # has not begun following, which a switch (stopping its runner) would leave half done
        if job.state == "running" and job.phase == "following" and remaining == 0 and _supervised(job):
            job.state = "caught_up"
        if job.state == "failed":
            eta = None  # a failed rebuild gets no nearer
        elif job.phase == "indexing":
            eta = None  # every event is loaded, but how long the keys and indexes take is not known
        elif remaining:
            eta = round(remaining / rate, 1) if rate > 0 else None
        else:
            eta = 0.0
        progress = 1.0 if target == 0 else done / target
        metrics.REBUILD_PROGRESS.set(progress)
        return {
            "state": job.state,
            "phase": job.phase,
            "rebuild_id": job.rebuild_id,
            "schema": job.schema,
            "started_by": job.started_by,
            "started_at": job.started_at.isoformat(),
            "target_events": target,
            "projected_events": done,
            "progress": round(progress, 4),
            "events_per_second": round(rate, 1),
            "eta_seconds": eta,
            "events_past_target": max(0, sum(job.runner.positions.values()) - target),
            "workers": [
                {
                    "worker": row["worker"],
                    "state": row["state"],
                    "passes": f"{row['passes_done']}/{row['passes']}",
                    "events_read": row["events_read"],
                    "cpu_seconds": round(row["cpu_seconds"], 1),
                    "error": row["error"],
                }
                for row in job.worker_rows
            ],
            "last_error": job.error or job.waiting or job.runner.stats.last_error,
            "comparison": job.comparison,
        }

    def _caught_up(self, done_then: str) -> RebuildJob:
        """The rebuild, once it has caught up with the log; `done_then` says what waits for that."""
        self.status()
        if self.job is None:
            raise self._no_rebuild("Start a rebuild first.")
        if self.job.state != "caught_up":
            now = (
                "has failed: abandon it and start a new one"
                if self.job.state == "failed"
                else "is still reading the log: follow its progress with `lrs projector rebuild status --follow`"
            )
            raise OperationError(
                Refusal.NOT_NOW,
                "Rebuild not ready",
                f"The rebuild has not caught up with the log, so it cannot be {done_then} yet. It {now}.",
            )
        return self.job

    @asynccontextmanager
    async def _aligned(self, job: RebuildJob) -> AsyncIterator[TopicPositions]:
        """Both projections paused at the same offsets: whichever is behind catches up first. Yields those offsets
        (`_lined_up` checks them against what each schema stored, in the caller's transaction)."""
        async with self.live.lock, job.runner.lock:
            # again where one went past the offsets (a transaction marker read with the last records): both end at
            # the same offsets, which `_lined_up` then finds stored
            for _ in range(LINE_UP_ROUNDS):
                targets = {
                    key: max(self.live.positions.get(key, 0), job.runner.positions.get(key, 0))
                    for key in set(self.live.positions) | set(job.runner.positions)
                }
                await self.live.catch_up(targets)
                await job.runner.catch_up(targets)
                if self.live.positions == targets == job.runner.positions:
                    break
            yield targets

    async def _lined_up(self, connection: asyncpg.Connection, job: RebuildJob, targets: TopicPositions) -> None:
        """Refused unless the offsets each schema stored (what a runner reading it after a switch starts from) are
        the offsets the two were lined up at: a schema whose offsets ran ahead of its rows (or behind) would be
        compared, or made live, with events no projection ever applied to it, silently (report-rebuild finding 1).
        A partition with no offset stored is one nothing was read from: a runner starts it from its beginning."""
        stored = {
            "live": await self.live.model.offsets(connection),
            "rebuilt": await job.runner.model.offsets(connection),
        }
        off = {
            name: {
                f"{topic}:{partition}": (offset, targets.get((topic, partition)))
                for (topic, partition), offset in sorted(offsets.items())
                if offset != targets.get((topic, partition))
            }
            for name, offsets in stored.items()
        }
        if not any(off.values()):
            return
        _log.error("rebuild_not_lined_up", rebuild_id=job.rebuild_id, stored_and_lined_up_at=off)
        differing = "; ".join(
            f"{name} {key} stored {offset:,}, lined up at {'none' if target is None else f'{target:,}'}"
            for name, partitions in off.items()
            for key, (offset, target) in partitions.items()
        )
        raise OperationError(
            Refusal.NOT_NOW,
            "Projections not lined up",
            f"The offsets stored with the models are not the ones both projections were paused at ({differing[:600]}),"
            f" so rebuild {job.rebuild_id} was neither compared nor switched to and nothing was changed. Try again;"
            " if this is refused again, abandon the rebuild and start a new one.",
        )

    @property
    def _current_model(self) -> str:
        """The model a rebuild replaces, as operators are told of it: in the Sandpit, not "live" (report-sandpit
        finding 6: an operator reading "live" under the SANDPIT banner may think live's PLR is involved)."""
        topics = getattr(self.live, "topics", None)  # a runner's; a test's stand-in may have none: live's words
        return (
            "the Sandpit's current model" if topics is not None and topics.environment.is_sandpit else "the live model"
        )

    def _no_rebuild(self, then: str) -> OperationError:
        """The refusal when there is no rebuild, saying what became of the last one (switched to or abandoned by
        another operator meanwhile, perhaps at the same moment)."""
        detail = "No rebuild is running."
        if self._ended is not None:
            rebuild_id, by = self._ended.rebuild_id, f" by {self._ended.finished_by}" if self._ended.finished_by else ""
            detail += (
                f" Rebuild {rebuild_id} was switched to{by}: its model is {self._current_model}."
                if self._ended.state == "switched"
                else f" Rebuild {rebuild_id} was abandoned{by} and its schema dropped."
            )
        return OperationError(Refusal.NOT_NOW, "No rebuild", f"{detail} {then}")

    async def _mark_ended(
        self, connection: asyncpg.Connection, job: RebuildJob, state: str, operator: str
    ) -> EndedRebuild:
        """Records the rebuild switched to or abandoned by `operator`, in the caller's transaction; refused (rolling
        it back) where plr_ops.rebuilds already has it ended, as only another projector taking operator actions
        could."""
        ended = EndedRebuild(job.rebuild_id, state, operator, datetime.now(UTC))
        marked = await connection.execute(
            f"UPDATE {OPS_SCHEMA}.rebuilds SET state = $2, finished_at = $3, finished_by = $4 WHERE rebuild_id = $1"
            f" AND state NOT IN {_ENDED}",
            job.rebuild_id,
            state,
            ended.finished_at,
            operator,
        )
        if marked == "UPDATE 0":
            raise OperationError(
                Refusal.NOT_NOW,
                "Rebuild already ended",
                f"plr_ops.rebuilds records rebuild {job.rebuild_id} as switched to or abandoned already"
                " (by another projector taking operator actions?): nothing was changed.",
            )
        return ended

    async def compare(self) -> dict[str, Any]:
        async with self._deciding:
            job = self._caught_up(f"compared with {self._current_model}")
            async with (
                self._aligned(job) as targets,
                self.pool.acquire() as connection,
                connection.transaction(isolation="repeatable_read", readonly=True),
            ):
                await self._lined_up(connection, job, targets)
                result = await compare_models(connection, self.live.model, job.runner.model)
            result["compared_at"] = datetime.now(UTC).isoformat()
            job.comparison = result
            await self.pool.execute(
                f"UPDATE {OPS_SCHEMA}.rebuilds SET comparison = $2, state = 'caught_up' WHERE rebuild_id = $1"
                f" AND state NOT IN {_ENDED}",
                job.rebuild_id,
                json.dumps(result),
            )
            _log.info("rebuild_compared", rebuild_id=job.rebuild_id, identical=result["identical"])
            return result

    async def switch(self, operator: str) -> dict[str, Any]:
        async with self._deciding:
            job = self._caught_up("switched to")
            retired = f"plr_retired_{job.rebuild_id}"
            async with self._aligned(job) as targets:
                async with self.pool.acquire() as connection, connection.transaction():
                    await self._lined_up(connection, job, targets)  # read in the transaction that renames
                    ended = await self._mark_ended(connection, job, "switched", operator)
                    await connection.execute(f'ALTER SCHEMA "{LIVE_SCHEMA}" RENAME TO "{retired}"')
                    await connection.execute(f'ALTER SCHEMA "{job.schema}" RENAME TO "{LIVE_SCHEMA}"')
                # The rebuild runner holds the name of a schema that no longer exists: stop it under its lock.
                await job.runner.stop()
                job.runner.retire_metrics()
                await self.live.reload()
            await self.pool.expire_connections()
            self.job, self._ended = None, ended
            metrics.REBUILD_PROGRESS.set(0)
            _log.info("rebuild_switched", rebuild_id=job.rebuild_id, operator=operator, retired_schema=retired)
            return {
                "state": "switched",
                "rebuild_id": job.rebuild_id,
                "live_schema": LIVE_SCHEMA,
                "retired_schema": retired,
            }

    async def abandon(self, operator: str) -> dict[str, Any]:
        async with self._deciding:
            job = self.job
            if job is None:
                raise self._no_rebuild("Nothing was abandoned.")
            await self._stop_job(job)
            try:
                # One transaction: a rebuild marked running whose schema is gone would fail at the next start.
                async with self.pool.acquire() as connection, connection.transaction():
                    # dropped first: a Job's worker still loading holds the tables until its pass commits, its row
                    # ended after (it finds that at its next report, and stops)
                    await connection.execute(f'DROP SCHEMA IF EXISTS "{job.schema}" CASCADE')
                    ended = await self._mark_ended(connection, job, "abandoned", operator)
                    await connection.execute(_STOP_WORKERS, job.rebuild_id, "stopped: the rebuild was abandoned")
            except OperationError:
                self.job = None  # stopped, and ended already by the record: nothing of it is left to run
                raise
            self.job, self._ended = None, ended
            metrics.REBUILD_PROGRESS.set(0)
            _log.info("rebuild_abandoned", rebuild_id=job.rebuild_id, operator=operator)
            return {"state": "abandoned", "rebuild_id": job.rebuild_id}

    async def stop(self) -> None:
        async with self._deciding:  # a switch or abandon under way finishes first, rather than lose its runner
            if self.job is not None:
                await self._stop_job(self.job)

    @staticmethod
    async def _stop_job(job: RebuildJob) -> None:
        if job.supervisor is not None:
            job.supervisor.cancel()
            # a supervisor that ended with an error (the database's, long gone) is not raised again: that turned
            # every abandon into the same 503 until the projector restarted
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await job.supervisor
        await job.runner.stop()
        job.runner.retire_metrics()


_ENDED = "('switched', 'abandoned')"  # the states a rebuild ends in: none changes after

# A failed or abandoned rebuild's workers still loading (or not yet begun) are ended with it, `failed` with why they
# were stopped, so that no row of it looks alive. A worker process still at work (a Job's pod, an orphan of a projector
# restarted) finds its row no longer `running` at its next report, and stops without committing its pass
# (`rebuild._report`); the projector stops its own local workers itself.
_STOPPED_FAILED = "stopped: the rebuild failed"
_STOP_WORKERS = (
    f"UPDATE {OPS_SCHEMA}.rebuild_workers SET state = 'failed', error = $2, updated_at = now()"
    " WHERE rebuild_id = $1 AND state IN ('pending', 'running')"
)
# The rebuild failed (unless it has ended) and its unfinished workers stopped, in one statement; the workers stopped.
_FAIL_REBUILD = (
    f"WITH failed AS (UPDATE {OPS_SCHEMA}.rebuilds SET state = 'failed', error = $2 WHERE rebuild_id = $1"
    f" AND state NOT IN {_ENDED} RETURNING rebuild_id)"
    f" UPDATE {OPS_SCHEMA}.rebuild_workers AS w SET state = 'failed', error = $3, updated_at = now() FROM failed"
    " WHERE w.rebuild_id = failed.rebuild_id AND w.state IN ('pending', 'running') RETURNING w.worker"
)


def _supervised(job: RebuildJob) -> bool:
    """Whether the job's supervisor (loading, indexing, starting to follow) has done its part."""
    return job.supervisor is None or job.supervisor.done()


def _done(positions: Mapping[tuple[str, int], int], targets: TopicPositions) -> int:
    return sum(min(positions.get(key, 0), target) for key, target in targets.items())


def _positions_to_json(positions: TopicPositions) -> str:
    return json.dumps({f"{topic}:{partition}": offset for (topic, partition), offset in sorted(positions.items())})


def _positions_from_json(text: str | dict[str, int]) -> TopicPositions:
    data: dict[str, int] = json.loads(text) if isinstance(text, str) else text
    result: TopicPositions = {}
    for name, offset in data.items():
        topic, _, partition = name.rpartition(":")
        result[(topic, int(partition))] = int(offset)
    return result


def _unfinished(job: RebuildJob) -> str:
    """Why another rebuild cannot start, and what ends this one: a caught-up rebuild follows the log until an
    operator switches to it or abandons it, so it never finishes on its own."""
    rebuild = f"Rebuild {job.rebuild_id}"
    if job.state == "caught_up":
        return (
            f"{rebuild} has caught up and follows the log until it is switched to or abandoned: compare it, then"
            " switch to it or abandon it first."
        )
    if job.state == "failed":
        return f"{rebuild} failed ({job.error}): abandon it first."
    return f"{rebuild} is still {job.phase}: wait for it to catch up, then compare and switch, or abandon it."
