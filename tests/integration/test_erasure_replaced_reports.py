"""An operator's corrected copy of a parked PLR event after its learner's erasure, on real Kafka and PostgreSQL (a DPO
walk, finding 1).

`lrs dlq retry --replacement` keeps the copy in `plr_ops.operator_actions` for good, so that every rebuild applies
it again. A copy of a provider's centre report holds its free text (`subject`, `provider_name`), and a copy of an
AO's achievement event of an earlier release its MIS identifier: either may name the learner. The erasure empties
them in the stored copies as it empties the read model's reports, whether the copy was made before the erasure or
after it, and a rebuild then builds the same model (an erased learner's reports keep no text there either).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from tests.support.projector import (
    LEARNERS,
    PLR,
    T0,
    App,
    Events,
    Record,
    create_topics,
    envelope_bytes,
    new_prefix,
    project,
    record,
    registered,
    running_projector,
    uln_for,
)
from tests.support.waiting import eventually

from lrs_contracts.learner import LearnerErased
from lrs_contracts.plr import CentreAchievementReported, Provenance

pytestmark = pytest.mark.integration

OPERATOR = "operator:ops-tests"
PROVIDER_UKPRN = "10004567"
NAME, DATE_OF_BIRTH = "Zephyrina Quixblatt", "2003-04-17"
PERSONAL = (NAME, DATE_OF_BIRTH)
SUBJECT = f"Physics for {NAME} born {DATE_OF_BIRTH}"
PROVIDER_NAME = f"Fennimore Tutoring for {NAME}"
MIS_IDENTIFIER = f"Quixblatt Zephyrina {DATE_OF_BIRTH}"
KEPT_SUBJECT, KEPT_PROVIDER_NAME = "Physics (evening class)", "Northern College"
QAN = "60337965"


@pytest.fixture
async def projector(fresh_database_url: str, kafka_bootstrap: str) -> AsyncIterator[tuple[App, str]]:
    """A projector of its own, on topics of its own (its poison messages reach no other test)."""
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix) as app:
        yield app, prefix


def _report(uln: str, subject: str, provider_name: str) -> dict[str, Any]:
    report = CentreAchievementReported(
        report_id=uuid.uuid5(uuid.NAMESPACE_OID, uln),
        uln=uln,
        provider_ukprn=PROVIDER_UKPRN,
        provider_name=provider_name,
        qualification_number=QAN,
        subject=subject,
        grade="Merit",
    )
    document: dict[str, Any] = json.loads(envelope_bytes(report, sequence=1))
    return document


def _poisoned(fixed: dict[str, Any]) -> bytes:
    """`fixed` as a malformed copy the projector parks: a report's grade an object, an achievement without its grade."""
    document = json.loads(json.dumps(fixed))
    data = document["data"]
    if "grade" in data:
        data["grade"] = {"bad": NAME}
    else:
        del data["data"]["grade"]
    return json.dumps(document).encode()


async def _stored_replacements(app: App) -> dict[str, dict[str, Any]]:
    """The replacements kept in `plr_ops.operator_actions`, by the learner they are about."""
    connection = await asyncpg.connect(app.database_url)
    try:
        rows = await connection.fetch("SELECT replacement FROM plr_ops.operator_actions WHERE action = 'replace'")
    finally:
        await connection.close()
    stored: dict[str, dict[str, Any]] = {}
    for row in rows:
        document: dict[str, Any] = json.loads(row["replacement"])
        data = document["data"]
        stored[data["uln"] if "uln" in data else data["key"]["uln"]] = document
    return stored


async def _centre_rows(app: App, schema: str = "plr") -> dict[str, tuple[str | None, str | None, str | None]]:
    connection = await asyncpg.connect(app.database_url)
    try:
        rows = await connection.fetch(f'SELECT uln, subject, provider_name, grade FROM "{schema}".centre_achievements')
    finally:
        await connection.close()
    return {row["uln"]: (row["subject"], row["provider_name"], row["grade"]) for row in rows}


async def _tables_holding(app: App) -> dict[str, list[str]]:
    """The projector's tables (schemas `plr%`) whose rows hold the learner's name or date of birth, in clear or (a
    bytea column) in hex."""
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
                spellings = [f"%{text}%" for text in (needle, needle.encode().hex())]
                if await connection.fetchval(
                    f"SELECT EXISTS (SELECT 1 FROM {table} t WHERE t::text ILIKE ANY($1::text[]))", spellings
                ):
                    found.setdefault(table, []).append(needle)
        return found
    finally:
        await connection.close()


async def _retry(app: App, uln: str, replacement: dict[str, Any]) -> None:
    async def once_its_copy_is_on_the_dlq() -> httpx.Response | None:
        answer = await app.post(
            OPERATOR, f"/v1/admin/dlq/{uln}/retry", {"replacement": replacement, "reason": "grade mended"}
        )
        # a moment after an event is parked its copy is sent to `.dlq`: until then a retry is 409, nothing changed
        return None if answer.status_code == 409 and "Dead letter not sent yet" in answer.text else answer

    retried = await eventually(once_its_copy_is_on_the_dlq, within=30, what="the parked event's copy on .dlq")
    assert retried.status_code == 200, retried.text
    assert [result["applied"] for result in retried.json()["results"]] == [1], retried.text


async def test_an_erasure_empties_the_free_text_of_corrected_copies_made_before_it_and_after_it(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    # retried before the erasure (a centre report; an AO's achievement event), after it, and never erased
    before, before_ao, after, kept = (uln_for(uuid.uuid4().int % 50_000_000) for _ in range(4))
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [record(registered(uln), uln, topic=LEARNERS) for uln in (before, before_ao, after, kept)],
    )
    events = Events()
    recorded = events.recorded(before_ao, grade="7").model_copy(
        update={"provenance": Provenance(batch_id=events.batch_id, line=4, mis_identifier=MIS_IDENTIFIER)}
    )
    fixed = {
        before: _report(before, SUBJECT, PROVIDER_NAME),
        after: _report(after, SUBJECT, PROVIDER_NAME),
        kept: _report(kept, KEPT_SUBJECT, KEPT_PROVIDER_NAME),
        before_ao: json.loads(envelope_bytes(recorded, sequence=1)),
    }
    await project(app, kafka_bootstrap, prefix, [Record(PLR, uln, _poisoned(copy)) for uln, copy in fixed.items()])
    for uln in fixed:
        parked = (await app.get(OPERATOR, "/v1/admin/dlq", learner=uln)).json()["parked"]
        assert [item["reason"] for item in parked] == ["error"], parked

    for uln in (before, before_ao, kept):
        await _retry(app, uln, fixed[uln])
    assert (await _stored_replacements(app))[before]["data"]["subject"] == SUBJECT  # there to be erased

    erasures = [
        record(
            LearnerErased(uln=uln, erasure_id=uuid.uuid4(), erased_by="operator:dpo", erased_at=T0),
            uln,
            topic=LEARNERS,
            sequence=2,
        )
        for uln in (before, before_ao, after)
    ]
    await project(app, kafka_bootstrap, prefix, erasures)
    await _retry(app, after, fixed[after])  # mended after the erasure

    stored = await _stored_replacements(app)
    for uln in (before, after):
        assert (stored[uln]["data"]["subject"], stored[uln]["data"]["provider_name"]) == (None, None)
        assert stored[uln]["data"]["grade"] == "Merit"  # the result stays, as in the read model
        assert {**stored[uln], "data": {**stored[uln]["data"], "subject": SUBJECT, "provider_name": PROVIDER_NAME}} == (
            fixed[uln]
        )  # nothing else of the copy changed
    assert stored[before_ao]["data"]["provenance"] == {
        "batch_id": str(events.batch_id),
        "line": 4,
        "mis_identifier": None,
    }
    assert stored[kept] == fixed[kept]  # a learner not erased keeps the words of their report
    expected = {
        before: (None, None, "Merit"),
        after: (None, None, "Merit"),
        kept: (KEPT_SUBJECT, KEPT_PROVIDER_NAME, "Merit"),
    }
    assert await _centre_rows(app) == expected
    assert await _tables_holding(app) == {}

    # a rebuild applies the emptied copies: the same model as the live one, which read the copies whole
    started = await app.post(OPERATOR, "/v1/admin/rebuild", workers=2)
    assert started.status_code == 202, started.text
    schema = started.json()["schema"]

    async def caught_up() -> dict[str, Any] | None:
        status: dict[str, Any] = (await app.get(OPERATOR, "/v1/admin/rebuild")).json()
        assert status["state"] not in ("failed", "abandoned"), status
        return status if status["state"] == "caught_up" else None

    await eventually(caught_up, within=180, what="the rebuild caught up")
    assert await _centre_rows(app, schema) == expected
    comparison = (await app.post(OPERATOR, "/v1/admin/rebuild/compare")).json()
    assert comparison["identical"] is True, comparison
    assert await _tables_holding(app) == {}
