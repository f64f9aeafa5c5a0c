"""Decision 0185 against real Kafka and PostgreSQL, the app run in-process: an upload that stops sending is
answered 408 and dropped, a caller (and a replica) holds a bounded number of uploads at once (being read, or
read and waiting to be parsed), and the same file sent again after its batch failed is judged again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from tests.integration.test_ingest_api import (  # noqa: F401 - ingest_database_url is a fixture
    Ingest,
    _outcome,
    _outcome_values,
    _settings,
    _true_or_none,
    batch_file,
    ingest_database_url,
    publish_outcomes,
    running,
)
from tests.support.waiting import eventually

from ingest.uploads import UploadGate
from lrs_contracts.outcomes import BatchRecordsDecided, RecordStatus
from lrs_contracts.registry import encode, wrap
from lrs_platform.problems import PROBLEM_MEDIA_TYPE

pytestmark = pytest.mark.integration

IDLE_SECONDS = 1.0


@pytest.fixture(scope="module")
async def ingest(kafka_bootstrap: str, ingest_database_url: str) -> AsyncIterator[Ingest]:  # noqa: F811
    settings = _settings(
        kafka_bootstrap, ingest_database_url, upload_idle_seconds=IDLE_SECONDS, max_uploads_per_caller=2, max_uploads=3
    )
    async with running(settings) as (app, client):
        consumer = app.state.outcome_consumer
        await eventually(lambda: _true_or_none(consumer.caught_up), within=120, what="the outcome consumer caught up")
        yield Ingest(app, client, kafka_bootstrap)


def _json(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Content-Type": "application/json"}


class Upload:
    """A request body sent a few bytes at a time, every `pause` seconds, until `released`; `stalled`: it sends
    its first bytes and then nothing, never finishing."""

    def __init__(self, content: bytes, *, pause: float = 0.2, stalled: bool = False) -> None:
        self.content = content
        self.pause = pause
        self.stalled = stalled
        self.released = asyncio.Event()
        self.started = False
        self.pauses = 0  # how many pauses of `pause` it has sent through

    async def body(self) -> AsyncIterator[bytes]:
        self.started = True
        yield self.content[:100]
        if self.stalled:
            await asyncio.Event().wait()
        while not self.released.is_set():
            await asyncio.sleep(self.pause)
            self.pauses += 1
            yield b" "  # whitespace before the JSON file's own bytes changes nothing of it
        yield self.content[100:]


async def _true(value: bool) -> bool | None:
    return True if value else None


async def _held(ingest: Ingest, count: int) -> bool | None:
    uploads: UploadGate = ingest.app.state.uploads
    return True if uploads.held == count else None


async def _started(uploads: list[Upload]) -> bool | None:
    return True if all(upload.started for upload in uploads) else None


async def _listed(ingest: Ingest, headers: dict[str, str]) -> int:
    page = await ingest.client.get("/v1/batches", headers=headers)
    assert page.status_code == 200, page.text
    return int(page.json()["total"])


# ---------------------------------------------------------------- uploads that stop, and too many at once


async def test_an_upload_that_stops_sending_is_answered_408_and_nothing_of_it_is_kept(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    stalled = Upload(b" " * 100 + batch_file(ao_id), stalled=True)

    answer = await asyncio.wait_for(
        ingest.client.post("/v1/batches", content=stalled.body(), headers=_json(headers)), IDLE_SECONDS + 30
    )

    assert answer.status_code == 408, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert answer.headers["connection"] == "close"
    assert "arrived for 1 seconds" in answer.json()["detail"]
    assert await _listed(ingest, headers) == 0
    await eventually(lambda: _held(ingest, 0), within=10, what="the stalled upload's place given back")


async def test_a_slow_upload_that_keeps_moving_is_accepted_however_long_it_takes(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    slow = Upload(b" " * 100 + batch_file(ao_id), pause=IDLE_SECONDS / 4)
    posting = asyncio.create_task(ingest.client.post("/v1/batches", content=slow.body(), headers=_json(headers)))
    # the whole upload takes three idle deadlines and more
    await eventually(lambda: _true(slow.pauses >= 13), within=30, what="three idle deadlines of a moving upload")
    slow.released.set()

    answer = await posting

    assert answer.status_code == 202, answer.text


async def test_one_upload_more_than_a_caller_or_the_replica_may_have_read_is_refused_429_unread(
    ingest: Ingest,
) -> None:
    ao_id, headers = await ingest.new_ao()
    other_ao, other_headers = await ingest.new_ao()
    third_ao, third_headers = await ingest.new_ao()
    held = [Upload(b" " * 100 + batch_file(ao_id)) for _ in range(2)]
    held.append(Upload(b" " * 100 + batch_file(other_ao)))
    posting = [
        asyncio.create_task(ingest.client.post("/v1/batches", content=upload.body(), headers=_json(caller)))
        for upload, caller in zip(held, (headers, headers, other_headers), strict=True)
    ]
    try:
        await eventually(lambda: _started(held), within=30, what="three uploads being read")

        for sender, caller, limit in ((ao_id, headers, 2), (third_ao, third_headers, 3)):  # its own, the replica's
            one_more = Upload(batch_file(sender))
            one_more.released.set()  # sent whole at once
            busy = await ingest.client.post("/v1/batches", content=one_more.body(), headers=_json(caller))
            assert busy.status_code == 429, busy.text
            assert busy.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
            assert busy.headers["retry-after"] == "5"
            assert (busy.json()["code"], busy.json()["limit"]) == ("TOO_MANY_REQUESTS", limit)
            assert not one_more.started  # refused before its body was read
    finally:
        for upload in held:
            upload.released.set()
    assert [answer.status_code for answer in await asyncio.gather(*posting)] == [202, 202, 202]
    assert await _listed(ingest, third_headers) == 0

    again = await ingest.client.post("/v1/batches", content=batch_file(ao_id), headers=_json(headers))
    assert again.status_code == 202, again.text  # the places were given back


class HeldParser:
    """Stands in for `BatchSubmissions._reading`, the parser that takes one upload at a time: uploads read whole
    wait here, counted in `arrived`, until `released`, then take the parser's own turn."""

    def __init__(self, parser: asyncio.Semaphore) -> None:
        self.parser = parser
        self.released = asyncio.Event()
        self.arrived = 0

    async def __aenter__(self) -> None:
        self.arrived += 1
        await self.released.wait()
        await self.parser.acquire()

    async def __aexit__(self, *_: object) -> None:
        self.parser.release()


async def test_uploads_read_and_waiting_for_the_parser_keep_their_places_so_one_more_is_refused_429(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limits bound the uploads held in memory, not only those being read: a body read whole keeps its place
    while it waits for the parser, so one more upload from the caller (or the replica) is refused unread instead of
    joining the others in memory. A resend under a known Idempotency-Key is an upload like any other: its body is
    read to be compared with the key's file, so it is refused too, and answered once there is room."""
    ao_id, headers = await ingest.new_ao()
    other_ao, other_headers = await ingest.new_ao()
    third_ao, third_headers = await ingest.new_ao()
    key = {"Idempotency-Key": f"held-{uuid.uuid4().hex}"}
    known = batch_file(ao_id)
    known_id, _ = await _submitted(ingest, headers, known, **key)

    parser = HeldParser(ingest.app.state.submissions._reading)
    monkeypatch.setattr(ingest.app.state.submissions, "_reading", parser)
    held: list[asyncio.Task[httpx.Response]] = []
    probes: list[asyncio.Task[httpx.Response]] = []

    def post(
        caller: dict[str, str], content: bytes, into: list[asyncio.Task[httpx.Response]], **extra: str
    ) -> asyncio.Task[httpx.Response]:
        posting = asyncio.create_task(
            ingest.client.post("/v1/batches", content=content, headers={**_json(caller), **extra})
        )
        into.append(posting)
        return posting

    async def refused_before_the_parser(caller: dict[str, str], content: bytes, **extra: str) -> httpx.Response:
        waiting = parser.arrived
        posting = post(caller, content, probes, **extra)

        async def answered_or_waiting() -> bool | None:
            return True if posting.done() or parser.arrived > waiting else None

        await eventually(answered_or_waiting, within=30, what="the upload answered, or waiting for the parser")
        assert posting.done(), "read whole and left waiting for the parser, past the limit"
        return posting.result()

    try:
        for _ in range(2):  # the caller's limit: read whole, waiting for the parser
            post(headers, batch_file(ao_id), held)
        await eventually(lambda: _true(parser.arrived == 2), within=30, what="two uploads waiting for the parser")

        for content, extra in ((batch_file(ao_id), {}), (known, key)):  # a new file, a resend under a known key
            busy = await refused_before_the_parser(headers, content, **extra)
            assert busy.status_code == 429, busy.text
            assert busy.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
            assert busy.headers["retry-after"] == "5"
            assert (busy.json()["code"], busy.json()["limit"]) == ("TOO_MANY_REQUESTS", 2)
        assert await _held(ingest, 2)  # read whole, their places still held

        post(other_headers, batch_file(other_ao), held)  # the replica's limit reached, by another caller
        await eventually(lambda: _true(parser.arrived == 3), within=30, what="three uploads waiting for the parser")
        busy = await refused_before_the_parser(third_headers, batch_file(third_ao))
        assert busy.status_code == 429, busy.text
        assert (busy.json()["code"], busy.json()["limit"]) == ("TOO_MANY_REQUESTS", 3)
    finally:
        parser.released.set()
        answers = await asyncio.gather(*held)
        await asyncio.gather(*probes)  # none left waiting, whatever failed
    assert [answer.status_code for answer in answers] == [202, 202, 202]
    await eventually(lambda: _held(ingest, 0), within=10, what="the places given back")
    assert await _listed(ingest, third_headers) == 0
    assert await _submitted(ingest, headers, known, **key) == (known_id, "true")  # the resend answered now


# ---------------------------------------------------------------- a failed batch's file sent again


async def _fail(ingest: Ingest, headers: dict[str, str], batch_id: uuid.UUID, ao_id: str) -> None:
    await publish_outcomes(ingest.kafka_bootstrap, batch_id, *_outcome_values(batch_id, ao_id, failed=True))

    async def failed() -> bool | None:
        view = await ingest.client.get(f"/v1/batches/{batch_id}?wait_until_decided=5", headers=headers)
        return True if view.json()["status"] == "failed" else None

    await eventually(failed, within=60, what="the failed batch")


async def _submitted(ingest: Ingest, headers: dict[str, str], content: bytes, **extra: str) -> tuple[uuid.UUID, str]:
    answer = await ingest.client.post("/v1/batches", content=content, headers={**_json(headers), **extra})
    assert answer.status_code == 202, answer.text
    return uuid.UUID(answer.json()["batch_id"]), answer.headers.get("Idempotent-Replay", "false")


async def test_the_same_file_sent_again_after_its_batch_failed_is_judged_again(
    ingest: Ingest,
    ingest_database_url: str,  # noqa: F811
) -> None:
    ao_id, headers = await ingest.new_ao()
    content = batch_file(ao_id, records=4)
    failed_id, _ = await _submitted(ingest, headers, content)
    await _fail(ingest, headers, failed_id, ao_id)

    again_id, replay = await _submitted(ingest, headers, content)
    assert (again_id != failed_id, replay) == (True, "false")

    # The failed outcome delivered again (a redelivery, the reconciler) leaves the new batch the file's.
    late = BatchRecordsDecided(
        batch_id=failed_id, ao_id=ao_id, chunk_index=2, outcomes=(_outcome(5, RecordStatus.REJECTED, "RV002"),)
    )
    values = _outcome_values(failed_id, ao_id, failed=True)
    await publish_outcomes(
        ingest.kafka_bootstrap,
        failed_id,
        *values,
        encode(wrap(late, source="validation", correlation_id=str(failed_id))),
    )

    async def redelivery_stored() -> bool | None:
        page = (await ingest.client.get(f"/v1/batches/{failed_id}/records", headers=headers)).json()
        return True if any(record["line"] == 5 for record in page["records"]) else None

    await eventually(redelivery_stored, within=60, what="the failed outcome delivered again")
    assert await _submitted(ingest, headers, content) == (again_id, "true")

    # A batch failed before decision 0185 (its row still holding its content key) gives it up at the migration.
    connection = await asyncpg.connect(ingest_database_url)
    try:
        other_content = batch_file(ao_id, records=4)
        old_id, _ = await _submitted(ingest, headers, other_content)
        await _fail(ingest, headers, old_id, ao_id)
        await connection.execute(
            "UPDATE ingest.batches SET dedup_key = 'sha256:' || content_sha256 WHERE batch_id = $1", old_id
        )
        assert await _submitted(ingest, headers, other_content) == (old_id, "true")  # as before the fix
        await connection.execute("DELETE FROM ingest.schema_migrations WHERE version = 117")
    finally:
        await connection.close()
    settings: Any = ingest.app.state.settings
    async with running(settings.model_copy(update={"outcomes_enabled": False})) as (_, restarted):
        answer = await restarted.post("/v1/batches", content=other_content, headers=_json(headers))
        assert answer.status_code == 202, answer.text
        assert answer.json()["batch_id"] != str(old_id) and answer.headers.get("Idempotent-Replay") is None


async def test_a_failed_batch_sent_under_an_idempotency_key_is_answered_under_that_key(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    content = batch_file(ao_id, records=4)
    key = {"Idempotency-Key": f"failed-{uuid.uuid4().hex}"}
    failed_id, _ = await _submitted(ingest, headers, content, **key)
    await _fail(ingest, headers, failed_id, ao_id)

    assert await _submitted(ingest, headers, content, **key) == (failed_id, "true")
    resent: httpx.Response = await ingest.client.get(f"/v1/batches/{failed_id}", headers=headers)
    assert resent.json()["status"] == "failed"
