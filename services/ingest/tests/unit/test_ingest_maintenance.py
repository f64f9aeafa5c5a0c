"""How a batch answer reads while batches are held for maintenance (pure: no database)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from ingest.maintenance import MaintenanceStore, notice_for
from ingest.submission import BatchStatus
from ingest.views import BatchAccepted
from lrs_contracts.environments import Environment
from lrs_contracts.operations import MaintenancePause, MaintenanceScheduleChanged
from lrs_platform.maintenance import Closure

WINDOW_END = datetime(2026, 6, 2, 2, 0, tzinfo=UTC)


def answer(status: BatchStatus) -> BatchAccepted:
    return BatchAccepted(batch_id=uuid.uuid4(), status=status, status_url="/v1/batches/x")


def test_an_accepted_batch_is_queued_with_when_it_will_be_processed() -> None:
    held = notice_for(Closure("database upgrade", WINDOW_END, paused=False), answer(BatchStatus.ACCEPTED))
    assert held.status is BatchStatus.QUEUED
    assert held.maintenance is not None
    assert (held.maintenance.reason, held.maintenance.until) == ("database upgrade", WINDOW_END)
    assert held.maintenance.message == "will be processed after 2026-06-02T02:00:00Z"


def test_a_pause_has_no_end_to_promise() -> None:
    held = notice_for(Closure("broker incident", None, paused=True), answer(BatchStatus.ACCEPTED))
    assert held.maintenance is not None and held.maintenance.paused
    assert held.maintenance.message == "will be processed when the LRS resumes after an unplanned pause"


def test_a_batch_already_begun_or_decided_and_any_batch_outside_maintenance_is_shown_as_it_is() -> None:
    closure = Closure("database upgrade", WINDOW_END, paused=False)
    for status in (BatchStatus.RECEIVED, BatchStatus.VALIDATING, BatchStatus.COMPLETED, BatchStatus.REFUSED):
        shown = answer(status)
        assert notice_for(closure, shown) is shown
    accepted = answer(BatchStatus.ACCEPTED)
    assert notice_for(None, accepted) is accepted


async def test_a_sandpit_pause_says_the_sandpit_resumes() -> None:
    """Ops walk, finding 6: the Sandpit's ingest knows it is the Sandpit's, and so do its batches' notices."""
    paused = MaintenanceScheduleChanged(
        schedule_id=uuid.uuid4(), version=1, pause=MaintenancePause(since=WINDOW_END, reason="sandpit test pause")
    )
    for environment, who in ((Environment.SANDPIT, "the Sandpit"), (Environment.LIVE, "the LRS")):
        store = MaintenanceStore(None, environment=environment)

        async def current(schedule: MaintenanceScheduleChanged = paused) -> MaintenanceScheduleChanged:
            return schedule

        store.current = current  # type: ignore[method-assign]
        held = notice_for(await store.closure(), answer(BatchStatus.ACCEPTED))
        assert held.maintenance is not None
        assert held.maintenance.message == f"will be processed when {who} resumes after an unplanned pause"
