"""MI an analyst would use, on real Kafka and PostgreSQL: timeliness to the PLR per qualification type
(from the batches' completions, or with REPORTING_READ_PLR_LOG from the PLR log), rejections by code per
month, challenges and their time to resolve; the analyst quickstart; faust's log lines as JSON."""

from __future__ import annotations

import asyncio
import csv
import importlib.util
import io
import json
import logging
import os
import re
import shlex
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncpg
import duckdb
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from asgi_lifespan import LifespanManager
from tests.integration.test_notifier import bearer
from tests.integration.test_reporting import completed, failed, random_ao
from tests.support.kafka import pin_group_at_end
from tests.support.waiting import eventually

from lrs_contracts.challenge import (
    ChallengeAcknowledged,
    ChallengeRaised,
    ChallengeRaisedV1,
    ChallengeResolution,
    ChallengeResolved,
)
from lrs_contracts.envelope import Contract
from lrs_contracts.outcomes import (
    BatchCompleted,
    BatchRecordsDecided,
    Finding,
    QualificationOnPlr,
    RecordOutcome,
    RecordStatus,
)
from lrs_contracts.plr import (
    AchievementData,
    AchievementKey,
    AchievementRecorded,
    AchievementSuperseded,
    Provenance,
    QualificationSummary,
    ResultStatus,
)
from lrs_contracts.registry import decode, encode, wrap
from lrs_contracts.topics import (
    BATCH_OUTCOMES,
    CHALLENGE_EVENTS,
    PLR_EVENTS,
    REPORTING_CHALLENGES,
    REPORTING_PLR_TIMELINESS,
    REPORTING_REJECTIONS,
    Topic,
)
from lrs_platform.kafka import ensure_topics
from reporting.bootstrap import create_app
from reporting.config import ReportingSettings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MAY, JUNE = "2023-05", "2023-06"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def rejected(line: int, code: str) -> RecordOutcome:
    return RecordOutcome(line=line, status=RecordStatus.REJECTED, errors=(Finding(code=code, message="x"),))


def chunk(batch: BatchCompleted, *outcomes: RecordOutcome) -> BatchRecordsDecided:
    return BatchRecordsDecided(batch_id=batch.batch_id, ao_id=batch.ao_id, chunk_index=0, outcomes=outcomes)


QUALIFICATION_TYPES = {"60000001": "GCSE", "60000002": "A level"}


def on_plr(qan: str, *, recorded: bool = True) -> QualificationOnPlr:
    """A qualification a completion names; its type only when the batch recorded an achievement of it."""
    return QualificationOnPlr(
        qualification_number=qan, qualification_type=QUALIFICATION_TYPES[qan] if recorded else None
    )


def key(ao_id: str, uln: str, qan: str) -> AchievementKey:
    return AchievementKey(ao_id=ao_id, uln=uln, qualification_number=qan, award_date=date(2023, 5, 1))


def recorded(batch: BatchCompleted, uln: str, qan: str) -> AchievementRecorded:
    return AchievementRecorded(
        achievement_id=uuid.uuid4(),
        key=key(batch.ao_id, uln, qan),
        data=AchievementData(grade="A"),
        status=ResultStatus.PROVISIONAL,
        qualification=QualificationSummary(
            title="A qualification",
            qualification_type=QUALIFICATION_TYPES[qan],
            framework="RQF",
            kind="qualification",
            awarding_organisation_name="An AO",
        ),
        provenance=Provenance(batch_id=batch.batch_id, line=1),
    )


def superseded(batch: BatchCompleted, uln: str, qan: str) -> AchievementSuperseded:
    return AchievementSuperseded(
        achievement_id=uuid.uuid4(),
        key=key(batch.ao_id, uln, qan),
        data=AchievementData(grade="B"),
        provenance=Provenance(batch_id=batch.batch_id, line=1),
    )


async def produce(bootstrap: str, topic: str, *messages: tuple[str, Contract, datetime]) -> None:
    """Each message with its key, and the time it was written (the broker keeps the producer's time)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for message_key, payload, moment in messages:
            event = wrap(payload, source="test", correlation_id="it", occurred_at=moment)
            await producer.send_and_wait(
                topic, key=message_key.encode(), value=encode(event), timestamp_ms=int(moment.timestamp() * 1000)
            )
    finally:
        await producer.stop()


class Published:
    """The latest aggregate per key on reporting topics, read from their ends at the start."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer
        self.latest: dict[tuple[str, str], dict[str, Any]] = {}

    @classmethod
    async def watching(cls, bootstrap: str, topics: tuple[Topic, ...]) -> Published:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
        await consumer.start()
        partitions = [TopicPartition(topic.name, p) for topic in topics for p in range(topic.partitions)]
        consumer.assign(partitions)
        for partition, offset in (await consumer.end_offsets(partitions)).items():
            consumer.seek(partition, offset)
        return cls(consumer)

    async def read(self) -> dict[tuple[str, str], dict[str, Any]]:
        for records in (await self._consumer.getmany(timeout_ms=200)).values():
            for record in records:
                _, payload = decode(record.value or b"")
                self.latest[(record.topic, (record.key or b"").decode())] = payload.model_dump(mode="json")
        return self.latest

    async def stop(self) -> None:
        await self._consumer.stop()


@pytest.fixture
async def reporting_reading_the_log(kafka_bootstrap: str, fresh_database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A reporting service of its own with REPORTING_READ_PLR_LOG (completions that name no qualifications),
    reading only what is produced after it starts."""
    await ensure_topics(kafka_bootstrap)
    settings = ReportingSettings(
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        DATABASE_URL=fresh_database_url,
        app_id=f"reporting-it-{uuid.uuid4().hex[:8]}",
        log_json=True,
        read_plr_log=True,
    )
    await pin_group_at_end(kafka_bootstrap, settings.app_id, (BATCH_OUTCOMES, CHALLENGE_EVENTS))
    await pin_group_at_end(kafka_bootstrap, settings.plr_log_group, (PLR_EVENTS,))
    app = create_app(settings)
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=40),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting") as client,
    ):
        yield client


async def test_plr_timeliness_rejections_and_challenges_on_a_known_set_of_batches(
    kafka_bootstrap: str, reporting: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """PLR timeliness from the completions, which name the qualifications each batch put on the PLR."""
    await known_set_of_batches(kafka_bootstrap, reporting, pool, completions_name_qualifications=True)


async def test_the_same_mi_from_the_plr_log_for_completions_that_name_no_qualifications(
    kafka_bootstrap: str, reporting_reading_the_log: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    """Completions written before they named their qualifications, read with REPORTING_READ_PLR_LOG: the
    same numbers from the PLR log's events and their broker times."""
    await known_set_of_batches(kafka_bootstrap, reporting_reading_the_log, pool, completions_name_qualifications=False)


async def known_set_of_batches(
    kafka_bootstrap: str, reporting: httpx.AsyncClient, pool: asyncpg.Pool, *, completions_name_qualifications: bool
) -> None:
    stated = completions_name_qualifications
    ao, other_ao = random_ao(), random_ao()
    # Decided 22 May 2023. Issued 4 May: 11 working days to the decision (8 May was the Coronation holiday).
    early = completed(
        ao, "2023-05-04", accepted=7, rejected=3, on_plr=(on_plr("60000001"), on_plr("60000002")) if stated else None
    )
    # Issued 15 May: 5 working days to 22 May. Its Final supersedes a GCSE: it records no achievement of it.
    recent = completed(
        ao, "2023-05-15", accepted=4, rejected=1, on_plr=(on_plr("60000001", recorded=False),) if stated else None
    )
    whole_failure = failed(ao)  # RS005: 10 records, 4 rejected
    theirs = completed(other_ao, "2023-05-15", accepted=1, rejected=0, on_plr=(on_plr("60000001"),) if stated else None)
    # A completion as written before completions named their qualifications: its event is on the log, but
    # the log is read only with REPORTING_READ_PLR_LOG, so the batch is not measured.
    unstated = completed(ao, "2023-05-15", accepted=1, rejected=0)
    # With completions that name their qualifications: the early batch's GCSE is on the PLR with its
    # completion, 11 working days; the recent batch's GCSE (typed by the early batch's), 5.
    outcomes = [
        (
            str(early.batch_id),
            chunk(early, rejected(1, "RV012"), rejected(2, "RV012"), rejected(3, "RV003")),
            at("2023-05-22T10:00"),
        ),
        (str(early.batch_id), early, at("2023-05-22T10:00:05")),
        (str(recent.batch_id), chunk(recent, rejected(1, "RV012")), at("2023-05-22T10:00")),
        (str(recent.batch_id), recent, at("2023-05-22T10:00:07")),
        (str(whole_failure.batch_id), whole_failure, at("2023-05-22T10:00")),
        (str(theirs.batch_id), theirs, at("2023-05-22T10:00")),
    ]
    if stated:
        # The latest time of each of a batch's qualifications counts: a second completion of the early
        # batch (as a zombie decider's copy would be) names its A level two days later, 23:58 UTC; with
        # the 300 s lag bound it is on the PLR on 25 May (BST): 14.
        again = early.model_copy(update={"on_plr": (on_plr("60000002"),)})
        outcomes += [
            (str(early.batch_id), again, at("2023-05-24T23:58")),
            (str(unstated.batch_id), unstated, at("2023-05-22T10:00")),
        ]
    plr_log = [
        # The early batch's GCSE is on the log at once: 11 working days.
        ("1000000043", recorded(early, "1000000043", "60000001"), at("2023-05-22T10:00:05")),
        # Its A level two days later, 23:58 UTC: with the 300 s lag bound it is on the PLR on 25 May (BST): 14.
        ("1000000051", recorded(early, "1000000051", "60000002"), at("2023-05-24T23:58")),
        # The recent batch's Final supersedes a GCSE (typed by the GCSE recorded above): 5 working days.
        ("1000000043", superseded(recent, "1000000043", "60000001"), at("2023-05-22T10:00:07")),
        ("1000000068", recorded(theirs, "1000000068", "60000001"), at("2023-05-22T10:00")),
    ]
    if stated:
        plr_log.append(("1000000076", recorded(unstated, "1000000076", "60000001"), at("2023-05-22T10:00")))
    answered, unanswered, late, withdrawn = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    achievement = uuid.uuid4()

    def raised(challenge_id: uuid.UUID) -> ChallengeRaised | ChallengeRaisedV1:
        """The first as raised before reasons were sealed, the others sealed: both count."""
        ids = {"challenge_id": challenge_id, "achievement_id": achievement, "ao_id": ao, "uln": "1000000043"}
        if challenge_id == answered:
            return ChallengeRaisedV1(**ids, reason="wrong grade")
        return ChallengeRaised(**ids, reason_sealed="s1.c2VhbGVk")

    challenge_log = [
        (str(achievement), raised(answered), at("2023-05-02T09:00")),
        (
            str(achievement),
            ChallengeAcknowledged(challenge_id=answered, achievement_id=achievement, ao_id=ao),
            at("2023-05-03T09:00"),
        ),
        (
            str(achievement),
            ChallengeResolved(
                challenge_id=answered, achievement_id=achievement, ao_id=ao, resolution=ChallengeResolution.CORRECTED
            ),
            at("2023-05-09T15:00"),  # 4 working days after 2 May (8 May a bank holiday)
        ),
        (str(achievement), raised(unanswered), at("2023-05-10T09:00")),
        (str(achievement), raised(late), at("2023-05-31T23:30")),  # 00:30 on 1 June in the UK
        # the learner withdrew it 19 working days on: it is resolved, but not in the AO's days to resolve (0194)
        (str(achievement), raised(withdrawn), at("2023-05-02T10:00")),
        (
            str(achievement),
            ChallengeResolved(
                challenge_id=withdrawn, achievement_id=achievement, ao_id=ao, resolution=ChallengeResolution.WITHDRAWN
            ),
            at("2023-05-30T15:00"),
        ),
    ]

    published = await Published.watching(
        kafka_bootstrap, (REPORTING_PLR_TIMELINESS, REPORTING_REJECTIONS, REPORTING_CHALLENGES)
    )
    expected_timeliness = {
        "ao_id": ao,
        "period": MAY,
        "projection_lag_bound_seconds": 300,
        "batches_measured": 2,
        "batches_within_10_working_days": 1,
        "median_working_days": 5,
        "worst_working_days": 14,
        "by_qualification_type": [
            {
                "qualification_type": "A level",
                "batches_measured": 1,
                "batches_within_10_working_days": 0,
                "median_working_days": 14,
                "worst_working_days": 14,
            },
            {
                "qualification_type": "GCSE",
                "batches_measured": 2,
                "batches_within_10_working_days": 1,
                "median_working_days": 5,
                "worst_working_days": 11,
            },
        ],
    }
    expected_rejections = {
        "ao_id": ao,
        "period": MAY,
        "records_rejected": 8,
        "batches_failed": 1,
        "by_code": [
            {"code": "RS005", "batches": 1, "records": 10},
            {"code": "RV003", "batches": 1, "records": 1},
            {"code": "RV012", "batches": 2, "records": 3},
        ],
    }
    expected_challenges = {
        "ao_id": ao,
        "period": MAY,
        "raised": 3,
        "acknowledged": 1,  # the one the AO acknowledged: the learner withdrew the other before the AO did anything
        "resolved": 2,
        "still_open": 1,
        "resolutions": {"corrected": 1, "rejected": 0, "upheld": 0, "withdrawn": 1},
        "median_working_days_to_resolve": 4,
        "worst_working_days_to_resolve": 4,
        "acknowledged_by_service_desk": 0,  # events naming no operator: every answer the AO's
        "resolved_by_service_desk": 0,
    }
    wanted = {
        (REPORTING_PLR_TIMELINESS.name, f"{ao}|{MAY}"): expected_timeliness,
        (REPORTING_REJECTIONS.name, f"{ao}|{MAY}"): expected_rejections,
        (REPORTING_CHALLENGES.name, f"{ao}|{MAY}"): expected_challenges,
    }

    async def all_published() -> bool:
        latest = await published.read()
        return all(
            {**expected, "event_type": latest.get(slot, {}).get("event_type")} == latest.get(slot)
            for slot, expected in wanted.items()
        )

    try:
        # The PLR log first, then the outcomes: the join waits for whichever comes second.
        await produce(kafka_bootstrap, PLR_EVENTS.name, *plr_log)
        await produce(kafka_bootstrap, BATCH_OUTCOMES.name, *outcomes)
        await produce(kafka_bootstrap, CHALLENGE_EVENTS.name, *challenge_log)
        # Everything again: a redelivered event changes no number.
        await produce(kafka_bootstrap, PLR_EVENTS.name, *plr_log)
        await produce(kafka_bootstrap, BATCH_OUTCOMES.name, *outcomes)
        await produce(kafka_bootstrap, CHALLENGE_EVENTS.name, *challenge_log)
        await eventually(all_published, within=60, what=f"the expected aggregates; last seen {published.latest}")
    finally:
        await published.stop()

    as_ao, as_other = await bearer(pool, f"ao:{ao}"), await bearer(pool, f"ao:{other_ao}")
    operator = await bearer(pool, "operator:mi")

    plr = (await reporting.get(f"/v1/reports/plr-timeliness?from={MAY}", headers=as_ao)).json()
    assert plr["items"] == [{**expected_timeliness, "event_type": "lrs.reporting.plr_timeliness.aggregated.v1"}]
    theirs_only = (await reporting.get(f"/v1/reports/plr-timeliness?from={MAY}", headers=as_other)).json()
    assert [item["ao_id"] for item in theirs_only["items"]] == [other_ao]
    for report in ("plr-timeliness", "rejections", "challenges"):
        someone_elses = await reporting.get(f"/v1/reports/{report}?from={MAY}&ao_id={ao}", headers=as_other)
        assert (someone_elses.status_code, someone_elses.headers["content-type"]) == (403, "application/problem+json")
    download = await reporting.get(f"/v1/reports/plr-timeliness?from={MAY}&ao_id={ao}&format=csv", headers=operator)
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [(row["qualification_type"], row["batches_measured"], row["worst_working_days"]) for row in rows] == [
        ("all", "2", "14"),
        ("A level", "1", "14"),
        ("GCSE", "2", "11"),
    ]

    over_time = (await reporting.get(f"/v1/reports/rejections?from=2023-04&to={JUNE}", headers=as_ao)).json()
    assert [item["period"] for item in over_time["items"]] == [MAY]
    assert over_time["items"][0]["by_code"] == expected_rejections["by_code"]
    codes_csv = await reporting.get(f"/v1/reports/rejections?from={MAY}&format=csv", headers=as_ao)
    assert [row["code"] for row in csv.DictReader(io.StringIO(codes_csv.text))] == ["RS005", "RV003", "RV012"]

    months = (await reporting.get(f"/v1/reports/challenges?from={MAY}&to={JUNE}", headers=as_ao)).json()["items"]
    assert [(item["period"], item["raised"], item["still_open"]) for item in months] == [(MAY, 3, 1), (JUNE, 1, 1)]
    assert (await reporting.get(f"/v1/reports/challenges?from={MAY}", headers=as_other)).json()["items"] == []

    everyone = (await reporting.get(f"/v1/reports/plr-timeliness?from={MAY}", headers=operator)).json()["items"]
    assert {ao, other_ao} <= {item["ao_id"] for item in everyone}
    too_long = await reporting.get("/v1/reports/rejections?from=2020-01&to=2023-06", headers=as_ao)
    backwards = await reporting.get("/v1/reports/rejections?from=2023-06&to=2023-05", headers=as_ao)
    assert (too_long.status_code, backwards.status_code) == (422, 422)
    assert too_long.headers["content-type"].startswith("application/problem+json")


def quickstart() -> ModuleType:
    spec = importlib.util.spec_from_file_location("analyst_quickstart", ROOT / "docs" / "analyst_quickstart.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_quickstart_document_shows_the_code_that_is_tested() -> None:
    document = (ROOT / "docs" / "analyst-quickstart.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", document, flags=re.DOTALL)
    assert (ROOT / "docs" / "analyst_quickstart.py").read_text(encoding="utf-8") in blocks


def quickstart_commands() -> list[str]:
    """The shell commands of the quickstart's `Run it`, as written."""
    document = (ROOT / "docs" / "analyst-quickstart.md").read_text(encoding="utf-8")
    [block] = re.findall(r"```bash\n(.*?)```", document, flags=re.DOTALL)
    return [line for line in block.splitlines() if line.strip()]


def test_every_program_the_quickstart_runs_comes_with_a_fresh_clone() -> None:
    commands = quickstart_commands()
    assert commands
    for command in commands:
        program = shlex.split(command, comments=True)[0]
        # the clone's own programs (`.venv/bin/...`, made by `make bootstrap`), nothing installed besides
        assert program.startswith(".venv/bin/") and (ROOT / program).is_file(), command


def test_the_quickstart_asks_what_it_can_of_topics_with_nothing_on_them_yet(
    capsys: pytest.CaptureFixture[str],
) -> None:
    guide = quickstart()
    connection = duckdb.connect()
    guide.load(
        connection,
        "rejections",
        [{"ao_id": "RN9093", "period": MAY, "by_code": [{"code": "RV012", "batches": 1, "records": 2}]}],
    )
    guide.load(connection, "challenges", [])

    guide.ask_the_questions(connection)

    out = capsys.readouterr().out
    assert "RV012" in out
    assert "plr_timeliness: nothing on lrs.reporting.plr_timeliness.v1 yet" in out
    assert "challenges: nothing on lrs.reporting.challenges.v1 yet" in out


def test_a_topic_with_nothing_on_it_now_leaves_no_table_from_an_earlier_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    guide = quickstart()
    connection = duckdb.connect()
    raised = {"ao_id": "RN9093", "period": MAY, "raised": 1, "resolved": 1, "still_open": 0}
    guide.load(connection, "challenges", [{**raised, "median_working_days_to_resolve": 2}])

    guide.load(connection, "challenges", [])  # run again after the topics were emptied (a new installation)

    guide.ask_the_questions(connection)
    assert "challenges: nothing on lrs.reporting.challenges.v1 yet" in capsys.readouterr().out


def test_a_code_or_resolution_no_row_names_reads_null_not_an_error() -> None:
    # rejections_by_code and resolutions are objects of counts: one type whichever names the rows hold, so a
    # query that named a code works next month too, and an empty object still sums
    guide = quickstart()
    connection = duckdb.connect()
    named = {"ao_id": "RN9093", "period": MAY, "rejections_by_code": {"RV012": 1, "RS005": 1}}
    guide.load(connection, "submissions", [named, {**named, "ao_id": "RN9037", "rejections_by_code": {}}])
    raised = {"ao_id": "RN9093", "period": MAY, "raised": 1, "resolved": 0, "still_open": 1}
    guide.load(connection, "challenges", [{**raised, "resolutions": {}}])

    by_code = connection.sql(
        "SELECT ao_id, rejections_by_code['RV021'], coalesce(rejections_by_code['RV012'], 0) + 1"
        " FROM submissions ORDER BY ao_id"
    ).fetchall()
    upheld = connection.sql("SELECT sum(coalesce(resolutions['upheld'], 0)) FROM challenges").fetchall()

    assert by_code == [("RN9037", None, 1), ("RN9093", None, 2)]
    assert upheld == [(0,)]


def test_lists_every_row_holds_empty_still_load_as_lists_of_structs_the_questions_can_sum() -> None:
    # a new installation's months carry no rejection yet (`by_code: []`): DuckDB alone types such a list JSON[],
    # and the quickstart's "which codes reject most" then fails with `sum(JSON)`
    guide = quickstart()
    connection = duckdb.connect()
    month = {"ao_id": "RN9093", "period": MAY, "records_rejected": 0, "batches_failed": 0, "by_code": []}
    guide.load(connection, "rejections", [month, {**month, "ao_id": "RN9037"}])
    measured = {"ao_id": "RN9093", "period": MAY, "batches_measured": 0, "by_qualification_type": []}
    guide.load(connection, "plr_timeliness", [measured])

    most = connection.sql(
        "SELECT rejection.code, sum(rejection.records) AS records"
        " FROM (SELECT unnest(by_code) AS rejection FROM rejections)"
        " WHERE rejection.code <> 'RS005' GROUP BY rejection.code"
    ).fetchall()
    late = connection.sql(
        "SELECT sum(part.batches_measured - part.batches_within_10_working_days)"
        " FROM (SELECT unnest(by_qualification_type) AS part FROM plr_timeliness)"
    ).fetchall()

    assert most == [] and late == [(None,)]
    assert connection.sql(guide.REJECTIONS_BY_CODE_PER_MONTH).types[2:] == ["VARCHAR", "BIGINT", "BIGINT"]


async def run_as_written(command: str, home: Path, kafka_bootstrap: str) -> tuple[int, str]:
    shell = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        command,
        cwd=ROOT,
        env={**os.environ, "HOME": str(home), "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await shell.communicate()
    return await shell.wait(), output.decode()


async def test_the_analyst_quickstart_loads_what_a_running_reporting_service_published_into_duckdb(
    kafka_bootstrap: str, reporting: httpx.AsyncClient, tmp_path: Path
) -> None:
    ao = random_ao()
    batch = completed(ao, "2023-05-15", accepted=2, rejected=1, on_plr=(on_plr("60000002"),))
    await produce(
        kafka_bootstrap,
        BATCH_OUTCOMES.name,
        (str(batch.batch_id), chunk(batch, rejected(1, "RV012")), at("2023-05-22T10:00")),
        (str(batch.batch_id), batch, at("2023-05-22T10:00")),
    )
    guide = quickstart()
    connection = duckdb.connect()

    async def loaded_with_our_ao() -> list[tuple[Any, ...]] | None:
        # The topics are read one after another, and the batch's aggregates go out one after another:
        # wait until every table this test reads has our AO.
        await guide.load_reporting_topics(kafka_bootstrap, connection)
        tables = ("submissions", "rejections", "plr_timeliness")
        if not set(tables) <= {row[0] for row in connection.sql("SHOW TABLES").fetchall()}:
            return None
        if not all(connection.execute(f"SELECT 1 FROM {t} WHERE ao_id = ?", [ao]).fetchall() for t in tables):
            return None
        rows = connection.sql(guide.PLR_TIMELINESS_BY_QUALIFICATION_TYPE).fetchall()
        return [row for row in rows if row[0] == ao] or None

    timeliness = await eventually(loaded_with_our_ao, within=60, what="our AO's aggregates in DuckDB")
    assert timeliness == [(ao, MAY, "A level", 1, 1, 5, 5)]
    rejections = [row for row in connection.sql(guide.REJECTIONS_BY_CODE_PER_MONTH).fetchall() if row[0] == ao]
    assert rejections == [(ao, MAY, "RV012", 1, 1)]
    submissions = connection.execute(
        "SELECT batches_completed, records_rejected FROM submissions WHERE ao_id = ?", [ao]
    ).fetchall()
    assert submissions == [(1, 1)]

    # The same as an analyst runs it: the file lands where the document names it, not in the clone.
    in_the_clone = set(ROOT.glob("*.duckdb"))
    load, ask = quickstart_commands()
    loaded, loading = await run_as_written(load, tmp_path, kafka_bootstrap)
    assert loaded == 0, loading
    assert "'plr_timeliness': " in loading
    asked, answer = await run_as_written(ask, tmp_path, kafka_bootstrap)
    assert asked == 0, answer
    assert "period" in answer.splitlines()[1]  # a table of the rows, its header first
    assert (tmp_path / "lrs-mi.duckdb").is_file()
    assert set(ROOT.glob("*.duckdb")) == in_the_clone


async def test_faust_log_lines_are_json_like_every_other_line(
    kafka_bootstrap: str, fresh_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = ReportingSettings(
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        DATABASE_URL=fresh_database_url,
        app_id=f"reporting-logs-{uuid.uuid4().hex[:8]}",
        log_json=True,
    )
    # the service's logging writes to this test's captured stdout, closed once the test ends: put back what
    # the root logger had, or a later log line (an SMTP server's thread, say) meets a closed file
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    app = create_app(settings)
    # Faust's own modules say more at INFO; the service keeps them at WARNING.
    logging.getLogger("faust").setLevel(logging.INFO)
    logging.getLogger("mode").setLevel(logging.INFO)
    try:
        async with LifespanManager(app, startup_timeout=60, shutdown_timeout=40):
            lines: list[str] = []

            async def a_faust_line() -> list[str] | None:
                lines.extend(line for line in capsys.readouterr().out.splitlines() if line.strip())
                found = [line for line in lines if '"event": "[^' in line]  # mode's services: [^ReportingApp]: ...
                return found or None

            faust_lines = await eventually(a_faust_line, within=60, what="a log line from faust")
    finally:
        logging.getLogger("faust").setLevel(logging.WARNING)
        logging.getLogger("mode").setLevel(logging.WARNING)
        root.handlers[:] = handlers
        root.setLevel(level)
    lines.extend(line for line in capsys.readouterr().out.splitlines() if line.strip())
    parsed = [json.loads(line) for line in lines]  # every line, faust's or ours, is one JSON object
    # a thread an earlier test left (an SMTP server's, a service's) may write a line of its own service meanwhile
    ours = [entry for entry in parsed if entry.get("service") in (None, "reporting")]
    unlike = [
        entry
        for entry in ours
        if entry.get("service") != "reporting" or not {"event", "level", "timestamp"} <= set(entry)
    ]
    assert ours and not unlike, unlike[:5]
    assert {json.loads(line)["event"] for line in faust_lines} >= {"[^ReportingApp]: Starting..."}
