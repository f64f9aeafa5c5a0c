"""A decision's achievement events are deduplicated by their batch's marks, not by a row per event
id (decision 0097): a decision published again is dropped, whole, on the live path; a database
from before migration 0003 keeps dropping copies of the events it applied by their ids."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from tests.support.projector import T0, App, Events, Record, dump_model, produce, project, uln_for
from tests.support.waiting import eventually

from lrs_contracts.envelope import Contract
from lrs_contracts.registry import encode, wrap
from lrs_platform.database import apply_migrations
from plr_projector.projection import DECIDER, PLR_TOPIC, Message, decode_message, needs_of, project_batch
from plr_projector.store import LIVE_SCHEMA, MIGRATIONS, ReadModel

pytestmark = pytest.mark.integration

OPERATOR = "operator:marks-tests"


def _decided(payload: Contract, batch_id: uuid.UUID, line: int) -> bytes:
    """As validation publishes a decision's event: its id derived from the batch and the line."""
    return encode(
        wrap(
            payload,
            source=DECIDER,
            correlation_id=str(batch_id),
            event_id=uuid.uuid5(batch_id, str(line)),
            occurred_at=T0 + timedelta(minutes=1),
        )
    )


async def test_a_decision_published_again_is_dropped_whole(projector: tuple[App, str], kafka_bootstrap: str) -> None:
    app, prefix = projector
    events = Events()
    ulns = [uln_for(uuid.uuid4().int % 1_000_000 + number) for number in range(6)]
    decision = [
        Record(PLR_TOPIC, uln, _decided(events.recorded(uln, grade="6"), events.batch_id, events.line)) for uln in ulns
    ]
    await project(app, kafka_bootstrap, prefix, decision)
    again = [Record(PLR_TOPIC, ulns[0], _decided(events.updated(ulns[0], grade="7"), events.batch_id, events.line))]

    await project(app, kafka_bootstrap, prefix, [*decision, *again])  # a stored decision sent again, then more

    connection = await asyncpg.connect(app.database_url)
    try:
        history = await connection.fetch(
            "SELECT uln, version, line FROM plr.achievement_history WHERE batch_id = $1 ORDER BY line", events.batch_id
        )
        marks = await connection.fetch("SELECT line FROM plr.applied_lines WHERE batch_id = $1", events.batch_id)
        ids = await connection.fetchval("SELECT count(*) FROM plr.processed_events")
    finally:
        await connection.close()
    assert [(row["uln"], row["version"], row["line"]) for row in history] == [
        *((uln, 1, line) for line, uln in enumerate(ulns, start=1)),
        (ulns[0], 2, 7),
    ]
    assert max(row["line"] for row in marks) == 7
    assert ids == 0  # no row per event

    # A replay re-folds the learners from their first event: the originals again, not the copies.
    before = await dump_model(app.database_url)
    replay = await app.post(OPERATOR, "/v1/admin/replay", **{"from": "0"})
    assert replay.status_code == 202, replay.text

    async def replayed() -> dict[str, Any] | None:
        status: dict[str, Any] = (await app.get(OPERATOR, "/v1/admin/replay")).json()
        return status if status["state"] != "running" else None

    finished = await eventually(replayed, within=60, what="replay finished")
    assert finished["state"] == "finished", finished
    assert finished["result"]["events"] == 2 * len(decision) + 1
    assert await dump_model(app.database_url) == before
    # that replay by its id; an id no replay has is a 404, not "idle"
    by_id = await app.get(OPERATOR, "/v1/admin/replay", replay_id=str(finished["replay_id"]))
    assert by_id.json()["state"] == "finished"
    unknown = await app.get(OPERATOR, "/v1/admin/replay", replay_id=str(finished["replay_id"] + 1000))
    assert unknown.status_code == 404, unknown.text


async def test_a_database_from_before_marks_drops_copies_of_what_it_applied(fresh_database_url: str) -> None:
    connection = await asyncpg.connect(fresh_database_url)
    try:
        await apply_migrations(connection, LIVE_SCHEMA, MIGRATIONS)
        await connection.execute("DROP TABLE plr.applied_lines, plr.legacy_events, plr.legacy_batches")
        await connection.execute("DELETE FROM plr.schema_migrations WHERE version = 3")
        model = ReadModel(LIVE_SCHEMA)
        events = Events()
        uln, later_uln = uln_for(11), uln_for(12)
        applied = Message(PLR_TOPIC, 0, 0, uln.encode(), _decided(events.recorded(uln), events.batch_id, 1), 0)
        learner_event_id = uuid.uuid4()
        async with connection.transaction():  # as the projector before 0003 applied it: a row per event id
            changes = project_batch(await model.load_snapshot(connection, needs_of([]), {}), [decode_message(applied)])
            assert len(changes.history) == 1
            changes.marks.clear()
            await model.write(connection, changes, {}, publish_dead_letters=False)
            history = changes.history[0]
            await connection.execute(
                "INSERT INTO plr.processed_events VALUES ($1), ($2)", history.event_id, learner_event_id
            )

        assert "0003_applied_lines.sql" in await apply_migrations(connection, LIVE_SCHEMA, MIGRATIONS)

        copy = applied._replace(offset=5)
        straddling = Message(
            PLR_TOPIC, 0, 6, later_uln.encode(), _decided(events.recorded(later_uln), events.batch_id, 2), 0
        )
        decoded = [decode_message(copy), decode_message(straddling)]
        async with connection.transaction():
            changes = project_batch(await model.load_snapshot(connection, needs_of(decoded), {}), decoded)
            await model.write(connection, changes, {}, publish_dead_letters=False)
        assert changes.outcomes == {(PLR_TOPIC, "duplicate"): 1, (PLR_TOPIC, "applied"): 1}
        assert [entry.uln for entry in changes.history] == [later_uln]
        assert await connection.fetchval("SELECT array_agg(event_id) FROM plr.processed_events") == [learner_event_id]
        assert await connection.fetchval("SELECT count(*) FROM plr.legacy_events") == 1
        assert await connection.fetchval("SELECT count(*) FROM plr.applied_lines") == 1
    finally:
        await connection.close()


async def test_an_at_least_once_copy_of_a_decided_event_is_dropped_by_its_batch_mark(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    events = Events()
    uln = uln_for(uuid.uuid4().int % 1_000_000)
    value = _decided(events.recorded(uln), events.batch_id, 1)
    positions = await produce(kafka_bootstrap, prefix, [Record(PLR_TOPIC, uln, value)])
    await project(app, kafka_bootstrap, prefix, [Record(PLR_TOPIC, uln, value)])  # an at-least-once copy
    connection = await asyncpg.connect(app.database_url)
    try:
        marks = await connection.fetch('SELECT partition, line, "offset" FROM plr.applied_lines')
        versions = await connection.fetchval("SELECT count(*) FROM plr.achievement_history")
    finally:
        await connection.close()
    [(partition, offset)] = positions
    assert [tuple(row.values()) for row in marks] == [(partition, 1, offset)]
    assert versions == 1


async def test_replays_and_rebuilds_asked_for_at_once_start_one_each_and_refuse_the_rest(
    projector: tuple[App, str],
) -> None:
    """A double click, or a client retrying: one starts, the others are told it runs (409), none fails (was 500).
    A replay of this test's few events can be over before a later request comes in, which then starts another."""
    app, _ = projector
    replays = await asyncio.gather(*(app.post(OPERATOR, "/v1/admin/replay", **{"from": "0"}) for _ in range(3)))
    said = sorted(answer.status_code for answer in replays)
    assert said[0] == 202 and set(said) <= {202, 409}, [answer.text for answer in replays]

    rebuilds = await asyncio.gather(*(app.post(OPERATOR, "/v1/admin/rebuild", workers="1") for _ in range(3)))
    assert sorted(answer.status_code for answer in rebuilds) == [202, 409, 409], [answer.text for answer in rebuilds]
    async with await app.client(OPERATOR) as client:
        abandoned = await client.delete("/v1/admin/rebuild")
    assert abandoned.status_code == 200, abandoned.text
