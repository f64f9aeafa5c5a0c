"""A maintenance change sent again, on real PostgreSQL (report idempotency, finding 2): a pause, a resume or a cancel
repeated (a retry after a lost answer, a second click, a second operator) changes nothing, and its 409 says what
is so and who made it so, when: the pause on (who, when, its reason), the last resume, the cancel or the window's end.

Each test has a database of its own: no schedule is announced (no Kafka), so no decider is held.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from starlette.requests import Request
from tests.support.databases import ingest_pool, throwaway_database

from ingest.maintenance import AlreadyPaused, MaintenanceStore, NotPaused, UnknownWindow, WindowAlreadyClosed
from ingest.maintenance_api import _maintenance_error
from lrs_contracts.envelope import utc_now

pytestmark = pytest.mark.integration

ANN, BOB = "operator:ann", "operator:bob"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[MaintenanceStore]:
    async with throwaway_database(database_url, "ingest_repeat") as url, ingest_pool(url) as pool:
        yield MaintenanceStore(pool)


async def _problem(error: Exception, path: str) -> dict[str, Any]:
    request = Request({"type": "http", "method": "POST", "path": path, "headers": [], "query_string": b""})
    answer = await _maintenance_error(request, error)
    assert answer.status_code == 409
    problem: dict[str, Any] = json.loads(bytes(answer.body))
    return problem


async def test_a_pause_sent_again_is_told_who_paused_and_when_and_why_and_nothing_is_changed(
    store: MaintenanceStore,
) -> None:
    paused = await store.pause("database failover", ANN)
    with pytest.raises(AlreadyPaused) as again:
        await store.pause("something else", BOB)
    assert again.value.pause == paused
    problem = await _problem(again.value, "/v1/admin/maintenance/pause")
    detail = str(problem["detail"])
    assert "resume it first" not in detail
    assert detail.startswith(f"the LRS is paused already, by {ANN} at ")
    assert detail.endswith("with the reason: database failover")
    assert problem["pause"] == paused.model_dump(mode="json")
    assert problem["pause"]["paused_by"] == ANN and problem["pause"]["resumed_at"] is None
    _windows, pauses = await store.history(10)
    assert [pause.pause_id for pause in pauses] == [paused.pause_id]


async def test_a_resume_sent_again_is_told_who_resumed_and_when(store: MaintenanceStore) -> None:
    with pytest.raises(NotPaused) as never:
        await store.resume(ANN)
    assert never.value.last is None
    problem = await _problem(never.value, "/v1/admin/maintenance/resume")
    assert problem["detail"] == "the LRS is not paused"
    assert "pause" not in problem  # none was ever made

    await store.pause("broker incident", ANN)
    resumed = await store.resume(BOB)
    with pytest.raises(NotPaused) as again:
        await store.resume(ANN)
    assert again.value.last == resumed
    problem = await _problem(again.value, "/v1/admin/maintenance/resume")
    assert str(problem["detail"]).startswith(f"the LRS is not paused: the last pause was resumed by {BOB} at ")
    assert problem["pause"]["resumed_by"] == BOB


async def test_a_cancel_sent_again_is_told_who_cancelled_it_and_when(store: MaintenanceStore) -> None:
    now = utc_now()
    record, _ = await store.add_window(now + timedelta(days=1), now + timedelta(days=1, hours=1), "upgrade", ANN)
    window_id = record.window.window_id
    cancelled = await store.cancel_window(window_id, BOB)
    with pytest.raises(WindowAlreadyClosed) as again:
        await store.cancel_window(window_id, ANN)
    assert again.value.record == cancelled
    problem = await _problem(again.value, f"/v1/admin/maintenance/windows/{window_id}")
    assert str(problem["detail"]).startswith(f"maintenance window {window_id} was cancelled already, by {BOB} at ")
    assert problem["window"]["cancelled_by"] == BOB
    assert problem["window"]["window"]["window_id"] == str(window_id)


async def test_a_cancel_of_a_window_that_ran_to_its_end_says_when_it_ended(store: MaintenanceStore) -> None:
    now = utc_now()
    record, _ = await store.add_window(now, now + timedelta(hours=1), "short", ANN)
    window_id = record.window.window_id
    async with store._pool.acquire() as connection, connection.transaction():  # the clock is driven: the window ran
        await connection.execute("SET LOCAL lrs.audit_maintenance = 'on'")  # to its end (decision 0200)
        await connection.execute(
            "UPDATE ingest.maintenance_windows SET starts_at = starts_at - interval '3 hours',"
            " ends_at = ends_at - interval '3 hours' WHERE window_id = $1",
            window_id,
        )
    with pytest.raises(WindowAlreadyClosed) as over:
        await store.cancel_window(window_id, ANN)
    problem = await _problem(over.value, f"/v1/admin/maintenance/windows/{window_id}")
    assert f"maintenance window {window_id} is over: it ended at " in str(problem["detail"])
    assert problem["window"]["cancelled_at"] is None


async def test_an_unknown_window_is_still_not_found(store: MaintenanceStore) -> None:
    with pytest.raises(UnknownWindow):
        await store.cancel_window(uuid.uuid4(), ANN)
