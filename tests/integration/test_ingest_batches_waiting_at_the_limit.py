"""Decision 0171 counted records only, and a decision costs about the same however few records its batch holds: an AO
sending one-record batches could keep up to 100,000 of them waiting, over an hour of its partition's work (a
results-day walk, finding 1). Its waiting batches are bounded too (`INGEST_MAX_WAITING_BATCHES_PER_AO`), answered with
the same 429 `TOO_MANY_RECORDS_WAITING`, whose words say which limit was met. Against real Kafka and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from tests.integration.test_ingest_api import (  # noqa: F401 - ingest_database_url is a fixture
    Ingest,
    _outcome_values,
    _settings,
    _true_or_none,
    batch_file,
    ingest_database_url,
    publish_outcomes,
    running,
)
from tests.integration.test_ingest_uploads import _json, _listed, _submitted
from tests.support.waiting import eventually

from lrs_platform.kafka import ensure_topics

pytestmark = pytest.mark.integration

BATCHES = 3  # three batches of four records wait: far below the record limit
RECORDS = 100


@pytest.fixture(scope="module")
async def ingest(kafka_bootstrap: str, ingest_database_url: str) -> AsyncIterator[Ingest]:  # noqa: F811
    await ensure_topics(kafka_bootstrap)
    settings = _settings(
        kafka_bootstrap,
        ingest_database_url,
        max_waiting_records_per_ao=RECORDS,
        max_waiting_batches_per_ao=BATCHES,
    )
    async with running(settings) as (app, client):
        consumer = app.state.outcome_consumer
        await eventually(lambda: _true_or_none(consumer.caught_up), within=120, what="the outcome consumer caught up")
        yield Ingest(app, client, kafka_bootstrap)


async def _three_waiting(ingest: Ingest, headers: dict[str, str], ao_id: str) -> list[uuid.UUID]:
    return [
        (await _submitted(ingest, headers, batch_file(ao_id, records=4, reference=f"SMALL-{n}")))[0]
        for n in range(BATCHES)
    ]


async def test_an_ao_with_as_many_batches_waiting_as_it_may_is_told_so_whatever_their_records(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    first, *_ = await _three_waiting(ingest, headers, ao_id)

    next_file = batch_file(ao_id, records=1, reference="ONE-MORE")
    busy = await ingest.client.post("/v1/batches", content=next_file, headers=_json(headers))
    assert busy.status_code == 429, busy.text
    assert busy.headers["Retry-After"] == "30"
    problem = busy.json()
    assert (problem["code"], problem["records_waiting"], problem["limit"]) == ("TOO_MANY_RECORDS_WAITING", 12, RECORDS)
    assert problem["title"] == "Too many batches waiting"
    assert (problem["batches_waiting"], problem["batch_limit"], problem["retry_after"]) == (BATCHES, BATCHES, 30)
    assert problem["detail"] == (
        "3 of your batches are waiting for their decision (at most 3 may wait, however few records each holds): send"
        " this file again in 30 seconds, once some of them are decided. Nothing of it was kept."
    )
    assert await _listed(ingest, headers) == BATCHES  # nothing of it was kept

    # another AO is not held
    other_ao, other_headers = await ingest.new_ao()
    await _submitted(ingest, other_headers, batch_file(other_ao, records=1))

    # once one is decided, the file is taken
    await publish_outcomes(ingest.kafka_bootstrap, first, *_outcome_values(first, ao_id))

    async def taken() -> httpx.Response | None:
        answer = await ingest.client.post("/v1/batches", content=next_file, headers=_json(headers))
        return answer if answer.status_code == 202 else None

    await eventually(taken, within=60, what="the file taken once a batch was decided")

    # at the limit again; an operator sending for the AO is not held
    operator = await ingest.caller("operator:ops")
    await _submitted(ingest, operator, batch_file(ao_id, records=1, reference="BY-OPERATOR"))


async def test_a_resend_of_a_waiting_batch_is_answered_as_that_batch_at_the_batch_limit(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    await _three_waiting(ingest, headers, ao_id)
    again = batch_file(ao_id, records=4, reference="SMALL-1")
    assert (await _submitted(ingest, headers, again))[1] == "true"  # adds nothing to the queue


async def test_the_records_limit_met_is_said_in_records(ingest: Ingest) -> None:
    """Both limits met: the records' words, as before (the portal's busy page says records)."""
    ao_id, headers = await ingest.new_ao()
    await _submitted(ingest, headers, batch_file(ao_id, records=RECORDS, reference="BIG"))
    busy = await ingest.client.post("/v1/batches", content=batch_file(ao_id, records=1), headers=_json(headers))
    assert busy.status_code == 429, busy.text
    problem = busy.json()
    assert (problem["records_waiting"], problem["batches_waiting"]) == (RECORDS, 1)
    assert problem["title"] == "Too many records waiting"
    assert problem["detail"].startswith("100 records of your batches are waiting for their decision (at most 100 may")
