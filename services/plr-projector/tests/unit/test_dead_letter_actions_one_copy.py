"""One pair of functions writes and reads every service's `dead_letter_actions`, the PLR projector's too: each
action's fields go to the columns its table has (the services' has no `duplicates`), and read back as they went."""

from __future__ import annotations

from datetime import UTC, datetime

from lrs_platform.parking import DeadLetterAction, ParkedMessages, dead_letter_actions, record_dead_letter_action
from plr_projector import store

from .dead_letter_tables import SERVICES_COLUMNS, DeadLetterTable

ACTION = DeadLetterAction(
    action="retry",
    operator="operator:ops",
    reason="mended",
    replaced=True,
    consumer="notifier",
    topic="lrs.batch.events.v1",
    partition=0,
    offset=9,
    event_id="e-1",
    event_type="lrs.batch.run.v1",
    applied=1,
    skipped=0,
    still_parked=0,
    duplicates=2,
)


def _table(columns: list[str]) -> DeadLetterTable:
    return DeadLetterTable(columns, datetime(2026, 12, 6, tzinfo=UTC))


async def test_a_services_table_takes_every_field_it_has_a_column_for() -> None:
    table = _table(SERVICES_COLUMNS)
    await record_dead_letter_action(table, "notifier_parked", ACTION)
    [row] = table.rows
    assert "duplicates" not in row  # the services do not count them: no column, nothing sent for it
    [read] = await dead_letter_actions(table, "notifier_parked", 10)
    assert read.view() == ACTION.view() | {"duplicates": None, "acted_at": "2026-12-06T00:00:00+00:00"}


async def test_the_projectors_table_keeps_its_duplicates_through_the_same_functions() -> None:
    table = _table([*SERVICES_COLUMNS, "duplicates"])
    await store.record_dead_letter_action(table, ACTION)
    assert table.schemas == [store.OPS_SCHEMA]
    [read] = await store.dead_letter_actions(table, 10)
    assert (read.duplicates, read.reason, read.replaced) == (2, "mended", True)


async def test_parked_messages_record_and_list_through_them() -> None:
    table = _table(SERVICES_COLUMNS)
    parked = ParkedMessages(table, "notifier_parked")
    await parked.record_action(ACTION)
    await parked.record_action(ACTION.__class__(**{**ACTION.__dict__, "action": "skip"}))
    assert [each.action for each in await parked.actions(10)] == ["skip", "retry"]
    assert table.schemas == ["notifier_parked", "notifier_parked"]
