"""The projector's record of a retry or skip goes in whole with the one INSERT every service's does (review walk,
finding 6): the shared writer takes the fields of the action it is given, the projector's `batch_id` too, where it
wrote the batch with a second UPDATE found by `currval`; and the shared reader reads the projector's actions as
theirs, with the batch as its column answers it (a UUID) said as text."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from lrs_platform import parking
from plr_projector import store

from .dead_letter_tables import DeadLetterTable
from .test_dead_letter_action_names_its_batch import ACTION, BATCH, COLUMNS  # a skip of a batch's event


class StatementsKept:
    """The projector's table (a `DeadLetterTable`), keeping each statement sent to write it."""

    def __init__(self) -> None:
        self.table = DeadLetterTable(COLUMNS, datetime(2026, 12, 7, tzinfo=UTC))
        self.rows: list[dict[str, Any]] = self.table.rows
        self.statements: list[str] = []

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        answered: list[dict[str, Any]] = await self.table.fetch(query, *args)
        return answered

    async def execute(self, query: str, *args: Any) -> None:
        self.statements.append(query)
        await self.table.execute(query, *args)


async def test_the_batch_is_written_by_the_one_insert() -> None:
    table = StatementsKept()

    await store.record_dead_letter_action(table, ACTION)

    [statement] = table.statements
    assert statement.startswith("INSERT") and '"batch_id"' in statement
    assert table.rows[-1]["batch_id"] == BATCH


async def test_the_shared_reader_reads_the_projectors_actions_with_their_batch_as_text() -> None:
    table = StatementsKept()
    await store.record_dead_letter_action(table, ACTION)
    table.rows[-1]["batch_id"] = uuid.UUID(BATCH)  # as asyncpg reads a uuid column

    [read] = await parking.dead_letter_actions(table, store.OPS_SCHEMA, 10, store.ProjectorDeadLetterAction)

    assert isinstance(read, store.ProjectorDeadLetterAction)
    assert read.batch_id == BATCH
    assert read.view() == ACTION.view() | {"acted_at": "2026-12-07T00:00:00+00:00"}
