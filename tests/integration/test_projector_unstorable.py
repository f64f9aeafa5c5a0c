"""An event the log's contract allows but the read model's columns cannot hold (credits beyond `integer`, a
NUL in a grade) is parked by the live projection, and a rebuild parks it the same way: it catches up and
compares identical with the live model (invariant 4), parked events included."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support.projector import (
    Events,
    create_topics,
    dump_model,
    new_prefix,
    project,
    record,
    running_projector,
    uln_for,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

OPERATOR = "operator:ops-tests"


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"credits": 2**40}, "unstorable: data.credits does not fit its column, a 32-bit integer"),
        ({"grade": "A\x00"}, "unstorable: data.grade holds NUL (U+0000) at character 2"),
    ],
)
async def test_live_parks_an_unstorable_event_and_a_rebuild_parks_it_too_and_compares_identical(
    fresh_database_url: str, kafka_bootstrap: str, extra: dict[str, Any], reason: str
) -> None:
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    number = sum(map(ord, str(extra))) * 13
    poisoned, healthy = uln_for(number), uln_for(number + 1)
    events = Events()
    records = [
        record(events.recorded(poisoned, **extra), poisoned, sequence=1),
        record(events.recorded(poisoned, qan="60012345"), poisoned, sequence=2),
        record(events.recorded(healthy), healthy, sequence=3),
    ]
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix) as app:
        await project(app, kafka_bootstrap, prefix, records)
        parked = (await app.get(OPERATOR, "/v1/admin/dlq", learner=poisoned)).json()["parked"]
        assert [item["reason"] for item in parked] == ["error", "blocked"]
        plr = (await app.get(f"learner:{healthy}", f"/v1/learners/{healthy}/plr")).json()
        assert len(plr["learning_events"]) == 1

        started = await app.post(OPERATOR, "/v1/admin/rebuild", workers="1")
        assert started.status_code == 202, started.text

        async def finished() -> dict[str, Any] | None:
            status: dict[str, Any] = (await app.get(OPERATOR, "/v1/admin/rebuild")).json()
            return status if status["state"] in ("caught_up", "failed") else None

        status = await eventually(finished, within=120, what="the rebuild caught up or failed")
        assert status["state"] == "caught_up", status

        comparison = (await app.post(OPERATOR, "/v1/admin/rebuild/compare")).json()
        assert comparison["identical"] is True, comparison
        live = await dump_model(fresh_database_url, "plr")
        # parked by the projection, saying which field and why, never the value
        assert parked[0]["error"].startswith(reason), parked[0]["error"]
        assert [row[4] for row in live["parked"]] == ["error", "blocked"]
        assert live == await dump_model(fresh_database_url, "plr_rebuild_1")
        assert all(str(2**40) not in (row[5] or "") and "A\x00" not in (row[5] or "") for row in live["parked"])
