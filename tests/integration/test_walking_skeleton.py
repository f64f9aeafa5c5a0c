"""A batch flows end to end: ingest -> Kafka -> validation -> the PLR log -> projector -> PLR API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from aiokafka import TopicPartition
from tests.integration.conftest import SystemUnderTest
from tests.support.catalogue import Pick, pick
from tests.support.learners import corrupt_check_digit, json_batch, json_record, learners_csv, new_learner
from tests.support.waiting import eventually

from lrs_contracts.registry import decode
from lrs_contracts.topics import PLR_EVENTS
from lrs_platform.kafka import make_consumer

pytestmark = pytest.mark.integration

VOCATIONAL = "Vocationally-Related Qualification"


def _vocational_pick() -> Pick:
    return pick(qualification_type=VOCATIONAL)


async def _register(system: SystemUnderTest, learners: list[dict[str, str]]) -> None:
    async with await system.client("validation", "operator:tests") as client:
        response = await client.post(
            "/v1/learners/import", content=learners_csv(learners), headers={"Content-Type": "text/csv"}
        )
        assert response.status_code == 201, response.text


async def _submit_and_wait(system: SystemUnderTest, ao_id: str, batch: dict[str, Any]) -> dict[str, Any]:
    async with await system.client("ingest", f"ao:{ao_id}") as client:
        response = await client.post("/v1/batches", json=batch)
        assert response.status_code == 202, response.text
        batch_id = response.json()["batch_id"]

        async def decided() -> dict[str, Any] | None:
            view = (await client.get(f"/v1/batches/{batch_id}")).json()
            return view if view["status"] in ("completed", "failed") else None

        return await eventually(decided, within=90, what=f"batch {batch_id} decided")


async def _plr(system: SystemUnderTest, uln: str, after_batch: str | None = None) -> httpx.Response:
    async with await system.client("plr-projector", "operator:tests") as client:
        params = {"after_batch": after_batch} if after_batch else {}
        return await client.get(f"/v1/learners/{uln}/plr", params=params)


async def _log_events_of(system: SystemUnderTest, batch_id: str) -> list[Any]:
    """Every event on the PLR log that the batch caused, reading the whole log up to its current end."""
    consumer = make_consumer(system.kafka_bootstrap, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(PLR_EVENTS.name, p) for p in consumer.partitions_for_topic(PLR_EVENTS.name) or []]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        found: list[Any] = []
        while any(await consumer.position(tp) < end[tp] for tp in partitions):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    envelope, payload = decode(record.value)
                    if envelope.correlation_id == batch_id:
                        found.append(payload)
        return found
    finally:
        await consumer.stop()


def _batch_of(pick: Pick, learners: list[dict[str, str]], bad_ulns: int) -> dict[str, Any]:
    records = []
    for index, learner in enumerate(learners):
        uln = corrupt_check_digit(learner["uln"]) if index < bad_ulns else learner["uln"]
        records.append(json_record({**learner, "uln": uln}, pick.qualification_number, pick.passing_grade))
    return json_batch(pick.ao_id, records)


async def test_batch_reaches_the_plr_through_the_event_log(system: SystemUnderTest) -> None:
    pick = _vocational_pick()
    learners = [new_learner() for _ in range(20)]
    await _register(system, learners)

    view = await _submit_and_wait(system, pick.ao_id, _batch_of(pick, learners, bad_ulns=0))

    assert view["status"] == "completed"
    assert view["counts"]["accepted"] == 20
    batch_id = view["batch_id"]
    plr_ids: dict[str, str] = {}
    for learner in learners:
        response = await _plr(system, learner["uln"], after_batch=batch_id)
        assert response.status_code == 200, response.text
        events = response.json()["learning_events"]
        assert len(events) == 1
        assert events[0]["grade"] == pick.passing_grade
        plr_ids[learner["uln"]] = events[0]["id"]

    seen = {
        payload.key.uln: str(payload.achievement_id)  # type: ignore[attr-defined]
        for payload in await _log_events_of(system, batch_id)
    }
    assert seen == plr_ids


@pytest.mark.parametrize(("bad", "expected"), [(31, "failed"), (30, "completed")])
async def test_rejection_threshold_is_thirty_percent(system: SystemUnderTest, bad: int, expected: str) -> None:
    pick = _vocational_pick()
    learners = [new_learner() for _ in range(100)]
    await _register(system, learners)

    view = await _submit_and_wait(system, pick.ao_id, _batch_of(pick, learners, bad_ulns=bad))

    assert view["status"] == expected
    assert view["counts"]["rejected"] == bad
    good_learner = learners[-1]["uln"]
    if expected == "failed":
        assert view["failure_code"] == "RS005"
        assert await _log_events_of(system, view["batch_id"]) == []
        for learner in learners:
            response = await _plr(system, learner["uln"])
            assert response.status_code == 404 or response.json()["learning_events"] == []
    else:
        response = await _plr(system, good_learner, after_batch=view["batch_id"])
        assert len(response.json()["learning_events"]) == 1
