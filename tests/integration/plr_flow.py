"""Helpers for end-to-end tests: register learners, submit batches, read PLRs and the log."""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition
from tests.integration.conftest import SystemUnderTest
from tests.support.learners import learners_csv
from tests.support.waiting import eventually

from lrs_contracts.registry import decode
from lrs_contracts.topics import PLR_EVENTS
from lrs_platform.kafka import make_consumer


async def register(system: SystemUnderTest, learners: list[dict[str, str]]) -> None:
    async with await system.client("validation", "operator:tests") as client:
        response = await client.post(
            "/v1/learners/import", content=learners_csv(learners), headers={"Content-Type": "text/csv"}
        )
        assert response.status_code == 201, response.text


async def submit(system: SystemUnderTest, ao_id: str, batch: dict[str, Any]) -> str:
    async with await system.client("ingest", f"ao:{ao_id}") as client:
        response = await client.post("/v1/batches", json=batch)
        assert response.status_code == 202, response.text
        return str(response.json()["batch_id"])


def decided_view(view: dict[str, Any]) -> bool:
    """True once the batch is completed or failed; an abandoned batch (decision 0103) will never be, so the
    wait fails at once, naming it."""
    if view["status"] == "abandoned":
        raise AssertionError(f"batch {view['batch_id']} was abandoned, not decided: {view.get('failure_reason')}")
    return view["status"] in ("completed", "failed")


async def decided(system: SystemUnderTest, ao_id: str, batch_id: str, within: float = 120) -> dict[str, Any]:
    async with await system.client("ingest", f"ao:{ao_id}") as client:

        async def probe() -> dict[str, Any] | None:
            view: dict[str, Any] = (await client.get(f"/v1/batches/{batch_id}")).json()
            return view if decided_view(view) else None

        return await eventually(probe, within=within, what=f"batch {batch_id} decided")


async def submit_and_wait(system: SystemUnderTest, ao_id: str, batch: dict[str, Any]) -> dict[str, Any]:
    return await decided(system, ao_id, await submit(system, ao_id, batch))


async def record_outcomes(system: SystemUnderTest, ao_id: str, batch_id: str) -> list[dict[str, Any]]:
    async with await system.client("ingest", f"ao:{ao_id}") as client:
        response = await client.get(f"/v1/batches/{batch_id}/records", params={"page_size": 1000})
        assert response.status_code == 200, response.text
        records: list[dict[str, Any]] = response.json()["records"]
        return records


def codes_of(outcome: dict[str, Any]) -> list[str]:
    return [finding["code"] for finding in outcome.get("errors", [])]


async def plr(system: SystemUnderTest, uln: str, *, after_batch: str | None = None, **params: Any) -> dict[str, Any]:
    async with await system.client("plr-projector", f"learner:{uln}") as client:
        query = {**params, **({"after_batch": after_batch} if after_batch else {})}
        response = await client.get(f"/v1/learners/{uln}/plr", params=query)
        if response.status_code == 404:
            return {"learning_events": []}
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


async def log_events_of(system: SystemUnderTest, batch_id: str) -> list[tuple[str, Any]]:
    """(event id, payload) of every event on the PLR log caused by the batch, up to the log's end now."""
    consumer = make_consumer(system.kafka_bootstrap, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(PLR_EVENTS.name, p) for p in range(PLR_EVENTS.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        found: list[tuple[str, Any]] = []
        while await _behind(consumer, end):
            for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                for record in records:
                    envelope, payload = decode(record.value)
                    if envelope.correlation_id == batch_id:
                        found.append((str(envelope.event_id), payload))
        return found
    finally:
        await consumer.stop()


async def _behind(consumer: Any, end: dict[TopicPartition, int]) -> bool:
    for partition, end_offset in end.items():
        if await consumer.position(partition) < end_offset:
            return True
    return False
