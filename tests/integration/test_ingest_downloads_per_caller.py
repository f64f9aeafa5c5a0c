"""A batch's results CSV is built on the event loop a slice at a time while it is sent, and nothing bounded how many one
caller had sent at once: fifty downloads of one AO's 10,000-record CSV delayed every AO's uploads by 8-29 s (a
results-day walk, finding 4). At most `INGEST_MAX_DOWNLOADS_PER_CALLER` are sent at once per caller (the upload gate's
mechanism, decision 0185); one more is answered 429 with Retry-After, and a place is held until the download is sent
or its client has gone. Against real Kafka and PostgreSQL; the downloads are held open by an event, not by time."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from tests.integration.test_ingest_api import (  # noqa: F401 - ingest_database_url is a fixture
    Ingest,
    _settings,
    _true_or_none,
    batch_file,
    ingest_database_url,
    running,
)
from tests.integration.test_ingest_uploads import _fail, _submitted
from tests.support.waiting import eventually

from ingest.repository import BatchRepository
from ingest.uploads import UploadGate
from lrs_platform.kafka import ensure_topics

pytestmark = pytest.mark.integration

PER_CALLER = 2


@pytest.fixture(scope="module")
async def ingest(kafka_bootstrap: str, ingest_database_url: str) -> AsyncIterator[Ingest]:  # noqa: F811
    await ensure_topics(kafka_bootstrap)
    settings = _settings(kafka_bootstrap, ingest_database_url, max_downloads_per_caller=PER_CALLER)
    async with running(settings) as (app, client):
        consumer = app.state.outcome_consumer
        await eventually(lambda: _true_or_none(consumer.caught_up), within=120, what="the outcome consumer caught up")
        yield Ingest(app, client, kafka_bootstrap)


class Held:
    """The first `count` reads of `batch_id`'s records for its CSV wait for `released`: their downloads stay open,
    holding their places, for as long as the test needs; later reads go through."""

    def __init__(self, repository: BatchRepository, batch_id: uuid.UUID, count: int) -> None:
        self.batch_id = batch_id
        self.count = count
        self.waiting = 0
        self.released = asyncio.Event()
        self._read = repository.records

    async def records(self, batch_id: uuid.UUID, *args: Any, **options: Any) -> Any:
        if batch_id == self.batch_id and self.count > 0:
            self.count -= 1
            self.waiting += 1
            try:
                await self.released.wait()
            finally:
                self.waiting -= 1
        return await self._read(batch_id, *args, **options)


def _downloads(ingest: Ingest) -> UploadGate:
    gate: UploadGate = ingest.app.state.downloads
    return gate


@pytest.fixture
async def held(ingest: Ingest, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Held, str, dict[str, str]]]:
    ao_id, headers = await ingest.new_ao()
    batch_id, _ = await _submitted(ingest, headers, batch_file(ao_id, records=3))
    await _fail(ingest, headers, batch_id, ao_id)  # decided: a batch not decided yet has no results to download
    repository: BatchRepository = ingest.app.state.batches
    holding = Held(repository, batch_id, PER_CALLER)
    monkeypatch.setattr(repository, "records", holding.records)
    try:
        yield holding, ao_id, headers
    finally:
        holding.released.set()


async def _csv(ingest: Ingest, batch_id: uuid.UUID, headers: dict[str, str]) -> httpx.Response:
    return await ingest.client.get(f"/v1/batches/{batch_id}/records.csv", headers=headers)


async def _open(holding: Held, count: int) -> bool | None:
    return True if holding.waiting == count else None


async def test_one_download_more_than_a_caller_may_have_sent_at_once_is_answered_429(
    ingest: Ingest, held: tuple[Held, str, dict[str, str]]
) -> None:
    holding, _, headers = held
    sending = [asyncio.create_task(_csv(ingest, holding.batch_id, headers)) for _ in range(PER_CALLER)]
    try:
        await eventually(lambda: _open(holding, PER_CALLER), within=30, what="two downloads open")

        busy = await _csv(ingest, holding.batch_id, headers)
        assert busy.status_code == 429, busy.text
        assert busy.headers["Retry-After"] == "5"
        problem = busy.json()
        assert (problem["code"], problem["limit"], problem["retry_after"]) == ("TOO_MANY_REQUESTS", PER_CALLER, 5)
        assert problem["detail"] == (
            "You already have 2 downloads of batch results under way, as many as may be at once: download this one"
            " again in 5 seconds."
        )

        # another caller is not held by this one's downloads
        other_ao, other_headers = await ingest.new_ao()
        other_batch, _ = await _submitted(ingest, other_headers, batch_file(other_ao, records=1))
        await _fail(ingest, other_headers, other_batch, other_ao)
        assert (await _csv(ingest, other_batch, other_headers)).status_code == 200
    finally:
        holding.released.set()
    for answer in await asyncio.gather(*sending):
        assert answer.status_code == 200, answer.text
        assert answer.text.startswith("\ufeffLine,MISIdentifier,")  # the whole CSV
    assert _downloads(ingest).held == 0  # each gave its place back once sent
    assert (await _csv(ingest, holding.batch_id, headers)).status_code == 200


async def test_a_download_whose_client_went_away_gives_its_place_back(
    ingest: Ingest, held: tuple[Held, str, dict[str, str]]
) -> None:
    holding, _, headers = held
    sending = [asyncio.create_task(_csv(ingest, holding.batch_id, headers)) for _ in range(PER_CALLER)]
    await eventually(lambda: _open(holding, PER_CALLER), within=30, what="two downloads open")
    assert _downloads(ingest).held == PER_CALLER

    sending[0].cancel()  # its client gone while the CSV is being built
    await eventually(lambda: _open(holding, PER_CALLER - 1), within=30, what="the cancelled download ended")
    assert _downloads(ingest).held == PER_CALLER - 1
    assert (await _csv(ingest, holding.batch_id, headers)).status_code == 200  # its place taken again

    holding.released.set()
    assert (await sending[1]).status_code == 200
    assert _downloads(ingest).held == 0
