"""An erasure projected after a rebuild switch reaches the retired models too, on real Kafka and PostgreSQL.

A switch keeps the old live model as `plr_retired_<n>` until an operator drops it, and no retired model reads the log.
The live projection of `lrs.learner.erased.v1` empties the learner's centre reports' `subject` and `provider_name`
there as it does in `plr`, in the same transaction; a rebuild's runner, which reads the erasure into its own schema,
leaves the retired models alone; and ops migration 0010 empties the reports of the learners erased before.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from tests.support.projector import LEARNERS, T0, App, linked, project, record, registered, uln_for

from lrs_contracts.learner import LearnerErased
from lrs_platform.database import apply_migrations
from plr_projector.projection import BatchChanges
from plr_projector.store import LIVE_SCHEMA, MIGRATIONS, OPS_MIGRATIONS, OPS_SCHEMA, ReadModel, quoted

pytestmark = pytest.mark.integration

OPERATOR = "operator:ops-tests"
PROVIDER = "provider:10004567"
NAME = "Ottoline Brackwaterfield"
SUBJECT, PROVIDER_NAME = f"Weaving for {NAME}", "Brackwaterfield Academy"
KEPT_SUBJECT, KEPT_PROVIDER_NAME = "Weaving (college)", "Northern College"
# the retired models of two switches, one with a name only quoting keeps whole; and a schema the operator
# made by hand, holding no model
RETIRED = ("plr_retired_3", 'plr_retired_4 "b"')
EMPTY_RETIRED = "plr_retired_9"
REBUILD = "plr_rebuild_5"


def _new_uln() -> str:
    return uln_for(uuid.uuid4().int % 50_000_000)


async def _copy_of_the_centre_reports(connection: asyncpg.Connection, schema: str) -> None:
    """`schema` with a copy of the live model's centre reports, as a switch leaves the old live model."""
    await connection.execute(f"CREATE SCHEMA {quoted(schema)}")
    table = f"{quoted(schema)}.centre_achievements"
    await connection.execute(f"CREATE TABLE {table} (LIKE {LIVE_SCHEMA}.centre_achievements INCLUDING ALL)")
    await connection.execute(f"INSERT INTO {table} SELECT * FROM {LIVE_SCHEMA}.centre_achievements")


async def _texts(connection: asyncpg.Connection, schema: str) -> dict[str, tuple[str | None, str | None, str]]:
    rows = await connection.fetch(
        f"SELECT uln, subject, provider_name, grade FROM {quoted(schema)}.centre_achievements ORDER BY uln"
    )
    return {row["uln"]: (row["subject"], row["provider_name"], row["grade"]) for row in rows}


@pytest.fixture
async def connection(projector: tuple[App, str]) -> AsyncIterator[asyncpg.Connection]:
    app, _ = projector
    connection = await asyncpg.connect(app.database_url)
    try:
        yield connection
    finally:
        await connection.close()


async def test_an_erasure_projected_after_a_switch_empties_the_learners_reports_in_every_retired_model(
    projector: tuple[App, str], kafka_bootstrap: str, connection: asyncpg.Connection
) -> None:
    app, prefix = projector
    erased, kept = _new_uln(), _new_uln()
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            item
            for uln in (erased, kept)
            for item in (
                record(registered(uln), uln, topic=LEARNERS),
                record(linked(uln, PROVIDER), uln, topic=LEARNERS, sequence=1),
            )
        ],
    )
    async with await app.client(PROVIDER) as client:
        for uln, subject, provider_name, grade in (
            (erased, SUBJECT, PROVIDER_NAME, "Merit"),
            (kept, KEPT_SUBJECT, KEPT_PROVIDER_NAME, "Pass"),
        ):
            body = {"uln": uln, "qualification_number": "603/3796/5", "subject": subject}
            accepted = await client.post(
                "/v1/centre/achievements", json=body | {"provider_name": provider_name, "grade": grade}
            )
            assert accepted.status_code == 202, accepted.text
            read = await app.get(
                OPERATOR, f"/v1/learners/{uln}/plr", min_offsets=accepted.json()["min_offsets"], wait_ms=20_000
            )
            assert read.status_code == 200, read.text

    before = {erased: (SUBJECT, PROVIDER_NAME, "Merit"), kept: (KEPT_SUBJECT, KEPT_PROVIDER_NAME, "Pass")}
    assert await _texts(connection, LIVE_SCHEMA) == before
    for schema in (*RETIRED, REBUILD):
        await _copy_of_the_centre_reports(connection, schema)
        assert await _texts(connection, schema) == before
    await connection.execute(f"CREATE SCHEMA {EMPTY_RETIRED}")

    erasure = LearnerErased(uln=erased, erasure_id=uuid.uuid4(), erased_by="operator:dpo", erased_at=T0)
    await project(app, kafka_bootstrap, prefix, [record(erasure, erased, topic=LEARNERS, sequence=2)])

    after = before | {erased: (None, None, "Merit")}
    assert await _texts(connection, LIVE_SCHEMA) == after
    for schema in RETIRED:  # written with the erasure's offset: emptied once `project` saw it stored
        assert await _texts(connection, schema) == after, schema
    # a schema no switch retired is no concern of the live model's (a rebuild's reads the erasure itself)
    assert await _texts(connection, REBUILD) == before
    # nothing else stopped: a later event is projected
    later = _new_uln()
    await project(app, kafka_bootstrap, prefix, [record(registered(later), later, topic=LEARNERS)])


async def _model_with_a_retired_copy(connection: asyncpg.Connection, uln: str) -> None:
    """A live model holding a centre report of `uln` naming them, retired as `RETIRED[0]`; a rebuild's schema; the
    operator's state (`plr_ops`), whose corrected copies the live model's erasures empty too."""
    await apply_migrations(connection, LIVE_SCHEMA, MIGRATIONS)
    await apply_migrations(connection, OPS_SCHEMA, OPS_MIGRATIONS)
    await apply_migrations(connection, REBUILD, MIGRATIONS)
    await connection.execute(
        f"INSERT INTO {LIVE_SCHEMA}.centre_achievements (uln, provider_ukprn, qualification_number, report_id,"
        " event_id, provider_name, subject, grade, reported_at) VALUES ($1, '10004567', '60337965', $2, $3, $4, $5,"
        " 'Merit', now())",
        uln,
        uuid.uuid4(),
        uuid.uuid4(),
        PROVIDER_NAME,
        SUBJECT,
    )
    await _copy_of_the_centre_reports(connection, RETIRED[0])


async def test_a_rebuilds_model_projecting_an_erasure_leaves_the_retired_models_alone(
    fresh_database_url: str,
) -> None:
    uln = uln_for(21)
    connection = await asyncpg.connect(fresh_database_url)
    try:
        await _model_with_a_retired_copy(connection, uln)
        async with connection.transaction():
            await ReadModel(REBUILD).write(connection, BatchChanges(erased_ulns={uln}), {}, publish_dead_letters=False)
        assert await _texts(connection, RETIRED[0]) == {uln: (SUBJECT, PROVIDER_NAME, "Merit")}
        async with connection.transaction():
            await ReadModel(LIVE_SCHEMA).write(
                connection, BatchChanges(erased_ulns={uln}), {}, publish_dead_letters=False
            )
        assert await _texts(connection, RETIRED[0]) == {uln: (None, None, "Merit")}
        assert await _texts(connection, LIVE_SCHEMA) == {uln: (None, None, "Merit")}
    finally:
        await connection.close()


async def test_the_reports_of_learners_erased_before_the_release_are_emptied_in_the_retired_models_on_migration(
    fresh_database_url: str,
) -> None:
    """Ops migration 0010: a retired model kept through erasures that reached only the live model."""
    erased, kept = uln_for(31), uln_for(32)
    connection = await asyncpg.connect(fresh_database_url)
    try:
        await _model_with_a_retired_copy(connection, erased)
        await connection.execute(
            f"INSERT INTO {quoted(RETIRED[0])}.centre_achievements (uln, provider_ukprn, qualification_number,"
            " report_id, event_id, provider_name, subject, grade, reported_at) VALUES ($1, '10004567', '60337965', $2,"
            " $3, $4, $5, 'Pass', now())",
            kept,
            uuid.uuid4(),
            uuid.uuid4(),
            KEPT_PROVIDER_NAME,
            KEPT_SUBJECT,
        )
        await connection.execute(f"CREATE SCHEMA {EMPTY_RETIRED}")
        await apply_migrations(connection, OPS_SCHEMA, OPS_MIGRATIONS)
        await connection.execute(f"DELETE FROM {OPS_SCHEMA}.schema_migrations WHERE version = 10")
        # erased after the switch: the live model's copy emptied, the retired one not (the release before)
        await connection.execute(f"INSERT INTO {LIVE_SCHEMA}.erased_learners (uln) VALUES ($1)", erased)
        await ReadModel(LIVE_SCHEMA).erase_centre_text(connection, [erased])
        assert (await _texts(connection, RETIRED[0]))[erased] == (SUBJECT, PROVIDER_NAME, "Merit")

        assert await apply_migrations(connection, OPS_SCHEMA, OPS_MIGRATIONS) == ["0010_retired_models_centre_text.sql"]
        assert await _texts(connection, RETIRED[0]) == {
            erased: (None, None, "Merit"),
            kept: (KEPT_SUBJECT, KEPT_PROVIDER_NAME, "Pass"),
        }
        assert await _texts(connection, REBUILD) == {}
    finally:
        await connection.close()
