"""Who abandoned a rebuild or switched the live read model to one is kept in plr_ops.rebuilds (`finished_by`, the
projector's ops migration 0011), as `started_by` is, and the rebuild status says who ended the last one, also after
the projector restarts."""

from __future__ import annotations

import asyncpg
import pytest
from tests.support.projector import running_projector
from tests.support.rebuilds import caught_up_rebuild, learners_log, new_ulns, projected_live, topics_holding

pytestmark = pytest.mark.integration

STARTER, ABANDONER, SWITCHER = "operator:starter", "operator:abandoner", "operator:switcher"


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
    records = learners_log(new_ulns(10))
    prefix = await topics_holding(kafka_bootstrap, records)
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix) as app:
        await projected_live(app, records)
        await caught_up_rebuild(app, STARTER)
        async with await app.client(ABANDONER) as client:
            abandoned = await client.delete("/v1/admin/rebuild")
        assert abandoned.status_code == 200, abandoned.text
        last = (await app.get(STARTER, "/v1/admin/rebuild")).json()["last"]
        assert (last["rebuild_id"], last["state"], last["finished_by"]) == (1, "abandoned", ABANDONER)

        await caught_up_rebuild(app, STARTER)
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
