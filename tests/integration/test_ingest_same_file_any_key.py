"""The identical file sent without an Idempotency-Key answers the AO's earlier batch of it whatever key that batch
was sent with (README, the description of `POST /v1/batches`), against real Kafka and PostgreSQL: an operator's
keyless resend of what the AO's client sent under a key is a replay, not a second judgement (which failed a Withdraw
file RS005 and emailed the failure). A failed batch's file is still judged again (decision 0185), and a key still
names a request of its own."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from tests.integration.ingest_service import ingest_service  # noqa: F401 - the module's `ingest` fixture
from tests.integration.test_ingest_api import (  # noqa: F401 - ingest_database_url is a fixture
    Ingest,
    _outcome_values,
    batch_file,
    ingest_database_url,
    publish_outcomes,
)
from tests.integration.test_ingest_uploads import _fail, _submitted
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


async def _complete(ingest: Ingest, headers: dict[str, str], batch_id: uuid.UUID, ao_id: str) -> None:
    await publish_outcomes(ingest.kafka_bootstrap, batch_id, *_outcome_values(batch_id, ao_id))

    async def completed() -> bool | None:
        view = await ingest.client.get(f"/v1/batches/{batch_id}?wait_until_decided=5", headers=headers)
        return True if view.json()["status"] == "completed" else None

    await eventually(completed, within=60, what="the completed batch")


async def _listed(ingest: Ingest, headers: dict[str, str]) -> int:
    page = await ingest.client.get("/v1/batches", headers=headers)
    assert page.status_code == 200, page.text
    return int(page.json()["total"])


async def test_a_file_sent_under_a_key_and_then_without_one_answers_its_keyed_batch(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    content = batch_file(ao_id, records=4)
    key = {"Idempotency-Key": f"client-{uuid.uuid4().hex}"}
    keyed_id, replay = await _submitted(ingest, headers, content, **key)
    assert replay == "false"

    # while it waits for its decision, and once it is decided, the same bytes without a key are that batch
    assert await _submitted(ingest, headers, content) == (keyed_id, "true")
    await _complete(ingest, headers, keyed_id, ao_id)
    assert await _submitted(ingest, headers, content) == (keyed_id, "true")
    assert await _submitted(ingest, headers, content) == (keyed_id, "true")
    assert await _submitted(ingest, headers, content, **key) == (keyed_id, "true")
    assert await _listed(ingest, headers) == 1


async def test_a_failed_keyed_batch_s_file_sent_without_a_key_is_judged_again(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    content = batch_file(ao_id, records=4)
    key = {"Idempotency-Key": f"client-{uuid.uuid4().hex}"}
    failed_id, _ = await _submitted(ingest, headers, content, **key)
    await _fail(ingest, headers, failed_id, ao_id)

    again_id, replay = await _submitted(ingest, headers, content)
    assert (again_id != failed_id, replay) == (True, "false")
    assert await _submitted(ingest, headers, content) == (again_id, "true")
    assert await _submitted(ingest, headers, content, **key) == (failed_id, "true")  # the key keeps its answer


async def test_a_new_key_for_a_file_sent_before_without_one_is_a_new_batch_and_a_keyless_resend_the_first(
    ingest: Ingest,
) -> None:
    ao_id, headers = await ingest.new_ao()
    content = batch_file(ao_id, records=4)
    keyless_id, _ = await _submitted(ingest, headers, content)
    keyed_id, replay = await _submitted(ingest, headers, content, **{"Idempotency-Key": f"new-{uuid.uuid4().hex}"})
    assert (keyed_id != keyless_id, replay) == (True, "false")
    assert await _submitted(ingest, headers, content) == (keyless_id, "true")


async def test_an_operator_s_keyless_upload_for_an_ao_answers_the_ao_s_keyed_batch(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    content = batch_file(ao_id, records=4)
    keyed_id, _ = await _submitted(ingest, headers, content, **{"Idempotency-Key": f"k-{uuid.uuid4().hex}"})
    operator = await ingest.caller("operator:ops")
    for_the_ao, replay = await _submitted(ingest, operator, content)
    assert (for_the_ao, replay) == (keyed_id, "true")


async def test_the_content_look_up_has_its_index(ingest: Ingest, ingest_database_url: str) -> None:  # noqa: F811
    connection = await asyncpg.connect(ingest_database_url)
    try:
        definition = await connection.fetchval(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = 'ingest' AND indexname = 'batches_by_content'"
        )
    finally:
        await connection.close()
    assert definition is not None and "(ao_id, content_sha256)" in definition
