"""The Idempotency-Keys of centre reports: which report each (provider, key) was first used for.

Nothing on the log says which key a report came with, so the keys are kept in the operations schema,
which a rebuild switch leaves alone. A key is remembered before its report is published: two requests
with one key, at the same time or one after the other, are answered for the same report, or refused when
their reports differ. Only a key's SHA-256 is stored (`key_sha256`, ops migration 0009): the key is free
text the provider chose, which may name the learner, and the table outlives the learner's erasure.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

import asyncpg

from lrs_contracts.plr import CentreAchievementReported
from plr_projector.store import OPS_SCHEMA

_TABLE = f"{OPS_SCHEMA}.centre_report_keys"


# As ingest takes a batch's key: visible ASCII only, so that it is stored and compared as sent
def report_sha256(report: CentreAchievementReported) -> str:
    """What makes two requests the same report: every field of the report as it goes on the log (its
    qualification number normalised), whatever the order or spelling of the JSON that carried it."""
    return hashlib.sha256(report.model_dump_json(exclude={"report_id"}).encode()).hexdigest()


def key_sha256(idempotency_key: str) -> str:
    """What is stored of a key, and looked up: the SHA-256 of its UTF-8 bytes, in hex (as the migration computes
    `encode(sha256(convert_to(key, 'UTF8')), 'hex')` of the keys it found)."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()


@dataclass(frozen=True)
class KeyedReport:
    report_id: uuid.UUID
    event_id: uuid.UUID
    request_sha256: str
    partition: int | None  # where the report is on the PLR log; None until it was published
    offset: int | None


async def remember(
    connection: asyncpg.Connection, provider_ukprn: str, idempotency_key: str, report: KeyedReport
) -> KeyedReport:
    """The report the key is for: `report` when the key is new, else the one it was first used for."""
    stored_key = key_sha256(idempotency_key)
    await connection.execute(
        f"INSERT INTO {_TABLE} (provider_ukprn, idempotency_key, request_sha256, report_id, event_id)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        provider_ukprn,
        stored_key,
        report.request_sha256,
        report.report_id,
        report.event_id,
    )
    row = await connection.fetchrow(
        f'SELECT report_id, event_id, request_sha256, partition, "offset" FROM {_TABLE}'
        " WHERE provider_ukprn = $1 AND idempotency_key = $2",
        provider_ukprn,
        stored_key,
    )
    assert row is not None, "a remembered key is never forgotten"
    return KeyedReport(row["report_id"], row["event_id"], row["request_sha256"], row["partition"], row["offset"])


async def published_report(
    connection: asyncpg.Connection, provider_ukprn: str, idempotency_key: str
) -> uuid.UUID | None:
    """The report the key was first used for, if it is on the log (read only: a refused request keeps no key)."""
    found: uuid.UUID | None = await connection.fetchval(
        f'SELECT report_id FROM {_TABLE} WHERE provider_ukprn = $1 AND idempotency_key = $2 AND "offset" IS NOT NULL',
        provider_ukprn,
        key_sha256(idempotency_key),
    )
    return found


async def published_at(
    connection: asyncpg.Connection, provider_ukprn: str, idempotency_key: str, partition: int, offset: int
) -> None:
    """Where the key's report went on the log; a later request with the key answers it without publishing."""
    await connection.execute(
        f'UPDATE {_TABLE} SET partition = $3, "offset" = $4'
        " WHERE provider_ukprn = $1 AND idempotency_key = $2 AND partition IS NULL",
        provider_ukprn,
        key_sha256(idempotency_key),
        partition,
        offset,
    )
