"""An Idempotency-Key is answered once, refused files included (OpenAPI walk, finding 5), against real Kafka and
PostgreSQL: the reviewer's sequence. A key that made a batch answers another file under it 409 IDEMPOTENCY_KEY_REUSED
even when ingest refuses that file (RS001, RS002), filing no refused batch under the key; a refused file sent again
under its key is answered with its first refusal (`Idempotent-Replay: true`), two at once included (a unique index
decides); a refused file does not hold its key, so a corrected file under it is a new batch, which then holds it."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import asyncpg
import httpx
import pytest
from tests.integration.ingest_service import ingest_service  # noqa: F401 - the module's `ingest` fixture
from tests.integration.test_ingest_api import (  # noqa: F401 - ingest_database_url is a fixture
    Ingest,
    batch_file,
    ingest_database_url,
)

from lrs_contracts.codes import MAX_BATCH_BYTES

pytestmark = pytest.mark.integration

NOT_A_BATCH = b"whatever"


async def _send(ingest: Ingest, headers: dict[str, str], content: bytes, key: str, content_type: str) -> httpx.Response:
    sent = {**headers, "Content-Type": content_type, "Idempotency-Key": key}
    return await ingest.client.post("/v1/batches", content=content, headers=sent)


def _instance(answer: httpx.Response) -> str:
    instance: str = answer.json()["instance"]
    return instance


async def test_the_reviewers_sequence_files_one_answer_per_key_and_file(
    ingest: Ingest,
    ingest_database_url: str,  # noqa: F811
) -> None:
    ao_id, headers = await ingest.new_ao()
    content = batch_file(ao_id, records=4)
    key, corrected_key, racing_key, large_key = (f"{name}-{uuid.uuid4().hex}" for name in ("k", "k2", "k3", "k4"))

    # a key that made a batch: any other file under it, refused or not, is 409 naming that batch; nothing is filed
    made = await _send(ingest, headers, content, key, "application/json")
    assert made.status_code == 202, made.text
    batch_id = made.json()["batch_id"]
    for other, content_type in (
        (NOT_A_BATCH, "text/csv"),
        (b"", "text/csv"),
        (b"x" * (MAX_BATCH_BYTES + 10), "text/csv"),
        (batch_file(ao_id, records=2), "application/json"),
    ):
        answer = await _send(ingest, headers, other, key, content_type)
        assert answer.status_code == 409, answer.text
        assert (answer.json()["code"], answer.json()["batch_id"]) == ("IDEMPOTENCY_KEY_REUSED", batch_id)
    again = await _send(ingest, headers, content, key, "application/json")
    assert (again.status_code, again.json()["batch_id"], again.headers.get("Idempotent-Replay")) == (
        202,
        batch_id,
        "true",
    )

    # a refused file does not hold its key: sent again it is its first refusal; corrected, a new batch holds the key
    refused = await _send(ingest, headers, NOT_A_BATCH, corrected_key, "text/csv")
    refused_again = await _send(ingest, headers, NOT_A_BATCH, corrected_key, "text/csv")
    assert (refused.status_code, refused.json()["code"], "Idempotent-Replay" in refused.headers) == (
        422,
        "RS001",
        False,
    )
    assert (refused_again.status_code, _instance(refused_again)) == (422, _instance(refused))
    assert refused_again.headers.get("Idempotent-Replay") == "true"
    corrected = await _send(ingest, headers, batch_file(ao_id, records=3), corrected_key, "application/json")
    assert corrected.status_code == 202 and "Idempotent-Replay" not in corrected.headers
    late = await _send(ingest, headers, NOT_A_BATCH, corrected_key, "text/csv")
    assert (late.status_code, late.json()["batch_id"]) == (409, corrected.json()["batch_id"])

    # the same refused file twice at once under one key: one refusal, the other answer its replay
    racing = await asyncio.gather(*(_send(ingest, headers, NOT_A_BATCH, racing_key, "text/csv") for _ in range(2)))
    assert [answer.status_code for answer in racing] == [422, 422]
    assert _instance(racing[0]) == _instance(racing[1])
    assert sorted(answer.headers.get("Idempotent-Replay", "-") for answer in racing) == ["-", "true"]

    # any file over 6 MB under one key is the same file: its first RS002 answers the next
    large = [await _send(ingest, headers, b"y" * (MAX_BATCH_BYTES + size), large_key, "text/csv") for size in (1, 99)]
    assert [answer.status_code for answer in large] == [413, 413]
    assert _instance(large[0]) == _instance(large[1]) and large[1].headers.get("Idempotent-Replay") == "true"

    # what the AO's list shows: one batch per key and file
    page = await ingest.client.get("/v1/batches", params={"page_size": 200}, headers=headers)
    listed = Counter((item["idempotency_key"], item["status"] == "refused") for item in page.json()["items"])
    assert listed == {
        (key, False): 1,
        (corrected_key, True): 1,
        (corrected_key, False): 1,
        (racing_key, True): 1,
        (large_key, True): 1,
    }

    connection = await asyncpg.connect(ingest_database_url)
    try:
        definition = await connection.fetchval(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = 'ingest' AND indexname = 'batches_refusal_key'"
        )
    finally:
        await connection.close()
    assert definition is not None and "UNIQUE" in definition and "(ao_id, refusal_key)" in definition
