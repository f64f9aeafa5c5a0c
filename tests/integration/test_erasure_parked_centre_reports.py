"""An erased learner's centre report held in the projector's dead letters, on real Kafka and PostgreSQL (a forensic
walk, findings 3 and 4).

A provider's centre report parked by the PLR projector (held behind a poison on the learner's key, or a poison itself)
kept its free text (`subject`, `provider_name`: the provider's words, which may name the learner) in `plr.parked`,
readable with `lrs dlq show`, after the learner's erasure had emptied the same text in the read model; and a retired
model (`plr_retired_<n>`, kept after a rebuild switch) kept it in its own `parked` for as long as it existed. The erasure
now empties it there too, in the transaction that empties the read model's (a report parked after it is stored without
it), in every ULN of the learner's, so that a retry applies what a rebuild would and no dead letter names them.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from tests.support.projector import (
    LEARNERS,
    PLR,
    T0,
    App,
    Record,
    envelope_bytes,
    merged,
    project,
    record,
    registered,
    uln_for,
)
from tests.support.waiting import eventually

from lrs_contracts.learner import LearnerErased
from lrs_contracts.plr import CentreAchievementReported
from lrs_platform.database import apply_migrations
from plr_projector.projection import BatchChanges
from plr_projector.store import LIVE_SCHEMA, MIGRATIONS, OPS_MIGRATIONS, OPS_SCHEMA, ReadModel, quoted

pytestmark = pytest.mark.integration

OPERATOR = "operator:ops-tests"
NAME, DATE_OF_BIRTH = "Barnaby Wrenfield", "2001-02-14"
SUBJECT = f"Art for {NAME} born {DATE_OF_BIRTH}"
PROVIDER_NAME = f"Wrenfield Academy for {NAME}"
KEPT_SUBJECT, KEPT_PROVIDER_NAME = "Art (evening class)", "Northern College"
REPORT_EVENT_TYPE = "lrs.centre.achievement.reported.v1"
RETIRED, REBUILD = "plr_retired_3", "plr_rebuild_5"


def _new_uln() -> str:
    return uln_for(uuid.uuid4().int % 50_000_000)


def _report(uln: str, subject: str = SUBJECT, provider_name: str = PROVIDER_NAME) -> CentreAchievementReported:
    return CentreAchievementReported(
        report_id=uuid.uuid5(uuid.NAMESPACE_OID, f"{uln}{subject}"),
        uln=uln,
        provider_ukprn="10004567",
        provider_name=provider_name,
        qualification_number="60190541",
        subject=subject,
        grade="Pass",
    )


def _poison(uln: str, subject: str = SUBJECT, provider_name: str = PROVIDER_NAME) -> bytes:
    """A malformed centre report the projector parks (its grade an object), with the provider's words too."""
    document = json.loads(envelope_bytes(_report(uln, subject, provider_name), sequence=9))
    document["data"]["grade"] = {"bad": "grade"}
    return json.dumps(document).encode()


def _erasure(uln: str) -> Record:
    erased = LearnerErased(uln=uln, erasure_id=uuid.uuid4(), erased_by="operator:dpo", erased_at=T0)
    return record(erased, uln, topic=LEARNERS, sequence=3)


async def _parked(database_url: str, schema: str = LIVE_SCHEMA) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The parked events' data (the value as JSON), by learner and reason, in log order."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            f'SELECT park_key, reason, value FROM {quoted(schema)}.parked ORDER BY park_key, partition, "offset"'
        )
    finally:
        await connection.close()
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault((row["park_key"], row["reason"]), []).append(json.loads(row["value"])["data"])
    return found


def _texts(data: list[dict[str, Any]]) -> list[tuple[Any, Any, Any]]:
    return [(item["subject"], item["provider_name"], item["grade"]) for item in data]


async def _naming(database_url: str, schema: str = LIVE_SCHEMA) -> int:
    """How many parked rows of `schema` hold the learner's name or date of birth, in their bytes."""
    connection = await asyncpg.connect(database_url)
    try:
        found: int = await connection.fetchval(
            f"SELECT count(*) FROM {quoted(schema)}.parked"
            " WHERE position($1::bytea IN value) > 0 OR position($2::bytea IN value) > 0",
            NAME.encode(),
            DATE_OF_BIRTH.encode(),
        )
        return found
    finally:
        await connection.close()


async def test_an_erasure_empties_the_free_text_of_the_learners_parked_centre_reports_under_every_uln_of_theirs(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    # the learner with a ULN merged into theirs, both with a report held behind a poison; a learner never erased
    uln, merged_uln, kept = _new_uln(), _new_uln(), _new_uln()
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            *(record(registered(learner), learner, topic=LEARNERS) for learner in (uln, merged_uln, kept)),
            record(merged(uln, merged_uln), uln, topic=LEARNERS, sequence=1),
        ],
    )
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            *(Record(PLR, learner, _poison(learner)) for learner in (uln, merged_uln)),
            Record(PLR, kept, _poison(kept, KEPT_SUBJECT, KEPT_PROVIDER_NAME)),
            record(_report(uln), uln, sequence=1),
            record(_report(merged_uln), merged_uln, sequence=1),
            record(_report(kept, KEPT_SUBJECT, KEPT_PROVIDER_NAME), kept, sequence=1),
        ],
    )
    before = await _parked(app.database_url)
    for learner in (uln, merged_uln):
        assert _texts(before[(learner, "blocked")]) == [(SUBJECT, PROVIDER_NAME, "Pass")]
    assert await _naming(app.database_url) == 4  # there to be emptied: the two reports, the two poisons

    # validation publishes an erasure for each ULN of the learner's
    await project(app, kafka_bootstrap, prefix, [_erasure(uln), _erasure(merged_uln)])

    after = await _parked(app.database_url)
    assert after.keys() == before.keys()  # nothing retried or skipped: still parked, still in order
    for learner in (uln, merged_uln):
        assert _texts(after[(learner, "blocked")]) == [(None, None, "Pass")]  # the grade stays, as in the model
        assert after[(learner, "blocked")] == [
            {**before[(learner, "blocked")][0], "subject": None, "provider_name": None}
        ]  # nothing else of the event changed
        assert after[(learner, "error")][0]["subject"] is None  # a poison of theirs, as readable, too
    assert after[(kept, "blocked")] == before[(kept, "blocked")]  # a learner not erased keeps their report's words
    assert await _naming(app.database_url) == 0

    # a report of theirs read after the erasure and parked behind the poison is parked without it
    await project(app, kafka_bootstrap, prefix, [record(_report(uln, subject=f"Drama for {NAME}"), uln, sequence=4)])
    assert _texts((await _parked(app.database_url))[(uln, "blocked")]) == [(None, None, "Pass")] * 2
    assert await _naming(app.database_url) == 0

    # skipped, the poison lets the emptied reports through: stored as a rebuild stores them
    async def once_its_copy_is_on_the_dlq() -> httpx.Response | None:
        answer = await app.post(OPERATOR, f"/v1/admin/dlq/{uln}/skip", {"reason": "a test's poison"})
        # a moment after an event is parked its copy is sent to `.dlq`: until then a skip is 409, nothing changed
        return None if answer.status_code == 409 and "Dead letter not sent yet" in answer.text else answer

    skipped = await eventually(once_its_copy_is_on_the_dlq, within=30, what="the parked event's copy on .dlq")
    assert skipped.status_code == 200, skipped.text

    async def stored() -> list[tuple[Any, ...]] | None:
        connection = await asyncpg.connect(app.database_url)
        try:
            rows = await connection.fetch(
                "SELECT subject, provider_name, grade FROM plr.centre_achievements WHERE uln = $1", uln
            )
        finally:
            await connection.close()
        return [tuple(row) for row in rows] or None

    assert await eventually(stored, within=30, what="the report applied") == [(None, None, "Pass")]


async def _parked_report(connection: asyncpg.Connection, schema: str, uln: str, offset: int, **texts: str) -> None:
    """A centre report of `uln` parked in `schema`, held behind a poison, as the projector parks one."""
    await connection.execute(
        f'INSERT INTO {quoted(schema)}.parked (topic, partition, "offset", park_key, reason, event_id, event_type,'
        " message_key, value, kafka_timestamp_ms) VALUES ($1, 0, $2, $3, 'blocked', $4, $5, $6, $7, 0)",
        PLR,
        offset,
        uln,
        uuid.uuid4(),
        REPORT_EVENT_TYPE,
        uln.encode(),
        envelope_bytes(_report(uln, **texts), sequence=offset),
    )


async def _subjects(connection: asyncpg.Connection, schema: str) -> dict[str, str | None]:
    rows = await connection.fetch(f"SELECT park_key, value FROM {quoted(schema)}.parked ORDER BY park_key")
    return {row["park_key"]: json.loads(row["value"])["data"]["subject"] for row in rows}


async def test_an_erasure_empties_the_learners_parked_centre_reports_in_every_retired_model(
    fresh_database_url: str,
) -> None:
    """A retired model's parked events are never retried (no runner reads a retired model): its rows stay, as its
    centre reports do, without the text. A rebuild's model reads the erasure itself (live runner: left alone), and
    empties its own parked events, as it projects the erasure or, for what its workers loaded, when it is indexed."""
    erased, kept = uln_for(41), uln_for(42)
    connection = await asyncpg.connect(fresh_database_url)
    try:
        for schema in (LIVE_SCHEMA, RETIRED, REBUILD):
            await apply_migrations(connection, schema, MIGRATIONS)
            await _parked_report(connection, schema, erased, 10)
            await _parked_report(connection, schema, kept, 11, subject=KEPT_SUBJECT, provider_name=KEPT_PROVIDER_NAME)
        await apply_migrations(connection, OPS_SCHEMA, OPS_MIGRATIONS)
        before = {erased: SUBJECT, kept: KEPT_SUBJECT}

        async with connection.transaction():
            await ReadModel(LIVE_SCHEMA).write(
                connection, BatchChanges(erased_ulns={erased}), {}, publish_dead_letters=False
            )
        after = {erased: None, kept: KEPT_SUBJECT}
        assert await _subjects(connection, LIVE_SCHEMA) == after
        assert await _subjects(connection, RETIRED) == after
        assert await _subjects(connection, REBUILD) == before

        # a rebuild's workers loaded the report and the erasure apart: the model's indexing empties it
        await connection.execute(f"INSERT INTO {quoted(REBUILD)}.erased_learners (uln) VALUES ($1)", erased)
        await ReadModel(REBUILD).erase_centre_text(connection)
        assert await _subjects(connection, REBUILD) == after
    finally:
        await connection.close()
