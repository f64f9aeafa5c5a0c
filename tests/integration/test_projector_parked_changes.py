"""The projector's parked-depth metric counts the parked events again only once their table was written
(`ReadModel.parked_changes`, from PostgreSQL's statistics): a count reads every parked row."""

from __future__ import annotations

import functools
from typing import Any

import asyncpg
import pytest
from tests.support.databases import migrated_connection
from tests.support.waiting import eventually

from plr_projector.projection import BatchChanges, Message, Parked
from plr_projector.store import LIVE_SCHEMA, ReadModel

pytestmark = pytest.mark.integration


async def test_each_write_of_parked_events_shows_in_the_tables_changes_at_once(fresh_database_url: str) -> None:
    model = ReadModel(LIVE_SCHEMA)
    message = Message("lrs.plr.events.v1", 0, 7, b"1000000042", b"{}", 0)
    parked = Parked(message, "error", "unreadable", None, None, message.value)
    async with migrated_connection(fresh_database_url, LIVE_SCHEMA, "plr_projector.migrations") as reader:
        writer = await asyncpg.connect(fresh_database_url)
        try:
            before = await model.parked_changes(reader)

            async def changed_since(earlier: int) -> int | None:
                now = await model.parked_changes(reader)
                return now if now > earlier else None

            def changed() -> Any:
                return functools.partial(changed_since, before)

            for _ in range(2):  # a second write within the second: a backend's counts then wait up to 10 s
                async with writer.transaction():
                    await model.write(writer, BatchChanges(parked=[parked]), {}, publish_dead_letters=False)
                before = await eventually(changed(), within=3, what="the park counted")
                assert await model.parked_depth(reader) == {"error": 1, "blocked": 0}
                assert await model.oldest_parked_at(reader) is not None

                async with writer.transaction():
                    await model.delete_parked(writer, [message.position])
                before = await eventually(changed(), within=3, what="the release counted")
                assert await model.parked_depth(reader) == {"error": 0, "blocked": 0}
                assert await model.oldest_parked_at(reader) is None
        finally:
            await writer.close()
