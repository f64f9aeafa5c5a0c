"""The projector's record of a retry or skip names the batch whose event it was (reconcile walk, finding 1): kept in
its own column (ops migration 0013, beside the fields every service's table has), read back, and answered by
`GET /v1/admin/dlq/actions`."""

from __future__ import annotations

from datetime import UTC, datetime

from plr_projector import store
from plr_projector.admin_models import DeadLetterActions

from .dead_letter_tables import SERVICES_COLUMNS, DeadLetterTable

BATCH = "7f3f49f8-0000-4000-8000-000000000001"
ACTION = store.ProjectorDeadLetterAction(
    action="skip",
    operator="operator:ops",
    reason="restored from a backup",
    replaced=False,
    consumer=store.DEAD_LETTER_CONSUMER,
    topic="lrs.plr.events.v1",
    partition=0,
    offset=9,
    event_id="e-1",
    event_type="lrs.plr.achievement-updated.v1",
    applied=0,
    skipped=1,
    still_parked=0,
    duplicates=0,
    batch_id=BATCH,
)
COLUMNS = [*SERVICES_COLUMNS, "duplicates", "batch_id"]


def _table() -> DeadLetterTable:
    """`plr_ops.dead_letter_actions` as ops migration 0013 leaves it."""
    return DeadLetterTable(COLUMNS, datetime(2026, 12, 7, tzinfo=UTC))


async def test_a_skip_is_kept_and_read_back_with_its_batch() -> None:
    table = _table()
    await store.record_dead_letter_action(table, ACTION)
    [read] = await store.dead_letter_actions(table, 10)
    assert read.batch_id == BATCH
    assert read.view() == ACTION.view() | {"acted_at": "2026-12-07T00:00:00+00:00"}


async def test_an_action_of_no_batch_or_recorded_before_the_column_names_none() -> None:
    table = _table()
    of_no_batch = store.ProjectorDeadLetterAction(**{**ACTION.__dict__, "batch_id": None})
    await store.record_dead_letter_action(table, of_no_batch)
    [read] = await store.dead_letter_actions(table, 10)
    assert read.batch_id is None


def test_the_actions_answer_names_the_batch() -> None:
    view = {**ACTION.view(), "acted_at": "2026-12-07T00:00:00+00:00"}
    answered = DeadLetterActions.model_validate({"actions": [view]}).model_dump(mode="json")
    assert answered["actions"][0]["batch_id"] == BATCH
