"""A centre report's Idempotency-Key is kept only as its SHA-256, on real Kafka and PostgreSQL.

The key is free text the provider chooses, and may name the learner; `plr_ops.centre_report_keys` outlives the
learner's erasure. The table holds the key's SHA-256 (hex) beside the report id, never the key: a retry is still
answered once, byte for byte, and another report under the key still refused. Ops migration 0009 hashes the keys
an earlier release stored, and a retry after the upgrade finds its report.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from tests.support.projector import LEARNERS, PARTITIONS, PLR, App, linked, project, record, registered, uln_for

from lrs_platform.database import apply_migrations
from plr_projector import centre_reports
from plr_projector.store import OPS_MIGRATIONS, OPS_SCHEMA

pytestmark = pytest.mark.integration

PROVIDER = "provider:10007001"
CENTRE = "/v1/centre/achievements"
WORDS = ("perpetua", "glimmerstone", "1993-04-04")


def _key() -> str:
    """A key naming the learner and their date of birth, unique to the run."""
    return f"perpetua-glimmerstone-1993-04-04-weaving-{uuid.uuid4().hex[:8]}"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def _report(app: App, body: dict[str, Any], key: str) -> httpx.Response:
    async with await app.client(PROVIDER) as client:
        return await client.post(CENTRE, json=body, headers={"Idempotency-Key": key})


async def _plr_log_ends(bootstrap: str, prefix: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(prefix + PLR, partition) for partition in range(PARTITIONS)]
        return {tp.partition: offset for tp, offset in (await consumer.end_offsets(partitions)).items()}
    finally:
        await consumer.stop()


async def _ops_tables_holding(connection: asyncpg.Connection, words: tuple[str, ...]) -> list[str]:
    tables = await connection.fetch(
        "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) AS name FROM information_schema.tables"
        " WHERE table_type = 'BASE TABLE' AND table_schema = $1 ORDER BY 1",
        OPS_SCHEMA,
    )
    assert tables, "no table in plr_ops"
    patterns = [f"%{word}%" for word in words]
    return [
        row["name"]
        for row in tables
        if await connection.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM {row['name']} t WHERE t::text ILIKE ANY($1::text[]))", patterns
        )
    ]


async def test_a_reports_key_is_stored_as_its_sha256_and_a_retry_is_still_answered_once(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    uln = uln_for(uuid.uuid4().int % 50_000_000)
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [record(registered(uln), uln, topic=LEARNERS), record(linked(uln, PROVIDER), uln, topic=LEARNERS, sequence=1)],
    )
    report = {"uln": uln, "qualification_number": "600/1166/X", "subject": "Weaving (college)", "grade": "B"}
    key = _key()

    first = await _report(app, report, key)
    assert first.status_code == 202, first.text
    ends = await _plr_log_ends(kafka_bootstrap, prefix)
    again = await _report(app, report, key)
    assert (again.status_code, again.content) == (202, first.content)
    other = await _report(app, {**report, "grade": "C"}, key)
    assert other.status_code == 409, other.text
    assert other.json()["title"] == "Idempotency-Key already used for a different report"
    assert first.json()["report_id"] in other.json()["detail"]
    assert await _plr_log_ends(kafka_bootstrap, prefix) == ends

    connection = await asyncpg.connect(app.database_url)
    try:
        stored = await connection.fetch(
            f"SELECT idempotency_key, report_id FROM {OPS_SCHEMA}.centre_report_keys WHERE provider_ukprn = $1",
            PROVIDER.removeprefix("provider:"),
        )
        assert [(row["idempotency_key"], str(row["report_id"])) for row in stored] == [
            (_sha256(key), first.json()["report_id"])
        ]
        assert await _ops_tables_holding(connection, WORDS) == []
    finally:
        await connection.close()


async def test_the_keys_an_earlier_release_stored_are_hashed_on_migration_and_still_answer_their_report(
    fresh_database_url: str,
) -> None:
    """Ops migration 0009."""
    key, other_provider_key = _key(), "batch-2024-001"
    report_id, event_id = uuid.uuid4(), uuid.uuid4()
    connection = await asyncpg.connect(fresh_database_url)
    try:
        await apply_migrations(connection, OPS_SCHEMA, OPS_MIGRATIONS)
        await connection.execute(f"DELETE FROM {OPS_SCHEMA}.schema_migrations WHERE version = 9")
        # as the release before stored them: the key as sent; two providers, one key each, one published
        await connection.executemany(
            f"INSERT INTO {OPS_SCHEMA}.centre_report_keys (provider_ukprn, idempotency_key, request_sha256, report_id,"
            ' event_id, partition, "offset") VALUES ($1, $2, $3, $4, $5, $6, $7)',
            [
                ("10007001", key, "a" * 64, report_id, event_id, 1, 41),
                ("10007002", key, "b" * 64, uuid.uuid4(), uuid.uuid4(), None, None),
                ("10007002", other_provider_key, "c" * 64, uuid.uuid4(), uuid.uuid4(), None, None),
            ],
        )

        applied = await apply_migrations(connection, OPS_SCHEMA, OPS_MIGRATIONS)
        assert applied[0] == "0009_centre_report_keys_sha256.sql", applied
        rows = await connection.fetch(
            f"SELECT provider_ukprn, idempotency_key FROM {OPS_SCHEMA}.centre_report_keys ORDER BY 1, 2"
        )
        assert sorted((row["provider_ukprn"], row["idempotency_key"]) for row in rows) == sorted(
            [("10007001", _sha256(key)), ("10007002", _sha256(key)), ("10007002", _sha256(other_provider_key))]
        )
        assert await _ops_tables_holding(connection, WORDS) == []

        # a retry after the upgrade, with the key as sent: the report of the first request, where it went
        retried = centre_reports.KeyedReport(uuid.uuid4(), uuid.uuid4(), "a" * 64, None, None)
        first = await centre_reports.remember(connection, "10007001", key, retried)
        assert first == centre_reports.KeyedReport(report_id, event_id, "a" * 64, 1, 41)
        count = await connection.fetchval(f"SELECT count(*) FROM {OPS_SCHEMA}.centre_report_keys")
        assert count == 3
    finally:
        await connection.close()
