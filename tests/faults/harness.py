"""The whole system on a broker, a database and an SMTP sink of its own, and the work a fault row runs.

A row's work: one learner's challenge raised, then two batches of one AO back to back (every learner
created at grade C, then updated to A). `observe` gathers what the system holds about that work; the
pure `measure.assess` says what was lost or applied twice.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import TopicPartition
from bench.processes import RunningSystem, free_port
from tests.faults.infra import RestartableKafka, RestartablePostgres, SmtpSink
from tests.faults.measure import Expected, ExpectedBatch, Observation
from tests.support.learners import json_batch, json_record, learners_csv, new_learner
from tests.support.system import build_system
from tests.support.waiting import eventually

from lrs_contracts.registry import decode
from lrs_contracts.topics import PLR_EVENTS
from lrs_platform.credential_store import CredentialStore
from lrs_platform.database import create_pool
from lrs_platform.identity import Principal
from lrs_platform.kafka import make_consumer

AO = "RN9008"  # AQA
QUALIFICATION = "100/5001/2"  # NQF GCSE, grades A*..G
FIRST_GRADE, FINAL_GRADE = "C", "A"
CHALLENGE_CONTACT = {
    "given_name": "Results",
    "family_name": "Desk",
    "telephone": "+44 20 7946 0000",
    "email": "challenges@aqa.example",
}
DECIDED = ("completed", "failed", "abandoned")
"""Final statuses: an abandoned batch (decision 0103) is past every point, and `observe` fails on it at once."""


@dataclass
class RowWork:
    learners: list[dict[str, str]]
    idempotency_keys: list[str]
    bodies: list[dict[str, Any]]
    challenged: tuple[str, str]  # (uln, achievement id) of an earlier achievement
    log_start: dict[int, int]
    batch_ids: list[str] = field(default_factory=list)  # in submission order, as they are accepted
    challenge_id: str | None = None
    raised: asyncio.Event = field(default_factory=asyncio.Event)
    answers: Counter[str] = field(default_factory=Counter)  # what the AO's client saw, retries included

    def expected(self) -> Expected:
        ulns = tuple(learner["uln"] for learner in self.learners)
        # a batch never accepted is there too, under a name no batch has: all of its records are lost
        never_accepted = [
            f"batch {index + 1}, never accepted" for index in range(len(self.batch_ids), len(self.bodies))
        ]
        return Expected(
            batches=tuple(ExpectedBatch(batch_id, ulns) for batch_id in [*self.batch_ids, *never_accepted]),
            final_grade=FINAL_GRADE,
            challenge_id=self.challenge_id,
        )


@dataclass
class FaultSystem:
    kafka: RestartableKafka
    postgres: RestartablePostgres
    smtp: SmtpSink
    processes: RunningSystem
    log_dir: Path
    keys: dict[str, str] = field(default_factory=dict)
    challenge_pool: list[tuple[str, str]] = field(default_factory=list)
    supervisor_restarts: Counter[str] = field(default_factory=Counter)
    _probe: asyncpg.Connection | None = None
    _probe_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def database_url(self) -> str:
        return self.postgres.url

    def url(self, service: str) -> str:
        return self.processes[service].url

    # -- access -------------------------------------------------------------------------------------

    async def sql(self, query: str, *args: Any) -> list[asyncpg.Record] | None:
        """Rows, or None while the database is unreachable (it may be restarting). One connection, kept
        open: probes must be quick to see a point of the work that lasts a fraction of a second."""
        async with self._probe_lock:
            try:
                if self._probe is None or self._probe.is_closed():
                    self._probe = await asyncpg.connect(self.database_url, timeout=5)
                return list(await self._probe.fetch(query, *args, timeout=30))
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                if self._probe is not None:
                    self._probe.terminate()
                self._probe = None
                return None

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.terminate()

    async def key_for(self, principal: str) -> str:
        if principal not in self.keys:
            pool = await create_pool(self.database_url, max_size=1)
            try:
                issued = await CredentialStore(pool).issue(Principal.parse(principal), label="faults")
            finally:
                await pool.close()
            self.keys[principal] = issued.token
        return self.keys[principal]

    async def client(self, service: str, principal: str) -> httpx.AsyncClient:
        token = await self.key_for(principal)
        return httpx.AsyncClient(base_url=self.url(service), headers={"Authorization": f"Bearer {token}"}, timeout=60.0)

    def stopped(self) -> tuple[str, ...]:
        return tuple(
            name
            for name, service in self.processes.services.items()
            if service.process is None or service.process.poll() is not None
        )

    def supervise(self, *, except_for: str | None = None) -> None:
        """What an orchestrator does: a service that exited on its own is started again (and counted)."""
        for name, service in self.processes.services.items():
            if name != except_for and service.process is not None and service.process.poll() is not None:
                self.supervisor_restarts[name] += 1
                service.start()

    # -- set-up -------------------------------------------------------------------------------------

    async def register(self, learners: list[dict[str, str]]) -> None:
        async with await self.client("validation", "operator:faults") as client:
            response = await client.post(
                "/v1/learners/import", content=learners_csv(learners), headers={"Content-Type": "text/csv"}
            )
            assert response.status_code == 201, response.text

    async def prepare(self, challenges: int) -> None:
        """Challenge contact for the AO, and achievements that rows will raise challenges on."""
        async with await self.client("notifier", f"ao:{AO}") as client:
            response = await client.put(f"/v1/ao/{AO}/challenge-contact", json=CHALLENGE_CONTACT)
            assert response.status_code == 200, response.text
        learners = [new_learner() for _ in range(challenges)]
        await self.register(learners)
        batch = json_batch(AO, [json_record(learner, QUALIFICATION, FIRST_GRADE) for learner in learners])
        async with await self.client("ingest", f"ao:{AO}") as client:
            response = await client.post("/v1/batches", json=batch)
            assert response.status_code == 202, response.text
        ulns = [learner["uln"] for learner in learners]

        async def projected() -> list[asyncpg.Record] | None:
            rows = await self.sql(
                "SELECT uln, achievement_id::text AS id FROM plr.achievements WHERE uln = ANY($1)", ulns
            )
            return rows if rows is not None and len(rows) == len(ulns) else None

        rows = await eventually(projected, within=180, what="the challenge pool on the PLR")
        self.challenge_pool = [(row["uln"], row["id"]) for row in rows]

    async def new_work(self, records: int) -> RowWork:
        learners = [new_learner() for _ in range(records)]
        await self.register(learners)
        creates = [json_record(learner, QUALIFICATION, FIRST_GRADE) for learner in learners]
        updates = [json_record(learner, QUALIFICATION, FINAL_GRADE, action="Update") for learner in learners]
        return RowWork(
            learners=learners,
            idempotency_keys=[f"faults-{uuid.uuid4()}" for _ in range(2)],
            bodies=[json_batch(AO, creates), json_batch(AO, updates)],
            challenged=self.challenge_pool.pop(),
            log_start=await self.log_ends(),
        )

    # -- the work -----------------------------------------------------------------------------------

    async def run_work(self, work: RowWork) -> None:
        await self.raise_challenge(work)
        for index, body in enumerate(work.bodies):
            work.batch_ids.append(await self.submit(work, body, work.idempotency_keys[index]))

    async def raise_challenge(self, work: RowWork) -> None:
        uln, achievement_id = work.challenged
        body = {"achievement_id": achievement_id, "ao_id": AO, "reason": "The award date is wrong"}
        async with await self.client("challenges", f"learner:{uln}") as client:

            async def attempt() -> str | None:
                try:
                    response = await client.post("/v1/challenges", json=body)
                except httpx.TransportError:
                    return None
                if response.status_code == 201:
                    return str(response.json()["challenge_id"])
                if response.status_code == 409:  # an earlier attempt got through before its answer was lost
                    return str(response.json()["detail"]).rsplit(" ", 1)[-1]
                assert response.status_code >= 500, response.text
                return None

            work.challenge_id = await eventually(attempt, within=300, what="the challenge raised")
        work.raised.set()

    async def submit(self, work: RowWork, body: dict[str, Any], idempotency_key: str) -> str:
        """As an AO's client would: on a lost answer or a 503, send the same batch with the same key again."""
        async with await self.client("ingest", f"ao:{AO}") as client:

            async def attempt() -> str | None:
                try:
                    response = await client.post("/v1/batches", json=body, headers={"Idempotency-Key": idempotency_key})
                except httpx.TransportError as error:
                    work.answers[type(error).__name__] += 1
                    return None
                work.answers[str(response.status_code)] += 1
                if response.status_code == 202:
                    return str(response.json()["batch_id"])
                assert response.status_code == 503, f"submission answered {response.status_code}: {response.text}"
                return None

            return await eventually(attempt, within=300, what="the batch accepted")

    # -- where the work is --------------------------------------------------------------------------

    async def statuses(self, work: RowWork) -> list[str | None]:
        rows = await self.sql(
            "SELECT idempotency_key, status FROM ingest.batches WHERE ao_id = $1 AND idempotency_key = ANY($2)",
            AO,
            work.idempotency_keys,
        )
        found = {row["idempotency_key"]: row["status"] for row in rows or []}
        return [found.get(key) for key in work.idempotency_keys]

    async def projected(self, work: RowWork) -> list[int]:
        """History entries on the PLR per batch, in submission order (0 for a batch not accepted yet)."""
        rows = await self.sql(
            "SELECT batch_id::text AS batch_id, count(*) AS n FROM plr.achievement_history"
            " WHERE batch_id = ANY($1::uuid[]) GROUP BY batch_id",
            work.batch_ids,
        )
        counts = {row["batch_id"]: row["n"] for row in rows or []}
        ids = [*work.batch_ids, *[""] * (len(work.bodies) - len(work.batch_ids))]
        return [counts.get(batch_id, 0) for batch_id in ids]

    def emailed(self, batch_id: str) -> bool:
        return bool(self.smtp.mentioning(batch_id))

    async def reached(self, point: str, work: RowWork) -> bool:
        """True once the work is at `point` of its life, or past it."""
        if point == "raised":
            return work.raised.is_set()
        first, _ = await self.statuses(work)
        first_projected, _ = await self.projected(work)
        reached = {
            "receiving": first is not None,
            "queued": first not in (None, "received"),
            "validating": first in ("validating", *DECIDED),
            "decided": first in DECIDED,
            "projecting": first_projected > 0,
            "first email out": bool(work.batch_ids) and self.emailed(work.batch_ids[0]),
        }
        return reached[point]

    async def snapshot(self, work: RowWork) -> str:
        """Where the work really was at the moment of the fault."""
        statuses = await self.statuses(work)
        projected = await self.projected(work)
        emails = sum(self.emailed(batch_id) for batch_id in work.batch_ids)
        size = len(work.learners)
        batches = ", ".join(
            f"batch {index + 1} {status or 'not sent'} ({count}/{size} on PLR)"
            for index, (status, count) in enumerate(zip(statuses, projected, strict=True))
        )
        return f"{batches}, {emails} emailed"

    # -- measuring ----------------------------------------------------------------------------------

    async def log_ends(self) -> dict[int, int]:
        consumer = make_consumer(self.kafka.bootstrap, group_id=None)
        await consumer.start()
        try:
            partitions = [TopicPartition(PLR_EVENTS.name, p) for p in range(PLR_EVENTS.partitions)]
            ends = await consumer.end_offsets(partitions)
            return {partition.partition: offset for partition, offset in ends.items()}
        finally:
            await consumer.stop()

    async def log_lines(self, since: dict[int, int], batch_ids: set[str]) -> Counter[tuple[str, int]]:
        """(batch id, line) of every committed event on the PLR log from `since` to its end now."""
        consumer = make_consumer(self.kafka.bootstrap, group_id=None)
        await consumer.start()
        try:
            partitions = [TopicPartition(PLR_EVENTS.name, p) for p in range(PLR_EVENTS.partitions)]
            consumer.assign(partitions)
            for partition in partitions:
                consumer.seek(partition, since.get(partition.partition, 0))
            ends = await consumer.end_offsets(partitions)
            lines: Counter[tuple[str, int]] = Counter()
            while [p for p in partitions if await consumer.position(p) < ends[p]]:
                for records in (await consumer.getmany(timeout_ms=1_000, max_records=5_000)).values():
                    for record in records:
                        try:
                            _, payload = decode(record.value or b"")
                        except ValueError:  # a poison message (pydantic's errors are ValueErrors)
                            continue
                        provenance = getattr(payload, "provenance", None)
                        if provenance is not None and str(provenance.batch_id) in batch_ids:
                            lines[(str(provenance.batch_id), provenance.line)] += 1
            return lines
        finally:
            await consumer.stop()

    async def observe(self, work: RowWork, *, read_log: bool, since: dict[int, int] | None = None) -> Observation:
        ids = work.batch_ids
        ulns = [learner["uln"] for learner in work.learners]
        seen = Observation()
        batches = await self.sql(
            "SELECT batch_id::text AS batch_id, status, idempotency_key FROM ingest.batches"
            " WHERE ao_id = $1 AND idempotency_key = ANY($2)",
            AO,
            work.idempotency_keys,
        )
        per_key = Counter(row["idempotency_key"] for row in batches or [])
        for row in batches or []:
            if row["status"] == "abandoned":
                raise AssertionError(f"batch {row['batch_id']} was abandoned: it will never be decided")
            seen.batch_status[row["batch_id"]] = row["status"]
            seen.batches_per_submission[row["batch_id"]] = per_key[row["idempotency_key"]]
        for table, target in (
            ("ingest.batch_records", seen.batch_view_lines),
            ("plr.achievement_history", seen.history_lines),
        ):
            rows = await self.sql(
                f"SELECT batch_id::text AS batch_id, line, count(*) AS n FROM {table}"
                " WHERE batch_id = ANY($1::uuid[]) GROUP BY batch_id, line",
                ids,
            )
            for row in rows or []:
                target[(row["batch_id"], row["line"])] = row["n"]
        # the row's learners have this one achievement each (the read model keeps the QAN normalised)
        grades = await self.sql(
            "SELECT uln, grade, version FROM plr.achievements WHERE uln = ANY($1) AND ao_id = $2", ulns, AO
        )
        seen.plr_grades = {row["uln"]: (row["grade"], row["version"]) for row in grades or []}
        facts = await self.sql(
            "SELECT batch_id::text AS batch_id FROM reporting.batch_facts WHERE batch_id = ANY($1::uuid[])", ids
        )
        seen.mi_batches = {row["batch_id"] for row in facts or []}
        if work.challenge_id:
            challenge = await self.sql("SELECT 1 FROM plr.challenges WHERE challenge_id = $1::uuid", work.challenge_id)
            seen.challenge_projected = bool(challenge)
        for notification in work.expected().notifications:
            seen.emails[notification] = [email.message_id for email in self.smtp.mentioning(notification)]
        if read_log:
            seen.log_lines = await self.log_lines(work.log_start if since is None else since, set(ids))
        return seen


@asynccontextmanager
async def running_system(log_dir: Path) -> AsyncIterator[FaultSystem]:
    """Kafka, PostgreSQL, an SMTP sink and the six services, all of their own; torn down after."""
    kafka, postgres = RestartableKafka(), RestartablePostgres()
    smtp = SmtpSink(free_port())
    processes: RunningSystem | None = None
    try:
        await asyncio.gather(asyncio.to_thread(kafka.start), asyncio.to_thread(postgres.start))
        smtp.start()
        processes = build_system(
            kafka.bootstrap,
            postgres.url,
            log_dir,
            {
                "NOTIFIER_SMTP_HOST": "127.0.0.1",
                "NOTIFIER_SMTP_PORT": str(smtp.port),
                "REPORTING_DATA_DIR": tempfile.mkdtemp(prefix="lrs-faults-reporting."),
            },
        )
        await processes.start()
        system = FaultSystem(kafka, postgres, smtp, processes, log_dir)
        try:
            yield system
        finally:
            await system.close()
    finally:
        if processes is not None:
            processes.stop()
        smtp.stop()
        await asyncio.gather(asyncio.to_thread(kafka.stop), asyncio.to_thread(postgres.stop))
