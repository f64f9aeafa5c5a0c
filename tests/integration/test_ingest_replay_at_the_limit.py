"""A resend of a stored batch's file adds nothing to the queue, so it is answered as that batch even while its AO has
as many records waiting as it may (decision 0171's 429), against real Kafka and PostgreSQL. Under its Idempotency-Key
it is known before the body is read; without a key only the file's content tells it, so a keyless upload is read
then (bounded as any upload: 6 MB, a place in the upload gate) and answered 429 unless it is a stored batch's file."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import REGISTRY
from tests.integration.test_ingest_api import (  # noqa: F401 - ingest_database_url is a fixture
    CountingBody,
    Ingest,
    _settings,
    _true_or_none,
    batch_file,
    ingest_database_url,
    running,
)
from tests.integration.test_ingest_uploads import Upload, _fail, _held, _json, _listed, _submitted
from tests.support.waiting import eventually

from lrs_contracts.codes import MAX_BATCH_BYTES
from lrs_platform.kafka import ensure_topics

pytestmark = pytest.mark.integration

LIMIT = 8  # two batches of four records


@pytest.fixture(scope="module")
async def ingest(kafka_bootstrap: str, ingest_database_url: str) -> AsyncIterator[Ingest]:  # noqa: F811
    await ensure_topics(kafka_bootstrap)
    settings = _settings(
        kafka_bootstrap, ingest_database_url, max_waiting_records_per_ao=LIMIT, max_uploads_per_caller=1
    )
    async with running(settings) as (app, client):
        consumer = app.state.outcome_consumer
        await eventually(lambda: _true_or_none(consumer.caught_up), within=120, what="the outcome consumer caught up")
        yield Ingest(app, client, kafka_bootstrap)


def _deferrals(ao_id: str) -> float:
    return REGISTRY.get_sample_value("lrs_ingest_submissions_deferred_total", {"ao_id": ao_id}) or 0.0


def _waiting_too_many(answer: httpx.Response) -> None:
    assert answer.status_code == 429, answer.text
    problem = answer.json()
    assert (problem["code"], problem["records_waiting"], problem["limit"]) == ("TOO_MANY_RECORDS_WAITING", LIMIT, LIMIT)
    assert answer.headers["Retry-After"] == "30"


async def test_a_resend_of_a_waiting_batch_s_file_is_answered_as_that_batch_and_a_new_file_429(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    keyless_file = batch_file(ao_id, records=4, reference="KEYLESS")
    keyed_file = batch_file(ao_id, records=4, reference="KEYED")
    key = {"Idempotency-Key": f"client-{uuid.uuid4().hex}"}
    keyless_id, _ = await _submitted(ingest, headers, keyless_file)
    keyed_id, _ = await _submitted(ingest, headers, keyed_file, **key)
    deferred_before = _deferrals(ao_id)

    # eight records wait, the limit: the same files again, without a key, are their batches
    assert await _submitted(ingest, headers, keyless_file) == (keyless_id, "true")
    assert await _submitted(ingest, headers, keyed_file) == (keyed_id, "true")
    assert await _submitted(ingest, headers, keyed_file, **key) == (keyed_id, "true")
    assert _deferrals(ao_id) == deferred_before  # a replay is no deferral

    # a new file, or a known file under a new key (a new request), still waits at the AO's door
    new_file = batch_file(ao_id, records=1, reference="NEW")
    _waiting_too_many(await ingest.client.post("/v1/batches", content=new_file, headers=_json(headers)))
    new_key = {**_json(headers), "Idempotency-Key": f"new-{uuid.uuid4().hex}"}
    _waiting_too_many(await ingest.client.post("/v1/batches", content=keyless_file, headers=new_key))
    assert _deferrals(ao_id) == deferred_before + 2
    assert await _listed(ingest, headers) == 2  # nothing of either was kept


async def test_a_failed_batch_s_file_sent_again_at_the_limit_is_a_new_file_and_waits(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    failing = batch_file(ao_id, records=4, reference="FAILS")
    failed_id, _ = await _submitted(ingest, headers, failing)
    await _fail(ingest, headers, failed_id, ao_id)
    for reference in ("WAITS-1", "WAITS-2"):
        await _submitted(ingest, headers, batch_file(ao_id, records=4, reference=reference))

    # the failed batch gave up its file (decision 0185): sent again, it would be judged again, a new batch
    _waiting_too_many(await ingest.client.post("/v1/batches", content=failing, headers=_json(headers)))
    assert await _listed(ingest, headers) == 3


async def test_a_keyless_file_over_6_mb_at_the_limit_is_answered_429_and_no_refusal_is_kept(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    for reference in ("WAITS-1", "WAITS-2"):
        await _submitted(ingest, headers, batch_file(ao_id, records=4, reference=reference))

    streamed = CountingBody(MAX_BATCH_BYTES + 1)
    answer = await ingest.client.post("/v1/batches", content=streamed, headers=_json(headers))
    _waiting_too_many(answer)  # no stored batch's file is over 6 MB: not RS002, which would be kept
    assert streamed.pulled <= MAX_BATCH_BYTES + streamed.chunk_size

    declared = CountingBody(MAX_BATCH_BYTES + 1)
    answer = await ingest.client.post(
        "/v1/batches", content=declared, headers={**_json(headers), "Content-Length": str(MAX_BATCH_BYTES + 1)}
    )
    _waiting_too_many(answer)
    assert declared.pulled == 0  # told before any of it was read
    assert await _listed(ingest, headers) == 2


async def test_at_the_limit_a_keyless_file_the_upload_gate_cannot_take_is_told_the_records_waiting(
    ingest: Ingest,
) -> None:
    """Unread, it cannot be known for a replay: it is answered as a new file then, as before any was read."""
    ao_id, headers = await ingest.new_ao()
    for reference in ("WAITS-1", "WAITS-2"):
        await _submitted(ingest, headers, batch_file(ao_id, records=4, reference=reference))
    held = Upload(batch_file(ao_id, records=1, reference="HELD"))
    sending = asyncio.create_task(ingest.client.post("/v1/batches", content=held.body(), headers=_json(headers)))
    try:
        await eventually(lambda: _held(ingest, 1), within=30, what="the first upload holding the AO's one place")
        unread = await ingest.client.post("/v1/batches", content=batch_file(ao_id, records=1), headers=_json(headers))
        _waiting_too_many(unread)  # not the upload gate's TOO_MANY_REQUESTS
    finally:
        held.released.set()
    _waiting_too_many(await sending)
    assert await _listed(ingest, headers) == 2
