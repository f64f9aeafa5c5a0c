"""Decision 0121: links made before they were announced go onto the learner log once, on upgrade, as the
event validation writes for a new link (the projector lets only linked providers read a PLR)."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from lrs_contracts.learner import LearnerProviderLinked
from lrs_contracts.registry import decode
from lrs_platform.database import apply_migrations
from lrs_platform.keyring import Keyring, KeyringKey
from validation.learner_registry import LearnerRegistry

pytestmark = pytest.mark.integration

ULN = "1000000043"
LINKED_AT = datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


async def test_links_from_before_0121_are_announced_once_on_upgrade(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        await apply_migrations(connection, "validation", "validation.migrations")
        await connection.execute("DELETE FROM validation.schema_migrations WHERE version = 121")
        await connection.execute(
            "INSERT INTO validation.learners (uln, given_name, family_name, ability_to_share) VALUES ($1, 'A', 'B', 1)",
            ULN,
        )
        await connection.execute(
            "INSERT INTO validation.learner_links (uln, provider_ukprn, linked_by, linked_at) VALUES"
            " ($1, '10004567', 'provider:10004567', $2), ($1, '10009999', 'operator:tests', $2),"
            " ($1, 'college-a', 'provider:college-a', $2)",  # a key from before keys were checked
            ULN,
            LINKED_AT,
        )

        applied = await apply_migrations(connection, "validation", "validation.migrations")
        again = await apply_migrations(connection, "validation", "validation.migrations")
        queued = await connection.fetch("SELECT partition_key, envelope FROM validation.learner_outbox ORDER BY id")

    assert (applied, again) == (["0121_announce_provider_links.sql"], [])
    assert [row["partition_key"] for row in queued] == [ULN, ULN]
    decoded = [decode(row["envelope"]) for row in queued]  # as every consumer of the learner log reads it
    assert [payload for _, payload in decoded] == [
        LearnerProviderLinked(uln=ULN, provider_ukprn="10004567"),
        LearnerProviderLinked(uln=ULN, provider_ukprn="10009999"),
    ]
    envelope = decoded[0][0]
    assert (envelope.source, envelope.occurred_at, envelope.correlation_id) == ("validation", LINKED_AT, "learner:0043")
    assert decoded[0][0].event_id != decoded[1][0].event_id


async def test_an_operator_linking_again_announces_the_link_again(pool: asyncpg.Pool) -> None:
    """A link made by a validation of the older release during the rolling upgrade (or skipped from the
    projector's dead letters) is repaired by linking the provider again; the projector's copy is idempotent."""
    async with pool.acquire() as connection:
        await apply_migrations(connection, "validation", "validation.migrations")
        await connection.execute(
            "INSERT INTO validation.learners (uln, given_name, family_name, ability_to_share) VALUES ($1, 'A', 'B', 1)",
            ULN,
        )
    store = LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))
    for _ in range(2):
        await store.link_provider(ULN, "10004567", linked_by="operator:tests")
    queued = await pool.fetch("SELECT envelope FROM validation.learner_outbox ORDER BY id")
    assert [decode(row["envelope"])[1] for row in queued] == [
        LearnerProviderLinked(uln=ULN, provider_ukprn="10004567")
    ] * 2
    assert await pool.fetchval("SELECT count(*) FROM validation.learner_links") == 1
