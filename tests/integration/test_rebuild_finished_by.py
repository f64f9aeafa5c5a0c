"""Who abandoned a rebuild or switched the live read model to one is kept in plr_ops.rebuilds (`finished_by`, the
projector's ops migration 0011), as `started_by` is, and the rebuild status says who ended the last one, also after
the projector restarts."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from tests.support.projector import (
    LEARNERS,
    PLR,
    App,
    Events,
    Record,
    create_topics,
    envelope_bytes,
    new_prefix,
    produce,
    registered,
    running_projector,
    stored_offsets,
    uln_for,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

STARTER, ABANDONER, SWITCHER = "operator:starter", "operator:abandoner", "operator:switcher"


def _log(base: int) -> list[Record]:
    records: list[Record] = []
    events = Events(ao_id="RN5133")
    for index in range(10):
        uln = uln_for(base + index)
        records.append(Record(LEARNERS, uln, envelope_bytes(registered(uln), sequence=index * 10)))
        records.append(Record(PLR, uln, envelope_bytes(events.recorded(uln), sequence=index * 10 + 1)))
    return records


async def _caught_up_rebuild(app: App) -> None:
    start = await app.post(STARTER, "/v1/admin/rebuild", workers=0)
    assert start.status_code == 202, start.text

    async def caught_up() -> bool:
        return bool((await app.get(STARTER, "/v1/admin/rebuild")).json()["state"] == "caught_up")

    await eventually(caught_up, within=60, what="rebuild caught up")


async def _recorded(database_url: str) -> list[tuple[int, str, str, str | None]]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT rebuild_id, state, started_by, finished_by FROM plr_ops.rebuilds ORDER BY rebuild_id"
        )
    finally:
        await connection.close()
    return [(row["rebuild_id"], row["state"], row["started_by"], row["finished_by"]) for row in rows]


async def test_who_abandoned_and_who_switched_is_kept_and_shown(fresh_database_url: str, kafka_bootstrap: str) -> None:
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    records = _log(uuid.uuid4().int % 50_000_000)
    await produce(kafka_bootstrap, prefix, records)
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix) as app:

        async def projected() -> bool:
            return sum((await stored_offsets(fresh_database_url)).values()) >= len(records)

        await eventually(projected, within=60, what="live projection")
        await _caught_up_rebuild(app)
        async with await app.client(ABANDONER) as client:
            abandoned = await client.delete("/v1/admin/rebuild")
        assert abandoned.status_code == 200, abandoned.text
        last = (await app.get(STARTER, "/v1/admin/rebuild")).json()["last"]
        assert (last["rebuild_id"], last["state"], last["finished_by"]) == (1, "abandoned", ABANDONER)

        await _caught_up_rebuild(app)
        switched = await app.post(SWITCHER, "/v1/admin/rebuild/switch")
        assert switched.status_code == 200, switched.text

    assert await _recorded(fresh_database_url) == [
        (1, "abandoned", STARTER, ABANDONER),
        (2, "switched", STARTER, SWITCHER),
    ]
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix) as app:  # read back at start
        status = (await app.get(STARTER, "/v1/admin/rebuild")).json()
    assert status["state"] == "idle"
    assert (status["last"]["rebuild_id"], status["last"]["state"], status["last"]["finished_by"]) == (
        2,
        "switched",
        SWITCHER,
    )
    assert status["last"]["finished_at"] is not None
