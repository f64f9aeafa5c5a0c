"""The faults, how each is injected, and the runner that measures one row.

A row: fresh learners, a challenge raised and two batches submitted by the AO's client (which resends
with the same Idempotency-Key on a lost answer or a 503); the fault is injected at a point of the
work's life; then the row waits until every record, the challenge and every email is where it belongs.
"""

from __future__ import annotations

import asyncio
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from tests.faults.harness import FaultSystem, RowWork
from tests.faults.measure import Assessment, assess
from tests.support.learners import random_uln
from tests.support.waiting import eventually

from lrs_contracts.topics import BATCH_OUTCOMES, BATCH_SUBMITTED, CHALLENGE_EVENTS, LEARNER_EVENTS, PLR_EVENTS

SERVICES = ("ingest", "validation", "plr-projector", "challenges", "notifier", "reporting")
SMTP_DOWN_SECONDS = 60.0


@dataclass(frozen=True)
class Injection:
    observed: str  # where the work really was when the fault hit
    cleared_at: float  # time.monotonic() when the fault ended (process started again, server back)


StartWork = Callable[[], None]
Inject = Callable[[FaultSystem, RowWork, StartWork], Awaitable[Injection]]


@dataclass(frozen=True)
class Fault:
    name: str
    point: str
    how: str
    inject: Inject


def sigkill(service: str, point: str) -> Fault:
    async def inject(system: FaultSystem, work: RowWork, start: StartWork) -> Injection:
        start()
        await eventually(lambda: system.reached(point, work), within=300, what=f"the work at '{point}'", every=0.02)
        target = system.processes[service]
        target.kill()
        target.start()
        cleared_at = time.monotonic()
        observed = await system.snapshot(work)
        await target.wait_ready()
        return Injection(observed, cleared_at)

    return Fault(f"SIGKILL {service}", point, f"SIGKILL the {service} process, start it again at once", inject)


def broker_restart(point: str) -> Fault:
    async def inject(system: FaultSystem, work: RowWork, start: StartWork) -> Injection:
        start()
        await eventually(lambda: system.reached(point, work), within=300, what=f"the work at '{point}'", every=0.02)
        await system.kafka.crash()
        observed = await system.snapshot(work)
        await system.kafka.start_again()
        return Injection(observed, time.monotonic())

    return Fault("Kafka broker restart", point, "SIGKILL the only broker, start it again on the same port", inject)


def postgres_restart(point: str) -> Fault:
    async def inject(system: FaultSystem, work: RowWork, start: StartWork) -> Injection:
        start()
        await eventually(lambda: system.reached(point, work), within=300, what=f"the work at '{point}'", every=0.02)
        observed = await system.snapshot(work)
        await asyncio.to_thread(system.postgres.crash_and_restart)
        return Injection(observed, time.monotonic())

    return Fault(
        "PostgreSQL restart", point, "pg_ctl restart -m immediate: every connection dropped, crash recovery", inject
    )


def smtp_down(seconds: float = SMTP_DOWN_SECONDS) -> Fault:
    async def inject(system: FaultSystem, work: RowWork, start: StartWork) -> Injection:
        system.smtp.stop()
        down_at = time.monotonic()
        start()

        async def long_enough_and_refused() -> bool:
            pending = await system.sql("SELECT 1 FROM notifier.deliveries WHERE status = 'pending' AND attempts > 0")
            return time.monotonic() - down_at >= seconds and bool(pending)

        await eventually(long_enough_and_refused, within=seconds + 300, what="SMTP refused for long enough")
        observed = await system.snapshot(work)
        system.smtp.start()
        return Injection(observed, time.monotonic())

    return Fault(
        "SMTP down",
        f"{seconds:.0f} s from submission",
        f"SMTP server gone (connection refused) for {seconds:.0f} s, then back on the same port",
        inject,
    )


POISONS = (b"\xff\xfe\x00 not even text", b'{"event_type": "lrs.achievement.recorded.v1", "data": {"broken": true}}')


def poison_everywhere() -> Fault:
    """Poison on every topic a service consumes, keyed away from the row's work: nothing of it may wait."""

    async def inject(system: FaultSystem, work: RowWork, start: StartWork) -> Injection:
        keys = {
            BATCH_SUBMITTED.name: "RN0001",
            BATCH_OUTCOMES.name: str(uuid.uuid4()),
            PLR_EVENTS.name: random_uln(),
            LEARNER_EVENTS.name: random_uln(),
            CHALLENGE_EVENTS.name: str(uuid.uuid4()),
        }
        producer = AIOKafkaProducer(bootstrap_servers=system.kafka.bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            for topic, key in keys.items():
                for poison in POISONS:
                    await producer.send_and_wait(topic, poison, key=key.encode())
        finally:
            await producer.stop()
        cleared_at = time.monotonic()
        start()
        return Injection(f"{len(POISONS)} poison messages on each of {len(keys)} topics", cleared_at)

    return Fault(
        "poison messages",
        "before the work",
        "undecodable bytes and a malformed envelope on every consumed topic",
        inject,
    )


def no_fault(point: str = "none") -> Fault:
    async def inject(system: FaultSystem, work: RowWork, start: StartWork) -> Injection:
        start()
        return Injection("no fault", time.monotonic())

    return Fault("no fault", point, "the work alone, as a baseline", inject)


def full_matrix() -> list[Fault]:
    points = {
        "ingest": ("receiving", "validating", "decided"),
        "validation": ("queued", "validating", "decided"),
        # the projector applies a poll's worth of events in one transaction: "decided" catches it reading
        # the first batch, "projecting" once the first batch is in and the second on its way
        "plr-projector": ("queued", "decided", "projecting"),
        "challenges": ("raised", "validating", "decided"),
        "notifier": ("validating", "decided", "first email out"),
        "reporting": ("validating", "decided", "first email out"),
    }
    return [
        *(sigkill(service, point) for service in SERVICES for point in points[service]),
        broker_restart("validating"),
        broker_restart("projecting"),
        postgres_restart("validating"),
        postgres_restart("projecting"),
        smtp_down(),
        poison_everywhere(),
    ]


def smoke_matrix() -> list[Fault]:
    return [
        sigkill("validation", "validating"),
        sigkill("plr-projector", "decided"),
        sigkill("notifier", "decided"),
        poison_everywhere(),
    ]


@dataclass
class RowResult:
    fault: str
    point: str
    how: str
    observed: str = ""
    records: int = 0
    lost: int = 0
    duplicated: int = 0
    emails_per_notification: dict[str, int] = field(default_factory=dict)
    redeliveries: int = 0
    recover_seconds: float | None = None
    passed: bool = False
    notes: list[str] = field(default_factory=list)

    def apply(self, assessment: Assessment) -> None:
        self.records = assessment.records
        self.lost = assessment.lost
        self.duplicated = assessment.duplicated
        self.emails_per_notification = assessment.emails_per_notification
        self.redeliveries = assessment.redeliveries
        self.passed = assessment.passed and self.recover_seconds is not None
        if assessment.missing:
            self.notes.append("missing: " + ", ".join(assessment.missing))

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


async def run_row(system: FaultSystem, fault: Fault, records: int, within: float) -> tuple[RowResult, RowWork | None]:
    result = RowResult(fault.name, fault.point, fault.how)
    restarts_before = system.supervisor_restarts.copy()
    work: RowWork | None = None
    try:
        stopped = system.stopped()
        if stopped:
            await system.processes.start(*stopped)
        work = await system.new_work(records)
        running: list[asyncio.Task[None]] = []
        row_work = work
        injection = await fault.inject(
            system, work, lambda: running.append(asyncio.create_task(system.run_work(row_work)))
        )
        result.observed = injection.observed
        await running[0]

        async def recovered() -> bool:
            system.supervise()
            if not assess(row_work.expected(), await system.observe(row_work, read_log=False)).recovered:
                return False
            return assess(row_work.expected(), await system.observe(row_work, read_log=True)).recovered

        try:
            await eventually(recovered, within=within, what="every record, the challenge and every email through")
            result.recover_seconds = round(time.monotonic() - injection.cleared_at, 1)
        except AssertionError:
            result.notes.append(f"not recovered within {within:.0f} s")
        result.apply(assess(work.expected(), await system.observe(work, read_log=True)))
        answers = {answer: count for answer, count in work.answers.items() if answer != "202"}
        if answers:
            result.notes.append("AO client saw " + ", ".join(f"{a} x{n}" for a, n in sorted(answers.items())))
    except Exception as error:
        result.passed = False
        result.notes.append(f"row aborted: {type(error).__name__}: {str(error)[:300]}")
        traceback.print_exc()
    restarted = system.supervisor_restarts - restarts_before
    if restarted:
        result.notes.append("exited and restarted: " + ", ".join(f"{s} x{n}" for s, n in sorted(restarted.items())))
    return result, work


async def audit(system: FaultSystem, rows: list[tuple[RowResult, RowWork | None]]) -> None:
    """Measures every row again at the end of the run, the whole PLR log included: a duplicate that
    arrived after a row had recovered still counts against it."""
    for result, work in rows:
        if work is None:
            continue
        seen = await system.observe(work, read_log=True, since={})
        assessment = assess(work.expected(), seen)
        if (assessment.lost, assessment.duplicated, assessment.emails_per_notification) != (
            result.lost,
            result.duplicated,
            result.emails_per_notification,
        ):
            result.notes.append("changed at the final audit")
        result.notes = [note for note in result.notes if not note.startswith("missing: ")]
        result.apply(assessment)
