"""Helpers for the PLR projector's integration tests: isolated topics, events, an in-process app."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager
from tests.support.system import issue_key
from tests.support.waiting import eventually

from lrs_contracts import topics as contract_topics
from lrs_contracts.envelope import Contract
from lrs_contracts.learner import (
    AbilityToShare,
    LearnerProviderLinked,
    LearnerRegistered,
    LearnerSharingChanged,
    LearnersMerged,
)
from lrs_contracts.plr import (
    AchievementData,
    AchievementKey,
    AchievementRecorded,
    AchievementReinstated,
    AchievementSuperseded,
    AchievementUpdated,
    AchievementWithdrawn,
    CentreAchievementReported,
    Provenance,
    QualificationSummary,
    ResultStatus,
)
from lrs_contracts.registry import encode, wrap
from lrs_platform.kafka import ensure_topics
from lrs_platform.keyring import DATA_KEY_BYTES, LearnerKey, Purpose, sealed_personal

PLR = contract_topics.PLR_EVENTS.name
LEARNERS = contract_topics.LEARNER_EVENTS.name
CHALLENGES = contract_topics.CHALLENGE_EVENTS.name
PARTITIONS = 3
T0 = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)


def new_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


def uln_for(number: int) -> str:
    """A valid ULN (check digit per DOMAIN §2) derived from `number`."""
    base = 100_000_000 + number * 7919 % 800_000_000
    while True:
        digits = [int(d) for d in str(base)]
        total = sum(weight * digit for weight, digit in zip(range(10, 1, -1), digits, strict=True))
        remainder = total % 11
        if remainder != 0 and 10 - remainder <= 9:
            return f"{base}{10 - remainder}"
        base += 1


async def create_topics(bootstrap: str, prefix: str) -> None:
    wanted = [
        dataclasses.replace(topic, name=prefix + topic.name)
        for topic in (contract_topics.PLR_EVENTS, contract_topics.LEARNER_EVENTS, contract_topics.CHALLENGE_EVENTS)
    ]
    await ensure_topics(bootstrap, wanted, partitions=PARTITIONS)


def summary(title: str = "GCSE Mathematics", ao_name: str = "AQA") -> QualificationSummary:
    return QualificationSummary(
        title=title,
        qualification_type="GCSE (9 to 1)",
        level="2",
        framework="RQF",
        kind="qualification",
        awarding_organisation_name=ao_name,
    )


@dataclasses.dataclass
class Events:
    """Builds PLR events for one batch with deterministic ids, as validation would."""

    batch_id: uuid.UUID = dataclasses.field(default_factory=uuid.uuid4)
    ao_id: str = "RN5133"
    line: int = 0

    def _next(self) -> Provenance:
        self.line += 1
        return Provenance(batch_id=self.batch_id, line=self.line)

    def key(self, uln: str, qan: str = "6001166X", award: date = date(2024, 5, 20)) -> AchievementKey:
        return AchievementKey(ao_id=self.ao_id, uln=uln, qualification_number=qan, award_date=award)

    def achievement_id(self, uln: str, qan: str = "6001166X", award: date = date(2024, 5, 20)) -> uuid.UUID:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"{self.ao_id}|{uln}|{qan}|{award}")

    def recorded(
        self, uln: str, grade: str = "7", status: ResultStatus = ResultStatus.FINAL, qan: str = "6001166X", **extra: Any
    ) -> AchievementRecorded:
        return AchievementRecorded(
            achievement_id=self.achievement_id(uln, qan),
            key=self.key(uln, qan),
            data=AchievementData(grade=grade, **extra),
            status=status,
            qualification=summary(),
            provenance=self._next(),
        )

    def updated(self, uln: str, grade: str, status: ResultStatus = ResultStatus.FINAL) -> AchievementUpdated:
        return AchievementUpdated(
            achievement_id=self.achievement_id(uln),
            key=self.key(uln),
            data=AchievementData(grade=grade),
            status=status,
            provenance=self._next(),
        )

    def superseded(self, uln: str, grade: str) -> AchievementSuperseded:
        return AchievementSuperseded(
            achievement_id=self.achievement_id(uln),
            key=self.key(uln),
            data=AchievementData(grade=grade),
            provenance=self._next(),
        )

    def withdrawn(self, uln: str, qan: str = "6001166X") -> AchievementWithdrawn:
        return AchievementWithdrawn(
            achievement_id=self.achievement_id(uln, qan), key=self.key(uln, qan), provenance=self._next()
        )

    def reinstated(self, uln: str, qan: str = "6001166X") -> AchievementReinstated:
        return AchievementReinstated(
            achievement_id=self.achievement_id(uln, qan), key=self.key(uln, qan), provenance=self._next()
        )


def registered(uln: str, ability: AbilityToShare = AbilityToShare.SHARES) -> LearnerRegistered:
    """A registration as validation publishes it, the details sealed under a key of the learner's own (the
    projector never opens them, so no key store is needed)."""
    key = LearnerKey(uln, secrets.token_bytes(DATA_KEY_BYTES))
    details = {"given_name": "Test", "family_name": "Learner", "date_of_birth": None, "gender": 0}
    return LearnerRegistered(
        uln=uln, personal=sealed_personal(key, Purpose.LEARNER_REGISTRATION, details), ability_to_share=ability
    )


def sharing(uln: str, ability: AbilityToShare) -> LearnerSharingChanged:
    return LearnerSharingChanged(uln=uln, ability_to_share=ability)


def linked(uln: str, provider: str) -> LearnerProviderLinked:
    """`provider` ("provider:<ukprn>" or the UKPRN) linked to the learner, as validation announces it."""
    return LearnerProviderLinked(uln=uln, provider_ukprn=provider.removeprefix("provider:"))


def merged(master: str, merged_uln: str) -> LearnersMerged:
    return LearnersMerged(master_uln=master, merged_uln=merged_uln)


def envelope_bytes(payload: Contract, *, sequence: int = 0, event_id: uuid.UUID | None = None) -> bytes:
    """Encoded envelope; `occurred_at` is derived from `sequence` so reruns produce identical rows."""
    return encode(
        wrap(
            payload,
            source="tests",
            correlation_id="tests",
            event_id=event_id or uuid.uuid5(uuid.NAMESPACE_OID, f"{payload.model_dump_json()}|{sequence}"),
            occurred_at=T0 + timedelta(seconds=sequence),
        )
    )


def centre_report(uln: str, grade: str, sequence: int) -> bytes:
    """A centre's report of `uln`'s `grade` in 6001166X (a report of its own each call), as `envelope_bytes`."""
    return envelope_bytes(
        CentreAchievementReported(
            report_id=uuid.uuid4(),
            uln=uln,
            provider_ukprn="10000001",
            qualification_number="6001166X",
            grade=grade,
            award_date=date(2024, 5, 20),
        ),
        sequence=sequence,
    )


@dataclasses.dataclass(frozen=True)
class Record:
    topic: str  # logical
    key: str | None
    value: bytes
    partition: int | None = None


def record(payload: Contract, key: str, *, topic: str = PLR, sequence: int = 0, partition: int | None = None) -> Record:
    return Record(topic, key, envelope_bytes(payload, sequence=sequence), partition)


async def produce(bootstrap: str, prefix: str, records: Iterable[Record]) -> list[tuple[int, int]]:
    """Sends records in order (per key) and waits for all acks; returns (partition, offset) of each."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    try:
        futures = []
        for item in records:
            futures.append(
                await producer.send(
                    prefix + item.topic,
                    item.value,
                    key=None if item.key is None else item.key.encode(),
                    partition=item.partition,
                )
            )
        metadata = await asyncio.gather(*futures)
        return [(entry.partition, entry.offset) for entry in metadata]
    finally:
        await producer.stop()


def projector_settings(database_url: str, bootstrap: str, prefix: str, **overrides: Any) -> Any:
    from plr_projector.config import ProjectorSettings

    values: dict[str, Any] = {
        "database_url": database_url,
        "kafka_bootstrap_servers": bootstrap,
        "topic_prefix": prefix,
        "log_json": True,
        "log_level": "warning",
        "poll_timeout_ms": 100,
        "metrics_interval_seconds": 0.2,
    }
    values.update(overrides)
    return ProjectorSettings.model_validate(
        {
            **{key: value for key, value in values.items() if key not in ("database_url", "kafka_bootstrap_servers")},
            "DATABASE_URL": values["database_url"],
            "KAFKA_BOOTSTRAP_SERVERS": values["kafka_bootstrap_servers"],
        }
    )


@dataclasses.dataclass
class App:
    app: Any
    database_url: str
    keys: dict[str, str] = dataclasses.field(default_factory=dict)

    async def client(self, principal: str | None) -> httpx.AsyncClient:
        headers = {}
        if principal is not None:
            if principal not in self.keys:
                self.keys[principal] = await issue_key(self.database_url, principal)
            headers["Authorization"] = f"Bearer {self.keys[principal]}"
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://projector", headers=headers, timeout=120
        )

    async def get(self, principal: str | None, path: str, **params: Any) -> httpx.Response:
        """Also holds every PLR the tests read to its OpenAPI description (`plr_projector.documents`)."""
        from plr_projector.documents import AoAchievements, PersonalLearningRecord

        async with await self.client(principal) as client:
            answer = await client.get(path, params=params)
        if answer.status_code == 200 and (path.endswith("/plr") or path == "/v1/ao/achievements"):
            described = PersonalLearningRecord if path.endswith("/plr") else AoAchievements
            described.model_validate(answer.json())
        return answer

    async def post(self, principal: str | None, path: str, json: Any = None, **params: Any) -> httpx.Response:
        async with await self.client(principal) as client:
            return await client.post(path, json=json, params=params)


@asynccontextmanager
async def running_projector(database_url: str, bootstrap: str, prefix: str, **overrides: Any) -> AsyncIterator[App]:
    from plr_projector.bootstrap import create_app

    app = create_app(projector_settings(database_url, bootstrap, prefix, **overrides))
    async with LifespanManager(app, startup_timeout=120, shutdown_timeout=60):
        yield App(app, database_url)


async def replay_finished(app: App, operator: str) -> dict[str, Any] | None:
    """The replay's status as `operator` asks it once it is no longer running: None while it runs (for `eventually`)."""
    status: dict[str, Any] = (await app.get(operator, "/v1/admin/replay")).json()
    return status if status["state"] != "running" else None


async def stored_offsets(database_url: str, schema: str = "plr") -> dict[tuple[str, int], int]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(f'SELECT topic, partition, next_offset FROM "{schema}".offsets')
        return {(row["topic"], row["partition"]): row["next_offset"] for row in rows}
    finally:
        await connection.close()


async def caught_up(database_url: str, expected_ends: dict[tuple[str, int], int], schema: str = "plr") -> bool:
    stored = await stored_offsets(database_url, schema)
    return all(stored.get(key, 0) >= end for key, end in expected_ends.items())


def ends_of(positions: Sequence[tuple[int, int]], topic: str = PLR) -> dict[tuple[str, int], int]:
    ends: dict[tuple[str, int], int] = {}
    for partition, offset in positions:
        ends[(topic, partition)] = max(ends.get((topic, partition), 0), offset + 1)
    return ends


def ends_of_records(records: Sequence[Record], positions: Sequence[tuple[int, int]]) -> dict[tuple[str, int], int]:
    """Each (topic, partition)'s offset past the records `produce` answered `positions` for."""
    ends: dict[tuple[str, int], int] = {}
    for item, (partition, offset) in zip(records, positions, strict=True):
        ends[(item.topic, partition)] = max(ends.get((item.topic, partition), 0), offset + 1)
    return ends


async def project(app: App, bootstrap: str, prefix: str, records: Sequence[Record]) -> None:
    """Produces the records and waits until the running projector has stored every one."""
    ends = ends_of_records(records, await produce(bootstrap, prefix, records))
    await eventually(lambda: caught_up(app.database_url, ends), within=30, what="projection of the produced events")


MODEL_DUMP_QUERIES = {
    "learners": "SELECT * FROM {s}.learners ORDER BY uln",
    "provider_links": "SELECT * FROM {s}.provider_links ORDER BY uln, provider_ukprn",
    "provider_links_ended": "SELECT * FROM {s}.provider_links_ended ORDER BY uln, provider_ukprn",
    "achievements": "SELECT * FROM {s}.achievements ORDER BY uln, ao_id, qualification_number, award_date",
    "achievement_history": "SELECT * FROM {s}.achievement_history"
    " ORDER BY uln, ao_id, qualification_number, award_date, version",
    "centre_achievements": "SELECT * FROM {s}.centre_achievements ORDER BY uln, provider_ukprn, qualification_number",
    "challenges": "SELECT * FROM {s}.challenges ORDER BY challenge_id",
    "processed_events": "SELECT * FROM {s}.processed_events ORDER BY event_id",
    "applied_lines": "SELECT * FROM {s}.applied_lines ORDER BY batch_id, partition",
    "offsets": "SELECT * FROM {s}.offsets ORDER BY topic, partition",
    "parked": 'SELECT topic, partition, "offset", park_key, reason, error, event_id, event_type, value'
    ' FROM {s}.parked ORDER BY topic, partition, "offset"',
}


async def dump_model(database_url: str, schema: str = "plr") -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the read model (operational timestamps left out), in primary-key order."""
    connection = await asyncpg.connect(database_url)
    try:
        return {
            table: [tuple(row.values()) for row in await connection.fetch(query.format(s=f'"{schema}"'))]
            for table, query in MODEL_DUMP_QUERIES.items()
        }
    finally:
        await connection.close()
