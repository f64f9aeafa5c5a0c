"""Report-sandpit finding 1, on a real broker: the Sandpit's PLR log keeps 30 days while its model keeps achievements
for ever, so a replay (which re-reads its learners from offset 0) or a rebuild (which loads from the log's first kept
offset) would silently drop every achievement whose event had expired. Once the log no longer starts at offset 0 (moved
here with DeleteRecords, as retention moves it), the Sandpit's projector refuses both, 409 SANDPIT_LOG_EXPIRED, and
starts nothing; while the log is whole a Sandpit replay runs as before."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import RecordsToDelete
from tests.support.databases import create_database, unique_name
from tests.support.projector import (
    Record,
    centre_report,
    dump_model,
    new_prefix,
    project,
    replay_finished,
    running_projector,
    uln_for,
)
from tests.support.system import issue_key
from tests.support.waiting import eventually

from lrs_contracts.environments import Environment, TopicNames
from lrs_platform.kafka import make_admin
from plr_projector.projection import PLR_TOPIC

pytestmark = pytest.mark.integration

OPERATOR = "operator:sandpit-replay-tests"


async def test_a_sandpit_replay_and_rebuild_are_refused_once_its_plr_log_no_longer_starts_at_0(
    database_url: str, kafka_bootstrap: str
) -> None:
    sandpit_database = await create_database(database_url, unique_name("sandpit"))
    prefix = new_prefix()
    plr_topic = TopicNames(Environment.SANDPIT, prefix).physical(PLR_TOPIC)
    uln = uln_for(uuid.uuid4().int % 1_000_000)
    log = [
        Record(PLR_TOPIC, uln, centre_report(uln, grade, sequence), 0)
        for sequence, grade in enumerate(("Pass", "Merit"))
    ]

    async with running_projector(sandpit_database, kafka_bootstrap, prefix, LRS_ENVIRONMENT="sandpit") as app:
        app.keys[OPERATOR] = await issue_key(sandpit_database, OPERATOR, Environment.SANDPIT)  # a Sandpit key
        await project(app, kafka_bootstrap, f"sandpit.{prefix}", log)
        # the log whole: a Sandpit replay runs as before
        started = await app.post(OPERATOR, "/v1/admin/replay", **{"from": "0"})
        assert started.status_code == 202, started.text
        finished = await eventually(lambda: replay_finished(app, OPERATOR), within=60, what="replay finished")
        assert finished["state"] == "finished", finished
        before = await dump_model(sandpit_database)

        admin = make_admin(kafka_bootstrap, request_timeout_ms=30_000)
        await admin.start()
        try:  # what 30 days of retention does to the first event
            await admin.delete_records({TopicPartition(plr_topic, 0): RecordsToDelete(before_offset=1)})
        finally:
            await admin.close()

        replay = await app.post(OPERATOR, "/v1/admin/replay", **{"from": "0"})
        rebuild = await app.post(OPERATOR, "/v1/admin/rebuild", workers=0)

        for refused, what in ((replay, "replay"), (rebuild, "rebuild")):
            assert refused.status_code == 409, refused.text
            problem = refused.json()
            assert problem["code"] == "SANDPIT_LOG_EXPIRED"
            assert problem["detail"] == (
                "The Sandpit's PLR log keeps 30 days (it now starts at offset 1 on partition 0): re-projecting would"
                " drop the achievements recorded before it; reset the AOs' Sandpits instead."
                f" No {what} was started."
            )
        assert (await app.get(OPERATOR, "/v1/admin/replay")).json()["replay_id"] == finished["replay_id"]
        assert (await app.get(OPERATOR, "/v1/admin/rebuild")).json()["state"] == "idle"
        assert await dump_model(sandpit_database) == before  # nothing dropped
