"""`GET /v1/admin/dlq` names each parked event's batch, as the projector stores it (`parked.batch_id`, migration
0008), so the desk sees from the dead letters which AO's batches wait on a fix (incident walk, finding 2); none for
an event of no batch."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from plr_projector.admin_models import ParkedEvents
from plr_projector.dead_letters import parked_view
from plr_projector.store import BULK_COLUMNS, _parked_from

BATCH = uuid.UUID("a4f9a2e1-0000-4000-8000-000000000001")


def _stored(**columns: object) -> dict[str, object]:
    """A `parked` row as PostgreSQL gives it: every column, `last_tried_at` too."""
    row: dict[str, object] = dict.fromkeys(BULK_COLUMNS["parked"])
    row |= {
        "topic": "lrs.plr.events.v1",
        "partition": 2,
        "offset": 35,
        "park_key": "1573663718",
        "reason": "blocked",
        "event_id": uuid.UUID(int=9),
        "event_type": "lrs.achievement.recorded.v1",
        "kafka_timestamp_ms": 0,
        "attempts": 0,
        "parked_at": datetime(2026, 12, 7, 12, 20, tzinfo=UTC),
        "last_tried_at": None,
    }
    return row | columns


def test_a_held_event_is_listed_with_the_batch_it_was_stored_with() -> None:
    row = _parked_from(_stored(batch_id=BATCH))

    listed = parked_view(row)

    assert listed["batch_id"] == str(BATCH)
    assert ParkedEvents.model_validate({"parked": [listed], "total": 1}).parked[0].batch_id == str(BATCH)


def test_an_event_of_no_batch_is_listed_with_none() -> None:
    listed = parked_view(_parked_from(_stored()))

    assert listed["batch_id"] is None  # null, not the text "None"
    assert ParkedEvents.model_validate({"parked": [listed], "total": 1}).parked[0].batch_id is None
