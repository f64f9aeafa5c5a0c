"""`python -m bench.reporting_alone`: reporting's CPU per record, with nothing else running (decision 0037).

Starts reporting on a database of its own, lets it apply one small batch (so start-up and the bank
holiday tables are behind it), then produces `--batches` batches of `--records` PLR events with
their decided chunks and outcomes, as validation writes them (the completion naming the batch's
qualifications, decision 0107), and waits until reporting's consumer groups have committed the ends of
the topics. `--read-plr-log` runs reporting with `REPORTING_READ_PLR_LOG=true`, as before decision 0107. Prints the process's CPU seconds over that
time (all threads, from /proc) per record, its idle CPU rate and its peak RSS. Needs
KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL (`scripts/dev/with-infra.sh` gives fresh ones); the
broker must be one of its own, as reporting's new groups read its topics from the start.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.processes import ServiceProcess, free_port
from bench.system import create_database
from lrs_contracts.batch import JobType
from lrs_contracts.envelope import Contract
from lrs_contracts.outcomes import (
    BatchCompleted,
    BatchCounts,
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
    Provenance,
    QualificationSummary,
    ResultStatus,
)
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import BATCH_OUTCOMES, PLR_EVENTS, Topic
from lrs_platform.kafka import ensure_topics
from reporting.config import ReportingSettings

TYPES = ("GCSE", "A level", "BTEC", "Functional Skills")
REJECTED_EVERY = 33  # ~3% of the records, as in the benchmark's workload
CHUNK = 1_000


def _message(payload: Contract, batch_id: uuid.UUID) -> bytes:
    return encode(wrap(payload, source="validation", correlation_id=str(batch_id)))


def _outcome(line: int) -> RecordOutcome:
    if line % REJECTED_EVERY:
        return RecordOutcome(line=line, mis_identifier=f"MIS-{line}", status=RecordStatus.ACCEPTED)
    finding = Finding(code="RV012", field="grade", message="The grade is not one of the qualification's grades")
    return RecordOutcome(line=line, mis_identifier=f"MIS-{line}", status=RecordStatus.REJECTED, errors=(finding,))


async def produce_batch(producer: AIOKafkaProducer, ao_id: str, first_uln: int, records: int) -> None:
    batch_id = uuid.uuid4()
    sent = []
    on_plr: dict[str, str] = {}
    for line in range(1, records + 1):
        uln = str(first_uln + line)
        event = AchievementRecorded(
            achievement_id=uuid.uuid4(),
            key=AchievementKey(
                ao_id=ao_id, uln=uln, qualification_number=f"6{line % 40:07d}", award_date=date(2026, 6, 1)
            ),
            data=AchievementData(grade="A", ukprn="10000001", language_for_assessment="English"),
            status=ResultStatus.FINAL,
            qualification=QualificationSummary(
                title="A qualification with a title of a usual length",
                qualification_type=TYPES[line % len(TYPES)],
                level="2",
                framework="RQF",
                kind="qualification",
                awarding_organisation_name="An awarding organisation",
            ),
            provenance=Provenance(batch_id=batch_id, line=line),
        )
        on_plr.setdefault(event.key.qualification_number, TYPES[line % len(TYPES)])
        sent.append(await producer.send(PLR_EVENTS.name, _message(event, batch_id), key=uln.encode()))
    outcomes = [_outcome(line) for line in range(1, records + 1)]
    for index in range(0, records, CHUNK):
        chunk = BatchRecordsDecided(
            batch_id=batch_id, ao_id=ao_id, chunk_index=index // CHUNK, outcomes=tuple(outcomes[index : index + CHUNK])
        )
        sent.append(await producer.send(BATCH_OUTCOMES.name, _message(chunk, batch_id), key=str(batch_id).encode()))
    rejected = sum(1 for outcome in outcomes if outcome.status is RecordStatus.REJECTED)
    now = datetime.now(UTC)
    completed = BatchCompleted(
        batch_id=batch_id,
        ao_id=ao_id,
        job_type=JobType.FINAL,
        notification_email="mi@ao.example",
        counts=BatchCounts(total=records, accepted=records - rejected, rejected=rejected, no_ops=0, warnings=0),
        submitted_at=now,
        decided_at=now,
        results_issued_date=now.date().isoformat(),
        on_plr=tuple(QualificationOnPlr(qualification_number=q, qualification_type=t) for q, t in on_plr.items()),
    )
    sent.append(await producer.send(BATCH_OUTCOMES.name, _message(completed, batch_id), key=str(batch_id).encode()))
    await asyncio.gather(*sent)


def cpu_seconds(pid: int) -> float:
    """User + system time of every thread of the process."""
    ticks = 0
    for thread in os.listdir(f"/proc/{pid}/task"):
        fields = Path(f"/proc/{pid}/task/{thread}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) // 1024


async def caught_up(bootstrap: str, groups: list[str], topics: tuple[Topic, ...]) -> None:
    partitions = [TopicPartition(topic.name, p) for topic in topics for p in range(topic.partitions)]
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await probe.start()
    await admin.start()
    try:
        ends = await probe.end_offsets(partitions)
        while True:
            committed = {}
            for group in groups:
                committed.update(await admin.list_consumer_group_offsets(group))
            # a partition nothing was written to has nothing committed either
            if all(committed[p].offset >= ends[p] if p in committed else ends[p] == 0 for p in partitions):
                return
            await asyncio.sleep(0.5)
    finally:
        await admin.close()
        await probe.stop()


async def main(batches: int, records: int, read_plr_log: bool) -> None:
    bootstrap, server_url = os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["DATABASE_URL"]
    name = f"reporting_alone_{uuid.uuid4().hex[:8]}"
    database_url = await create_database(server_url, name)
    await ensure_topics(bootstrap)
    settings = ReportingSettings(app_id=f"lrs-reporting-{name}")
    log_dir = Path("bench/results/logs") / name
    log_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REPORTING_APP_ID": settings.app_id,
        "REPORTING_PORT": str(port),
        "REPORTING_DATA_DIR": str(log_dir / "reporting-data"),
        "REPORTING_LOG_LEVEL": "warning",
        "REPORTING_READ_PLR_LOG": str(read_plr_log).lower(),
    }
    service = ServiceProcess("reporting", port, env, log_dir / "reporting.log")
    service.start()
    assert service.process is not None
    pid = service.process.pid
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20)
    connection = await asyncpg.connect(database_url)
    try:
        await service.wait_ready()
        await producer.start()
        ao_id = f"RN{uuid.uuid4().int % 10**6}"
        await produce_batch(producer, ao_id, 1_000_000_000, 100)
        groups = [settings.app_id, *([settings.plr_log_group] if read_plr_log else [])]
        topics = (BATCH_OUTCOMES, PLR_EVENTS) if read_plr_log else (BATCH_OUTCOMES,)
        await caught_up(bootstrap, groups, topics)
        idle_from = cpu_seconds(pid)
        await asyncio.sleep(10)
        idle_rate = (cpu_seconds(pid) - idle_from) / 10
        started, cpu_before = time.monotonic(), cpu_seconds(pid)
        for batch in range(batches):
            await produce_batch(producer, ao_id, 1_100_000_000 + batch * records, records)
        await caught_up(bootstrap, groups, topics)
        cpu = cpu_seconds(pid) - cpu_before
        elapsed = time.monotonic() - started
        facts = await connection.fetchval("SELECT count(*) FROM reporting.batch_facts")
        total = batches * records
        result = {
            "records": total,
            "cpu_s": round(cpu, 2),
            "cpu_us_per_record": round(cpu / total * 1e6, 1),
            "elapsed_s": round(elapsed, 1),
            "idle_cpu_s_per_s": round(idle_rate, 3),
            "batch_facts": facts,
            "peak_rss_mb": peak_rss_mb(pid),
        }
        print(json.dumps(result))
    finally:
        await connection.close()
        await producer.stop()
        service.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--read-plr-log", action="store_true", help="read the PLR log, as before decision 0107")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.batches, arguments.records, arguments.read_plr_log))
