"""A provider's centre report after its learner's erasure, on real Kafka and PostgreSQL.

A linked provider may write anything in a report's free text (`subject`, `provider_name`): here, the learner's
name and date of birth. The report goes on the PLR log as written, which is kept for good; the read model keeps it
without that text once the learner is erased (the grade stays, as an AO's grades do): live, for a report read after
the erasure, after a replay and after a rebuild whose two workers (and several passes each) split the erasure and
the reports between them; and a model that read erasures before this was so loses it as it is migrated. The PLR
shows such a report without its subject and provider name, and `lrs plr show` renders it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiokafka.partitioner import DefaultPartitioner
from rich.console import Console
from tests.support.projector import (
    LEARNERS,
    PLR,
    T0,
    App,
    create_topics,
    linked,
    new_prefix,
    project,
    record,
    registered,
    running_projector,
    uln_for,
)
from tests.support.waiting import eventually

from lrs_cli.plr_commands import plr_table
from lrs_contracts.learner import LearnerErased
from lrs_contracts.plr import CentreAchievementReported
from lrs_platform.database import apply_migrations
from plr_projector.store import LIVE_SCHEMA, MIGRATIONS

pytestmark = pytest.mark.integration

OPERATOR = "operator:ops-tests"
PROVIDER = "provider:10004567"
NAME, DATE_OF_BIRTH = "Quenivere Zdravkowitzka", "1977-12-29"
PERSONAL = (NAME, DATE_OF_BIRTH)
SUBJECT = f"{NAME} (born {DATE_OF_BIRTH}) - Polymer Ops, resit after illness"
PROVIDER_NAME = f"{NAME}'s tutor group"
KEPT_SUBJECT, KEPT_PROVIDER_NAME = "Polymer Operations (college)", "Northern College"
QAN, LATE_QAN = "60337965", "60100012"
ERASED = (None, None, "Merit")
KEPT = (KEPT_SUBJECT, KEPT_PROVIDER_NAME, "Distinction")


def _partition_of(uln: str) -> int:
    """The partition the producer's default partitioner gives the key (the topics have 3): with two rebuild workers,
    partition 1 is worker 1's, partitions 0 and 2 and the learner topic (the erasures) worker 0's."""
    return int(DefaultPartitioner()(uln.encode(), [0, 1, 2], [0, 1, 2]))


def _uln_on(partitions: set[int]) -> str:
    while True:
        uln = uln_for(uuid.uuid4().int % 50_000_000)
        if _partition_of(uln) in partitions:
            return uln


@pytest.fixture
async def projector(fresh_database_url: str, kafka_bootstrap: str) -> AsyncIterator[tuple[App, str]]:
    """A projector of its own, on topics of its own, whose rebuild workers fold their slices in several passes
    (only the first pass of worker 0 reads the learner topic)."""
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix, rebuild_events_per_pass=1) as app:
        yield app, prefix


async def _centre_rows(app: App, schema: str = "plr") -> dict[tuple[str, str], tuple[str | None, str | None, str]]:
    connection = await asyncpg.connect(app.database_url)
    try:
        rows = await connection.fetch(
            f'SELECT uln, qualification_number, subject, provider_name, grade FROM "{schema}".centre_achievements'
        )
    finally:
        await connection.close()
    return {
        (row["uln"], row["qualification_number"]): (row["subject"], row["provider_name"], row["grade"]) for row in rows
    }


async def _plr(app: App, uln: str) -> dict[str, Any]:
    """The operator's PLR of the learner, held to its OpenAPI description (`App.get`)."""
    answer = await app.get(OPERATOR, f"/v1/learners/{uln}/plr")
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


def _reports_shown(document: dict[str, Any]) -> list[tuple[str | None, str | None, str | None]]:
    return sorted(
        (event["subject"], event["achievement_provider_name"], event["grade"])
        for event in document["learning_events"]
        if event["source"] == "ILR"
    )


async def _tables_holding(app: App) -> dict[str, list[str]]:
    """`tests.support.databases.tables_holding` of the personal data, but of the projector's schemas: a replay keeps
    a temporary table on its connection, which another session cannot read."""
    connection = await asyncpg.connect(app.database_url)
    try:
        tables = await connection.fetch(
            "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) AS name FROM information_schema.tables"
            " WHERE table_type = 'BASE TABLE' AND table_schema LIKE 'plr%' ORDER BY 1"
        )
        assert tables, "no table of the projector's"
        found: dict[str, list[str]] = {}
        for table in (row["name"] for row in tables):
            for needle in PERSONAL:
                spellings = [f"%{text}%" for text in (needle, needle.encode().hex())]  # a bytea column shows in hex
                if await connection.fetchval(
                    f"SELECT EXISTS (SELECT 1 FROM {table} t WHERE t::text ILIKE ANY($1::text[]))", spellings
                ):
                    found.setdefault(table, []).append(needle)
        return found
    finally:
        await connection.close()


def _shown_by_the_cli(document: dict[str, Any]) -> str:
    console = Console(record=True, width=250, color_system=None)
    console.print(*plr_table(document))
    return console.export_text()


async def test_an_erased_learners_centre_reports_keep_no_free_text_live_after_a_replay_and_after_a_rebuild(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    # one learner on the worker that does not read the erasures, one on the worker that does, one not erased
    remote, local, kept = _uln_on({1}), _uln_on({0, 2}), _uln_on({0, 1, 2})
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            item
            for uln in (remote, local, kept)
            for item in (
                record(registered(uln), uln, topic=LEARNERS),
                record(linked(uln, PROVIDER), uln, topic=LEARNERS, sequence=1),
            )
        ],
    )
    reports = {
        uln: {"uln": uln, "qualification_number": "603/3796/5", "subject": SUBJECT, "provider_name": PROVIDER_NAME}
        | {"grade": "Merit", "award_date": "2024-11-05"}
        for uln in (remote, local)
    } | {
        kept: {
            "uln": kept,
            "qualification_number": "603/3796/5",
            "subject": KEPT_SUBJECT,
            "provider_name": KEPT_PROVIDER_NAME,
            "grade": "Distinction",
        }
    }
    async with await app.client(PROVIDER) as client:
        for uln, body in reports.items():
            accepted = await client.post("/v1/centre/achievements", json=body)
            assert accepted.status_code == 202, accepted.text
            if uln == remote:
                assert accepted.json()["partition"] == 1  # worker 1's, apart from the erasure

    async def reported() -> bool:
        return len(await _centre_rows(app)) == 3

    await eventually(reported, within=30, what="the three reports projected")
    assert _reports_shown(await _plr(app, remote)) == [(SUBJECT, PROVIDER_NAME, "Merit")]  # there to be erased

    erasures = [
        record(
            LearnerErased(uln=uln, erasure_id=uuid.uuid4(), erased_by="operator:dpo", erased_at=T0),
            uln,
            topic=LEARNERS,
            sequence=2,
        )
        for uln in (remote, local)
    ]
    await project(app, kafka_bootstrap, prefix, erasures)
    # A report the provider sent just before the erasure, on the log after it (the route refuses one sent after).
    late = CentreAchievementReported(
        report_id=uuid.uuid4(),
        uln=local,
        provider_ukprn=PROVIDER.removeprefix("provider:"),
        provider_name=PROVIDER_NAME,
        qualification_number="601/0001/2",
        subject=SUBJECT,
        grade="Merit",
    )
    await project(app, kafka_bootstrap, prefix, [record(late, local, topic=PLR, sequence=3)])

    expected = {(remote, QAN): ERASED, (local, QAN): ERASED, (local, LATE_QAN): ERASED, (kept, QAN): KEPT}

    async def without_their_text() -> None:
        assert await _centre_rows(app) == expected
        for uln, shown in ((remote, [ERASED]), (local, [ERASED, ERASED]), (kept, [KEPT])):
            document = await _plr(app, uln)
            assert _reports_shown(document) == shown
            assert not [value for value in PERSONAL if value in str(document)]
        cli = _shown_by_the_cli(await _plr(app, local))
        assert "a provider (UKPRN 10004567)" in cli
        assert "Merit" in cli
        assert NAME not in cli
        assert await _tables_holding(app) == {}

    await without_their_text()

    replay = await app.post(OPERATOR, "/v1/admin/replay", **{"from": "0"})
    assert replay.status_code == 202, replay.text

    async def replayed() -> dict[str, Any] | None:
        status: dict[str, Any] = (await app.get(OPERATOR, "/v1/admin/replay")).json()
        return status if status["state"] != "running" else None

    finished = await eventually(replayed, within=60, what="the replay finished")
    assert finished["state"] == "finished", finished
    await without_their_text()

    started = await app.post(OPERATOR, "/v1/admin/rebuild", workers=2)
    assert started.status_code == 202, started.text
    schema = started.json()["schema"]

    async def caught_up() -> dict[str, Any] | None:
        status: dict[str, Any] = (await app.get(OPERATOR, "/v1/admin/rebuild")).json()
        assert status["state"] not in ("failed", "abandoned"), status
        return status if status["state"] == "caught_up" else None

    rebuilt = await eventually(caught_up, within=180, what="the rebuild caught up")
    # worker 0 folded its slice in passes, only the first of which read the erasures
    assert int(rebuilt["workers"][0]["passes"].split("/")[1]) > 1, rebuilt
    assert await _centre_rows(app, schema) == expected
    comparison = (await app.post(OPERATOR, "/v1/admin/rebuild/compare")).json()
    assert comparison["identical"] is True, comparison
    switched = await app.post(OPERATOR, "/v1/admin/rebuild/switch")
    assert switched.status_code == 200, switched.text
    await without_their_text()


async def test_the_reports_of_learners_erased_before_the_change_lose_their_free_text_as_the_schema_is_migrated(
    fresh_database_url: str,
) -> None:
    """Migration 0009: a live model that read erasures before the projector emptied reports on them."""
    erased, kept = uln_for(11), uln_for(12)
    connection = await asyncpg.connect(fresh_database_url)
    try:
        await apply_migrations(connection, LIVE_SCHEMA, MIGRATIONS)
        await connection.execute(f"DELETE FROM {LIVE_SCHEMA}.schema_migrations WHERE version = 9")
        await connection.execute(f"INSERT INTO {LIVE_SCHEMA}.erased_learners (uln) VALUES ($1)", erased)
        for uln, (subject, provider_name, grade) in ((erased, (SUBJECT, PROVIDER_NAME, "Merit")), (kept, KEPT)):
            await connection.execute(
                f"INSERT INTO {LIVE_SCHEMA}.centre_achievements (uln, provider_ukprn, qualification_number, report_id,"
                " event_id, provider_name, subject, grade, reported_at) VALUES ($1, '10004567', $2, $3, $4, $5, $6, $7,"
                " now())",
                uln,
                QAN,
                uuid.uuid4(),
                uuid.uuid4(),
                provider_name,
                subject,
                grade,
            )

        assert await apply_migrations(connection, LIVE_SCHEMA, MIGRATIONS) == ["0009_erased_learners_centre_text.sql"]
        rows = await connection.fetch(
            f"SELECT uln, subject, provider_name, grade FROM {LIVE_SCHEMA}.centre_achievements"
        )
    finally:
        await connection.close()
    assert {row["uln"]: (row["subject"], row["provider_name"], row["grade"]) for row in rows} == {
        erased: ERASED,
        kept: KEPT,
    }
