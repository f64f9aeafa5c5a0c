"""A corrected copy keeps the parked message's subject (an operator-runbook walk-through): a retry of a parked
outcome with a copy naming another batch turned that batch, failed (RS005), into a completed one in the AO's
view, and a copy naming no batch at all added a completed batch the AO never sent."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson
import pytest
from tests.integration.test_consumer_poison import (
    NOW,
    bearer,
    ingest_caught_up,
    issue,
    outcomes_of,
    produce,
    with_text,
)
from tests.support.waiting import eventually

from lrs_contracts.batch import JobType
from lrs_contracts.outcomes import BatchCompleted, BatchCounts, BatchFailed
from lrs_contracts.registry import encode, wrap

pytestmark = pytest.mark.integration


def _completion(batch_id: uuid.UUID, ao_id: str, event_id: uuid.UUID) -> bytes:
    completed = BatchCompleted(
        batch_id=batch_id,
        ao_id=ao_id,
        job_type=JobType.FINAL,
        notification_email="results@ao.example",
        counts=BatchCounts(total=1, accepted=1, rejected=0, no_ops=0, warnings=0),
        submitted_at=NOW,
        decided_at=NOW,
    )
    return encode(wrap(completed, source="validation", correlation_id=str(batch_id), event_id=event_id))


def _failure(batch_id: uuid.UUID, ao_id: str) -> bytes:
    failed = BatchFailed(
        batch_id=batch_id,
        ao_id=ao_id,
        code="RS005",
        reason="every record was rejected",
        job_type=JobType.FINAL,
        notification_email="results@ao.example",
        counts=BatchCounts(total=1, accepted=0, rejected=1, no_ops=0, warnings=0),
        submitted_at=NOW,
        decided_at=NOW,
    )
    return encode(wrap(failed, source="validation", correlation_id=str(batch_id)))


async def test_a_corrected_copy_about_another_batch_is_refused_and_changes_no_batch(
    kafka_bootstrap: str, fresh_database_url: str
) -> None:
    async with ingest_caught_up(kafka_bootstrap, fresh_database_url, "ingest-copies") as (app, client):
        ao_id = f"RN{uuid.uuid4().int % 10**8:08d}"
        as_ao, as_operator = bearer(await issue(app, f"ao:{ao_id}")), bearer(await issue(app, "operator:dlq-tests"))
        failed, poisoned, event_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        [chunk, _] = outcomes_of(poisoned, ao_id)
        completion = _completion(poisoned, ao_id, event_id)
        nul_completion = with_text(completion, ao_id, ao_id + "\x00")  # PostgreSQL text refuses NUL
        await produce(
            kafka_bootstrap,
            (str(failed).encode(), _failure(failed, ao_id)),
            (str(poisoned).encode(), chunk),
            (str(poisoned).encode(), nul_completion),
        )

        async def parked() -> list[dict[str, Any]] | None:
            listing = await client.get("/v1/admin/dlq", params={"key": str(poisoned)}, headers=as_operator)
            return listing.json()["parked"] or None

        [head] = await eventually(parked, within=90, what="the poisoned completion parked")
        assert (await _batch(client, failed, as_ao))["status"] == "failed"

        async def retried_with(copy: bytes) -> httpx.Response:
            body = {"replacement": orjson.loads(copy)}
            return await client.post(f"/v1/admin/dlq/{head['id']}/retry", json=body, headers=as_operator)

        phantom = uuid.uuid4()
        for about_another in (_completion(failed, ao_id, event_id), _completion(phantom, ao_id, event_id)):
            refused = await retried_with(about_another)
            assert refused.status_code == 422, refused.text
            assert refused.json()["code"] == "INVALID_REQUEST"
            assert refused.json()["detail"].startswith("the replacement is about another subject than the parked")
        assert (await _batch(client, failed, as_ao))["status"] == "failed"
        assert (await client.get(f"/v1/batches/{phantom}", headers=as_ao)).status_code == 404

        mended = await retried_with(completion)
        assert mended.status_code == 200, mended.text
        assert mended.json()["results"][0]["applied"] == 1
        assert (await _batch(client, poisoned, as_ao))["status"] == "completed"


async def _batch(client: httpx.AsyncClient, batch_id: uuid.UUID, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(f"/v1/batches/{batch_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
