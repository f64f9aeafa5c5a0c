"""An abandon cut short leaves a projector that starts: its schema's drop and the rebuild's mark are one
transaction, and a rebuild whose schema is gone all the same (dropped by a release before that, or by
hand) is failed at the next start, for an operator to abandon, instead of stopping the projector."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from tests.support.projector import (
    LEARNERS,
    App,
    Events,
    create_topics,
    new_prefix,
    project,
    record,
    registered,
    running_projector,
    uln_for,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

OPERATOR = "operator:abandon-tests"
_CUT_SHORT = """
CREATE FUNCTION plr_ops.cut_short() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'connection lost';
END $$;
CREATE TRIGGER cut_short BEFORE UPDATE ON plr_ops.rebuilds FOR EACH ROW
    WHEN (NEW.state = 'abandoned') EXECUTE FUNCTION plr_ops.cut_short();
"""


async def _caught_up_rebuild(app: App, bootstrap: str, prefix: str) -> dict[str, Any]:
    """A rebuild of a few learners' events, caught up with the log."""
    events = Events()
    records = []
    for number in range(3):
        uln = uln_for(uuid.uuid4().int % 1_000_000 + number)
        records.append(record(registered(uln), uln, topic=LEARNERS, sequence=number * 10))
        records.append(record(events.recorded(uln), uln, sequence=number * 10 + 1))
    await project(app, bootstrap, prefix, records)
    started = await app.post(OPERATOR, "/v1/admin/rebuild", workers=0)
    assert started.status_code == 202, started.text

    async def caught_up() -> dict[str, Any] | None:
        status: dict[str, Any] = (await app.get(OPERATOR, "/v1/admin/rebuild")).json()
        return status if status["state"] == "caught_up" else None

    return await eventually(caught_up, within=60, what="rebuild caught up")


async def _schema_and_state(database_url: str, schema: str, rebuild_id: int) -> tuple[bool, str]:
    connection = await asyncpg.connect(database_url)
    try:
        exists = await connection.fetchval("SELECT to_regnamespace($1) IS NOT NULL", f'"{schema}"')
        state = await connection.fetchval("SELECT state FROM plr_ops.rebuilds WHERE rebuild_id = $1", rebuild_id)
        return bool(exists), str(state)
    finally:
        await connection.close()


async def test_an_abandon_that_cannot_mark_the_rebuild_keeps_its_schema(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix) as app:
        status = await _caught_up_rebuild(app, kafka_bootstrap, prefix)
        schema, rebuild_id = status["schema"], status["rebuild_id"]
        connection = await asyncpg.connect(fresh_database_url)
        try:
            await connection.execute(_CUT_SHORT)  # the mark fails after the drop, as a lost connection would
            async with await app.client(OPERATOR) as client:
                refused = await client.delete("/v1/admin/rebuild")
            cut_short = await _schema_and_state(fresh_database_url, schema, rebuild_id)
            await connection.execute("DROP TRIGGER cut_short ON plr_ops.rebuilds")
        finally:
            await connection.close()
        async with await app.client(OPERATOR) as client:
            abandoned = await client.delete("/v1/admin/rebuild")

    assert refused.status_code == 500, refused.text
    assert cut_short == (True, "running"), "the schema was dropped, the rebuild left running"
    assert abandoned.status_code == 200, abandoned.text
    assert await _schema_and_state(fresh_database_url, schema, rebuild_id) == (False, "abandoned")


async def test_a_rebuild_whose_schema_is_gone_is_failed_at_restart_and_can_be_abandoned(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix) as app:
        status = await _caught_up_rebuild(app, kafka_bootstrap, prefix)
    connection = await asyncpg.connect(fresh_database_url)
    try:  # as an abandon cut short after its first statement left it
        await connection.execute(f'DROP SCHEMA IF EXISTS "{status["schema"]}" CASCADE')
    finally:
        await connection.close()

    async with running_projector(fresh_database_url, kafka_bootstrap, prefix) as app:
        failed = (await app.get(OPERATOR, "/v1/admin/rebuild")).json()
        async with await app.client(OPERATOR) as client:
            abandoned = await client.delete("/v1/admin/rebuild")
        again = await app.post(OPERATOR, "/v1/admin/rebuild", workers=0)
        uln = uln_for(uuid.uuid4().int % 1_000_000)
        await project(app, kafka_bootstrap, prefix, [record(registered(uln), uln, topic=LEARNERS)])

    assert failed["state"] == "failed", failed
    assert f"schema {status['schema']} is gone" in failed["last_error"], failed
    assert abandoned.status_code == 200, abandoned.text
    assert again.status_code == 202, again.text
    assert await _schema_and_state(fresh_database_url, status["schema"], status["rebuild_id"]) == (False, "abandoned")
