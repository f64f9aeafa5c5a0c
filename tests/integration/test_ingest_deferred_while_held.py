"""Report windows, finding 3, against real Kafka and PostgreSQL: while a maintenance window or pause holds an AO's
waiting batches, none is decided before it ends, so the queue limit's 429 (decision 0171) names the hold and its end,
asks again after it (`Retry-After`: the seconds until the window's end; 300 during a pause) and carries the same
`maintenance` notice as the 202 answers before it.

The hold is the schedule ingest answers with (`MaintenanceStore.current`), set in the app, not stored nor announced:
a schedule on the shared maintenance topic would hold every other test's decider."""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from tests.integration.test_ingest_api import (  # noqa: F401 - ingest_database_url is a fixture
    Ingest,
    _settings,
    _true_or_none,
    batch_file,
    ingest_database_url,
    running,
)
from tests.integration.test_ingest_uploads import _json, _listed
from tests.support.waiting import eventually

from ingest.maintenance import MaintenanceStore
from lrs_contracts.envelope import utc_now
from lrs_contracts.operations import MaintenancePause, MaintenanceScheduleChanged, MaintenanceWindow
from lrs_platform.kafka import ensure_topics

pytestmark = pytest.mark.integration

LIMIT = 8  # two batches of four records


@pytest.fixture(scope="module")
async def ingest(kafka_bootstrap: str, ingest_database_url: str) -> AsyncIterator[Ingest]:  # noqa: F811
    await ensure_topics(kafka_bootstrap)
    settings = _settings(kafka_bootstrap, ingest_database_url, max_waiting_records_per_ao=LIMIT)
    async with running(settings) as (app, client):
        consumer = app.state.outcome_consumer
        await eventually(lambda: _true_or_none(consumer.caught_up), within=120, what="the outcome consumer caught up")
        yield Ingest(app, client, kafka_bootstrap)


def _answering_with(ingest: Ingest, schedule: MaintenanceScheduleChanged, monkeypatch: pytest.MonkeyPatch) -> None:
    store: MaintenanceStore = ingest.app.state.maintenance

    async def current() -> MaintenanceScheduleChanged:
        return schedule

    monkeypatch.setattr(store, "current", current)


async def _at_the_limit(ingest: Ingest) -> tuple[str, dict[str, str], dict[str, object]]:
    """A new AO with two batches queued, the limit's worth of records: the notice the 202s carried."""
    ao_id, headers = await ingest.new_ao()
    notices = []
    for reference in ("HELD-1", "HELD-2"):
        answer = await ingest.client.post(
            "/v1/batches", content=batch_file(ao_id, records=4, reference=reference), headers=_json(headers)
        )
        assert answer.status_code == 202, answer.text
        assert answer.json()["status"] == "queued", answer.text
        notices.append(answer.json()["maintenance"])
    assert notices[0] == notices[1]
    return ao_id, headers, notices[0]


async def _deferred(ingest: Ingest, ao_id: str, headers: dict[str, str]) -> httpx.Response:
    answer = await ingest.client.post(
        "/v1/batches", content=batch_file(ao_id, records=1, reference="NEW"), headers=_json(headers)
    )
    assert answer.status_code == 429, answer.text
    assert (answer.json()["code"], answer.json()["records_waiting"]) == ("TOO_MANY_RECORDS_WAITING", LIMIT)
    return answer


async def test_during_a_window_the_429_says_until_its_end_and_asks_again_then(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = utc_now()
    window = MaintenanceWindow(
        window_id=uuid.uuid4(),
        starts_at=now - timedelta(minutes=1),
        ends_at=(now + timedelta(hours=20)).replace(microsecond=0),
        reason="sandpit database upgrade",
    )
    _answering_with(
        ingest, MaintenanceScheduleChanged(schedule_id=uuid.uuid4(), version=1, windows=(window,)), monkeypatch
    )
    ao_id, headers, notice = await _at_the_limit(ingest)

    answer = await _deferred(ingest, ao_id, headers)

    problem = answer.json()
    until = window.ends_at.isoformat().replace("+00:00", "Z")
    assert problem["maintenance"] == notice and notice["until"] == until
    assert (
        f"held by maintenance (sandpit database upgrade) until {until}: send this file after that"
        in (problem["detail"])
    )
    left = math.ceil((window.ends_at - utc_now()).total_seconds())
    assert left <= int(answer.headers["Retry-After"]) == problem["retry_after"] <= left + 60
    assert await _listed(ingest, headers) == 2  # nothing of it was kept


async def test_during_a_pause_the_429_says_until_it_is_resumed_and_asks_again_in_5_minutes(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    pause = MaintenancePause(since=utc_now(), reason="broker incident")
    _answering_with(ingest, MaintenanceScheduleChanged(schedule_id=uuid.uuid4(), version=1, pause=pause), monkeypatch)
    ao_id, headers, notice = await _at_the_limit(ingest)

    answer = await _deferred(ingest, ao_id, headers)

    problem = answer.json()
    assert problem["maintenance"] == notice and notice["paused"] is True
    assert "held by maintenance (broker incident) until the LRS resumes after an unplanned pause" in problem["detail"]
    assert answer.headers["Retry-After"] == "300" and problem["retry_after"] == 300
