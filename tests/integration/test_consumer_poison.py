"""Every consumer survives a message it cannot apply: parked on `<topic>.dlq`, the next one goes on.

The poison is produced straight onto the topics (as a buggy producer, or a message from before the
door refused it, would be). The services run in-process behind a real HTTP port, so `lrs dlq` talks to
them as it would in production.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI
from tests.integration.test_notifier import batch_completed, envelope
from tests.support.databases import create_key_store
from tests.support.kafka import send
from tests.support.mail import Inbox, notifier_settings
from tests.support.reporting_store import reporting_reads_from_the_ends
from tests.support.serving import served
from tests.support.waiting import eventually

from ingest.bootstrap import create_app as create_ingest
from ingest.config import IngestSettings
from lrs_cli import dlq_commands
from lrs_cli.client import Connection
from lrs_cli.output import replay_text
from lrs_contracts.batch import JobType
from lrs_contracts.dead_letters import DeadLetter
from lrs_contracts.outcomes import BatchCompleted, BatchCounts, BatchRecordsDecided, RecordOutcome, RecordStatus
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import BATCH_OUTCOMES, CHALLENGE_EVENTS, Topic
from lrs_platform.credential_store import CredentialStore
from lrs_platform.identity import Principal
from lrs_platform.kafka import ensure_topics
from notifier.bootstrap import create_app as create_notifier
from reporting.bootstrap import create_app as create_reporting
from reporting.config import ReportingSettings

pytestmark = pytest.mark.integration

OUTCOMES_PARTITION = 0  # poison and the messages after it share a partition: the old loops stalled on it
NOW = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)


async def issue(app: FastAPI, principal: str) -> str:
    store: CredentialStore = app.state.credentials
    return (await store.issue(Principal.parse(principal), label="consumer-poison-tests")).token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def produce(bootstrap: str, *messages: tuple[bytes, bytes]) -> list[int]:
    """(key, value) pairs onto one partition of the outcomes topic; returns their offsets."""
    return await send(bootstrap, BATCH_OUTCOMES.name, messages, partition=OUTCOMES_PARTITION)


@asynccontextmanager
async def ingest_caught_up(
    kafka_bootstrap: str, database_url: str, group: str
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """Ingest served with its batch view's consumer (a new group named from `group`) caught up, and a client."""
    await ensure_topics(kafka_bootstrap)
    settings = IngestSettings(
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        DATABASE_URL=database_url,
        outcomes_group_id=f"{group}-{uuid.uuid4().hex[:8]}",
        log_json=True,
    )
    await create_key_store(database_url)
    app = create_ingest(settings)
    async with served(app) as url, httpx.AsyncClient(base_url=url, timeout=60) as client:
        consumer = app.state.outcome_consumer
        await eventually(lambda: _true(consumer.caught_up), within=120, what="the outcome consumer caught up")
        yield app, client


@asynccontextmanager
async def reporting_at_end(
    kafka_bootstrap: str, database_url: str, app_id: str
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """Reporting served under a new app id (from `app_id`) that reads its topics from their end, and a client: its
    store is marked begun, or it would read the shared topics' history again, other tests' poison included."""
    await ensure_topics(kafka_bootstrap)
    app_id = f"{app_id}-{uuid.uuid4().hex[:8]}"
    await reporting_reads_from_the_ends(kafka_bootstrap, database_url, app_id, (BATCH_OUTCOMES, CHALLENGE_EVENTS))
    settings = ReportingSettings(
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, DATABASE_URL=database_url, app_id=app_id, log_json=True
    )
    app = create_reporting(settings)
    async with served(app) as url, httpx.AsyncClient(base_url=url, timeout=60) as client:
        yield app, client


@asynccontextmanager
async def dead_letters_from_now(bootstrap: str, topic: Topic = BATCH_OUTCOMES) -> AsyncIterator[AIOKafkaConsumer]:
    """A reader of `topic`'s DLQ (the outcomes topic's unless said), positioned at its current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic.dead_letters, p) for p in range(topic.partitions)]
        consumer.assign(partitions)
        for partition, offset in (await consumer.end_offsets(partitions)).items():
            consumer.seek(partition, offset)
        yield consumer
    finally:
        await consumer.stop()


async def dead_letter_of(reader: AIOKafkaConsumer, value: bytes) -> tuple[bytes | None, DeadLetter]:
    found: list[tuple[bytes | None, DeadLetter]] = []

    async def arrived() -> list[tuple[bytes | None, DeadLetter]]:
        for records in (await reader.getmany(timeout_ms=200)).values():
            found.extend(
                (record.key, DeadLetter.from_headers(record.headers)) for record in records if record.value == value
            )
        return found

    [letter] = await eventually(arrived, within=60, what="the dead letter")
    return letter


def with_text(value: bytes, old: str, new: str) -> bytes:
    """The encoded envelope with one JSON string replaced: what no model would let us build."""
    replaced = value.replace(json.dumps(old).encode(), json.dumps(new).encode())
    assert replaced != value
    return replaced


async def metric(client: httpx.AsyncClient, sample: str) -> float:
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@contextmanager
def cli_pointed_at(service: str, url: str) -> Iterator[None]:
    variable = f"LRS_{service.upper().replace('-', '_')}_URL"
    os.environ[variable] = url
    try:
        yield
    finally:
        del os.environ[variable]


def outcomes_of(batch_id: uuid.UUID, ao_id: str, mis_identifier: str = "CAND-1") -> list[bytes]:
    chunk = BatchRecordsDecided(
        batch_id=batch_id,
        ao_id=ao_id,
        chunk_index=0,
        outcomes=(RecordOutcome(line=1, mis_identifier=mis_identifier, status=RecordStatus.ACCEPTED),),
    )
    completed = BatchCompleted(
        batch_id=batch_id,
        ao_id=ao_id,
        job_type=JobType.FINAL,
        notification_email="results@ao.example",
        counts=BatchCounts(total=1, accepted=1, rejected=0, no_ops=0, warnings=0),
        submitted_at=NOW,
        decided_at=NOW,
    )
    return [encode(wrap(payload, source="validation", correlation_id=str(batch_id))) for payload in (chunk, completed)]


async def test_ingest_parks_an_outcome_postgresql_refuses_and_the_next_batch_still_becomes_final(
    kafka_bootstrap: str, fresh_database_url: str
) -> None:
    async with ingest_caught_up(kafka_bootstrap, fresh_database_url, "ingest-poison") as (app, client):
        ao_id = f"RN{uuid.uuid4().int % 10**8:08d}"
        as_ao, operator = bearer(await issue(app, f"ao:{ao_id}")), await issue(app, "operator:dlq-tests")
        poisoned, following = uuid.uuid4(), uuid.uuid4()
        nul_chunk, poisoned_end = outcomes_of(poisoned, ao_id)
        nul_chunk = with_text(nul_chunk, "CAND-1", "CAND\x00-1")  # PostgreSQL text refuses NUL

        async with dead_letters_from_now(kafka_bootstrap) as reader:
            offsets = await produce(
                kafka_bootstrap,
                (str(poisoned).encode(), nul_chunk),
                (str(poisoned).encode(), poisoned_end),
                *[(str(following).encode(), value) for value in outcomes_of(following, ao_id)],
            )

            async def final() -> bool | None:
                response = await client.get(f"/v1/batches/{following}?wait_until_decided=5", headers=as_ao)
                return (response.status_code == 200 and response.json()["status"] == "completed") or None

            await eventually(final, within=90, what="the next batch's view final")
            key, letter = await dead_letter_of(reader, nul_chunk)

        assert key == str(poisoned).encode()
        assert (letter.consumer, letter.original_topic) == ("ingest.batch-view", BATCH_OUTCOMES.name)
        assert (letter.original_partition, letter.original_offset) == (OUTCOMES_PARTITION, offsets[0])
        assert letter.error.startswith("CharacterNotInRepertoireError")
        assert letter.event_type == "lrs.batch.records.decided.v1"
        # the batch's completion waits behind its poisoned chunk
        view = (await client.get(f"/v1/batches/{poisoned}", headers=as_ao)).json()
        assert view["status"] != "completed"

        # A new group starts 5 minutes back: earlier runs' poison on the shared broker may be parked too.
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"]["consumer ingest.batch-view"].startswith("ok: ")
        assert await metric(client, 'lrs_consumer_parked_messages{consumer="ingest.batch-view",reason="error"}') >= 1
        lag = f'lrs_consumer_lag_messages{{consumer="ingest.batch-view",topic="{BATCH_OUTCOMES.name}"}}'

        async def nothing_waits() -> bool | None:  # the poison parked, the rest applied: none waits
            return f"\n{lag} 0.0\n" in (await client.get("/metrics")).text or None

        await eventually(nothing_waits, within=30, what="the batch view's lag counted, nothing waiting")

        with cli_pointed_at("ingest", str(client.base_url).rstrip("/")):
            listing = await asyncio.to_thread(dlq_commands.dlq_list, Connection(operator), "ingest", key=str(poisoned))
            rows = [line.split() for line in listing.splitlines()[1:]]
            assert [(row[4], row[5]) for row in rows] == [(str(offsets[0]), "error"), (str(offsets[1]), "blocked")]
            # what a retry or skip of the blocked one acts on: its whole stream, the poison first
            stream = (await client.get(f"/v1/admin/dlq/{rows[1][0]}", headers=bearer(operator))).json()
            assert [row["offset"] for row in stream["parked"]] == offsets[:2] and stream["total"] == 2
            skipped = await asyncio.to_thread(
                dlq_commands.dlq_skip, Connection(operator), "ingest", rows[0][0], None, "NUL byte, batch re-sent"
            )
        assert "applied 1, skipped 1, still parked 0" in replay_text(skipped), skipped
        view = (await client.get(f"/v1/batches/{poisoned}", headers=as_ao)).json()
        assert view["status"] == "completed"
        as_operator = bearer(operator)
        left = await client.get("/v1/admin/dlq", params={"key": str(poisoned)}, headers=as_operator)
        assert left.json() == {"parked": [], "total": 0}
        gone = await client.get(f"/v1/admin/dlq/{rows[1][0]}", headers=as_operator)
        assert gone.status_code == 404 and gone.json()["detail"] == f"no parked message {rows[1][0]}"
        forbidden = await client.get("/v1/admin/dlq", headers=as_ao)
        assert forbidden.status_code == 403
        # the skip is kept after its rows are gone: who, which message, why, what followed
        actions = (await client.get("/v1/admin/dlq/actions", headers=as_operator)).json()["actions"]
        skip = next(action for action in actions if action["offset"] == offsets[0] and action["action"] == "skip")
        assert (skip["operator"], skip["reason"], skip["consumer"]) == (
            "operator:dlq-tests",
            "NUL byte, batch re-sent",
            "ingest.batch-view",
        )
        assert (skip["applied"], skip["skipped"], skip["still_parked"]) == (1, 1, 0)
        assert (await client.get("/v1/admin/dlq/actions", headers=as_ao)).status_code == 403


async def test_notifier_parks_an_outcome_whose_recipient_cannot_be_a_header_and_emails_the_next_ao(
    kafka_bootstrap: str, fresh_database_url: str, inbox: Inbox, tmp_path: Path
) -> None:
    app = create_notifier(await notifier_settings(kafka_bootstrap, fresh_database_url, inbox, "notifier-poison"))
    async with served(app) as url, httpx.AsyncClient(base_url=url, timeout=60) as client:
        operator = await issue(app, "operator:dlq-tests")
        poisoned, following = uuid.uuid4(), uuid.uuid4()
        first = batch_completed(poisoned, "results@ao-a.example")
        first_envelope = envelope(first)
        crlf = with_text(encode(first_envelope), "results@ao-a.example", "results@ao-a.example\r\nBcc: x@else.example")
        nxt = envelope(batch_completed(following, "results@ao-b.example"))

        async with dead_letters_from_now(kafka_bootstrap) as reader:
            offsets = await produce(
                kafka_bootstrap, (str(poisoned).encode(), crlf), (str(following).encode(), encode(nxt))
            )
            await eventually(
                lambda: _list(inbox.with_message_id(f"<{nxt.event_id}@lrs.local>")), within=90, what="the next email"
            )
            key, letter = await dead_letter_of(reader, crlf)

        assert key == str(poisoned).encode()
        assert (letter.consumer, letter.original_offset) == ("notifier", offsets[0])
        assert letter.error.startswith("ValueError") and "linefeed" in letter.error
        assert letter.attempts == 3
        assert not [message for message in inbox.messages if message["To"] == "results@ao-a.example"]
        ready = await client.get("/readyz")
        assert (ready.status_code, ready.json()["checks"]["consumer notifier"]) == (
            200,
            "ok: 1 parked, 0 held behind them",
        )

        with cli_pointed_at("notifier", url):
            listing = await asyncio.to_thread(dlq_commands.dlq_list, Connection(operator), "notifier")
            everywhere = await asyncio.to_thread(dlq_commands.dlq_list, Connection(operator), "all")
        [row] = [line.split() for line in listing.splitlines()[1:]]
        assert (row[1], row[4], row[5]) == ("notifier", str(offsets[0]), "error"), listing
        assert "== notifier\n" + listing in everywhere
        assert "== ingest\nunavailable" in everywhere

        # The operator mends the message: a corrected copy applied in its place (the log keeps the original).
        corrected = tmp_path / "corrected.json"
        corrected.write_bytes(encode(first_envelope))  # the same event, mended: its id kept
        with cli_pointed_at("notifier", url):
            [retried] = await asyncio.to_thread(
                dlq_commands.dlq_retry, Connection(operator), "notifier", row[0], None, str(corrected)
            )
        assert (retried["applied"], retried["still_parked"]) == (1, 0), retried
        await eventually(
            lambda: _list([message for message in inbox.messages if message["To"] == "results@ao-a.example"]),
            within=60,
            what="the mended batch's email",
        )


async def test_reporting_gives_up_on_a_poison_after_bounded_retries_parks_it_and_counts_the_next_batch(
    kafka_bootstrap: str, fresh_database_url: str
) -> None:
    async with reporting_at_end(kafka_bootstrap, fresh_database_url, "reporting-poison") as (app, client):
        as_operator = bearer(await issue(app, "operator:dlq-tests"))
        ao_id = f"RN{uuid.uuid4().int % 10**6}"
        poisoned, following = uuid.uuid4(), uuid.uuid4()
        _, poisoned_end = outcomes_of(poisoned, ao_id)
        nul_ao = with_text(poisoned_end, ao_id, ao_id + "\x00")  # the fact's ao_id: PostgreSQL refuses it
        _, following_end = outcomes_of(following, ao_id)
        failures_before = await metric(client, 'lrs_consumer_failures_total{consumer="reporting",kind="poison"}')

        async with dead_letters_from_now(kafka_bootstrap) as reader:
            offsets = await produce(
                kafka_bootstrap, (str(poisoned).encode(), nul_ao), (str(following).encode(), following_end)
            )

            async def counted() -> Any:
                response = await client.get(
                    f"/v1/reports/submissions?period=2025-06&ao_id={ao_id}", headers=as_operator
                )
                items = response.json()["items"]
                return items if items and items[0]["batches_completed"] == 1 else None

            await eventually(counted, within=90, what="the next batch counted")
            key, letter = await dead_letter_of(reader, nul_ao)

        assert key == str(poisoned).encode()
        assert (letter.consumer, letter.original_offset) == ("reporting", offsets[0])
        assert letter.error.startswith("CharacterNotInRepertoireError")
        assert letter.attempts == 3  # RetryPolicy.poison_attempts: bounded, then parked
        failures = await metric(client, 'lrs_consumer_failures_total{consumer="reporting",kind="poison"}')
        assert failures - failures_before == 3
        parked = (await client.get("/v1/admin/dlq", headers=as_operator)).json()["parked"]
        assert [(item["offset"], item["reason"]) for item in parked] == [(offsets[0], "error")]


async def _true(value: bool) -> bool | None:
    return value or None


async def _list(value: list[Any]) -> list[Any]:
    return value
