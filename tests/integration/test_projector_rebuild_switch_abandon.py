"""Switching to a rebuild and abandoning it are exclusive: sent together, or one while the other is under way,
exactly one is carried out, the other is refused 409 (never a 500), and plr_ops.rebuilds records what is live."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import asyncpg
import httpx
import pytest
from tests.support.projector import PLR, App, Events, Record, envelope_bytes, produce, running_projector
from tests.support.rebuilds import (
    OPERATOR,
    caught_up_rebuild,
    learners_log,
    new_ulns,
    projected_live,
    topics_holding,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

LEARNER_COUNT = 30


async def _schema_oid(connection: asyncpg.Connection, name: str) -> int | None:
    oid = await connection.fetchval("SELECT oid FROM pg_namespace WHERE nspname = $1", name)
    return None if oid is None else int(oid)


async def _waits_for(connection: asyncpg.Connection, table: int) -> bool:
    """Whether another session waits for a lock on `table` (the one this test holds)."""
    return bool(await connection.fetchval("SELECT count(*) FROM pg_locks WHERE relation = $1 AND NOT granted", table))


def _arrival(monkeypatch: pytest.MonkeyPatch, rebuilds: Any, operation: str) -> asyncio.Event:
    """Set once the request has reached the projector's `operation` (and gone as far as it can go at once)."""
    arrived = asyncio.Event()
    carried_out = getattr(rebuilds, operation)

    async def noted(*arguments: Any) -> Any:
        arrived.set()
        return await carried_out(*arguments)

    monkeypatch.setattr(rebuilds, operation, noted)
    return arrived


async def _delete(app: App, path: str) -> httpx.Response:
    async with await app.client(OPERATOR) as client:
        return await client.delete(path)


@pytest.mark.parametrize("order", ["together", "switch_then_abandon", "abandon_then_switch"])
async def test_a_switch_and_an_abandon_of_one_rebuild_one_is_carried_out_the_other_refused(
    fresh_database_url: str, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch, order: str
) -> None:
    records = learners_log(new_ulns(LEARNER_COUNT))
    prefix = await topics_holding(kafka_bootstrap, records)
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix) as app:
        await projected_live(app, records)
        await caught_up_rebuild(app)
        rebuilds = app.app.state.projector.rebuilds
        connection = await asyncpg.connect(fresh_database_url)
        try:
            live_before = await _schema_oid(connection, "plr")
            rebuilt_schema = await _schema_oid(connection, "plr_rebuild_1")
            switch: Awaitable[httpx.Response]
            abandon: Awaitable[httpx.Response]
            if order == "together":
                switch = app.post(OPERATOR, "/v1/admin/rebuild/switch")
                abandon = _delete(app, "/v1/admin/rebuild")
                switched, abandoned = await asyncio.gather(switch, abandon)
            else:
                # The first call is held in PostgreSQL by a lock on the rebuilt model's offsets: the switch once it
                # has renamed the schemas (the live runner reads its offsets again), the abandon at its DROP. The
                # second is sent while it waits, and the lock is let go once the second has reached the projector.
                first, second = order.split("_then_")
                arrived = _arrival(monkeypatch, rebuilds, second)
                held = connection.transaction()
                await held.start()
                mode = "ACCESS EXCLUSIVE" if first == "switch" else "ACCESS SHARE"
                await connection.execute(f'LOCK TABLE "plr_rebuild_1".offsets IN {mode} MODE')
                offsets = await connection.fetchval("SELECT 'plr_rebuild_1.offsets'::regclass::oid")
                if first == "switch":
                    switch = asyncio.ensure_future(app.post(OPERATOR, "/v1/admin/rebuild/switch"))
                    await eventually(lambda: _waits_for(connection, offsets), within=30, what="switch held")
                    abandon = asyncio.ensure_future(_delete(app, "/v1/admin/rebuild"))
                else:
                    abandon = asyncio.ensure_future(_delete(app, "/v1/admin/rebuild"))
                    await eventually(lambda: _waits_for(connection, offsets), within=30, what="abandon held")
                    switch = asyncio.ensure_future(app.post(OPERATOR, "/v1/admin/rebuild/switch"))
                await asyncio.wait_for(arrived.wait(), timeout=30)
                await held.rollback()
                switched, abandoned = await asyncio.gather(switch, abandon)

            answers = {"switch": switched, "abandon": abandoned}
            carried_out = [name for name, answer in answers.items() if answer.status_code == 200]
            assert len(carried_out) == 1, {name: (answer.status_code, answer.text) for name, answer in answers.items()}
            [winner] = carried_out
            if order != "together":
                assert winner == order.split("_then_")[0]
            [refused] = [answer for name, answer in answers.items() if name != winner]
            assert refused.status_code == 409, refused.text
            assert refused.json()["title"] == "No rebuild", refused.text
            # and the operator refused is told what became of the rebuild
            assert f"Rebuild 1 was {'switched to' if winner == 'switch' else 'abandoned'}" in refused.json()["detail"]

            state = await connection.fetchval("SELECT state FROM plr_ops.rebuilds WHERE rebuild_id = 1")
            schemas = {row["nspname"] for row in await connection.fetch("SELECT nspname FROM pg_namespace")}
            assert "plr_rebuild_1" not in schemas
            if winner == "switch":
                assert state == "switched"
                assert await _schema_oid(connection, "plr") == rebuilt_schema  # the rebuilt model is the live one
                assert await _schema_oid(connection, "plr_retired_1") == live_before
            else:
                assert state == "abandoned"
                assert await _schema_oid(connection, "plr") == live_before
                assert "plr_retired_1" not in schemas
        finally:
            await connection.close()
        assert (await app.get(OPERATOR, "/v1/admin/rebuild")).json()["state"] == "idle"
        # the projector reads on from whichever model is live
        [later] = new_ulns(1)
        await produce(kafka_bootstrap, prefix, [Record(PLR, later, envelope_bytes(Events().recorded(later)))])

        async def visible() -> bool:
            response = await app.get(f"learner:{later}", f"/v1/learners/{later}/plr")
            return response.status_code == 200 and len(response.json()["learning_events"]) == 1

        await eventually(visible, within=30, what="an event projected after the switch or abandon")
