"""A results download keeps one of its caller's few places until it is sent or its client has gone, and nothing bounded
how long a client that stopped reading (but kept its connection open) held it: three such took all of an AO's places
for as long as their connections stayed open, and its CLI and portal downloads were refused 429 meanwhile (a flakiness
walk, finding 4). Each piece must now be taken within the idle deadline of uploads (`INGEST_UPLOAD_IDLE_SECONDS`): one
that is not ends the download unfinished (logged `download_stalled`, no personal data) and gives its place back.

Driven through the app as a server would drive it, with a `send` that never returns once the body begins (a reader
that stopped) and a short deadline, so the test takes a fraction of a second."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import FastAPI
from services.ingest.tests.unit.test_ingest_key_reused import NoMaintenance
from services.ingest.tests.unit.test_results_download_only import OneBatch, _record
from starlette.types import Message

from ingest import api
from ingest.api import CSV_SLICE, SENT_PIECE
from ingest.uploads import UploadGate
from lrs_contracts.environments import Environment
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal

IDLE_SECONDS = 0.05


@dataclass(frozen=True)
class Settings:
    environment: Environment
    upload_idle_seconds: float = IDLE_SECONDS
    downloads_retry_after_seconds: int = 5


class ManyRecords(OneBatch):
    """A decided batch of more records than a slice of its CSV, whose slices are larger than a piece sent."""

    def __init__(self, count: int) -> None:
        super().__init__("completed")
        self.rows = [_record(line, "rejected", ("RV004",)) for line in range(1, count + 1)]


def _app(gate: UploadGate, batch: OneBatch | None = None) -> FastAPI:
    app: FastAPI = build_app("ingest", title="Ingest", description="", lifespan=noop_lifespan)
    api.install(app)
    app.state.batches = batch or OneBatch("completed")
    app.state.settings = Settings(Environment.LIVE)
    app.state.downloads = gate
    app.state.maintenance = NoMaintenance()
    app.dependency_overrides[current_principal] = lambda: Principal.parse("ao:RN5133")
    return app


class StoppedReader:
    """A client that sent its request and then stopped reading the answer, its connection left open: the head is
    taken, the first piece of the body never is, and no disconnect ever comes."""

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self._never = asyncio.Event()
        self._asked = False

    async def receive(self) -> Message:
        if not self._asked:
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._never.wait()  # connected: no `http.disconnect`
        raise AssertionError("unreachable")

    async def send(self, message: Message) -> None:
        self.sent.append(message)
        if message["type"] == "http.response.body":
            await self._never.wait()


def _scope(batch_id: uuid.UUID) -> dict[str, Any]:
    path = f"/v1/batches/{batch_id}/records.csv"
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},  # as uvicorn says
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"ingest")],
        "client": ("127.0.0.1", 50000),
        "server": ("ingest", 80),
    }


async def test_a_download_whose_reader_stopped_ends_within_the_idle_deadline_and_gives_its_place_back() -> None:
    gate = UploadGate(per_caller=3, overall=None)
    app = _app(gate)
    reader = StoppedReader()
    batch_id = uuid.uuid4()

    with structlog.testing.capture_logs() as logs:
        async with asyncio.timeout(5):  # without a send deadline it waits for ever
            await app(_scope(batch_id), reader.receive, reader.send)

    assert gate.held == 0  # its place given back
    start, *body = reader.sent
    assert (start["type"], start["status"]) == ("http.response.start", 200)
    assert [message.get("more_body") for message in body] == [True]  # never the last chunk: the file is not whole
    stalled = [log for log in logs if log["event"] == "download_stalled"]
    assert stalled == [
        {
            "event": "download_stalled",
            "log_level": "info",
            "idle_seconds": IDLE_SECONDS,
            "batch_id": str(batch_id),
            "caller_kind": "ao",
        }
    ]


async def test_a_reader_that_keeps_taking_the_pieces_gets_the_whole_file_a_piece_at_a_time() -> None:
    gate = UploadGate(per_caller=3, overall=None)
    count = CSV_SLICE + 500
    sent: list[Message] = []
    asked = False

    async def receive() -> Message:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    async with asyncio.timeout(5):
        await _app(gate, ManyRecords(count))(_scope(uuid.uuid4()), receive, send)

    assert gate.held == 0
    pieces = sent[1:]
    assert max(len(piece["body"]) for piece in pieces) == SENT_PIECE  # a slice of the CSV is cut into pieces
    assert [piece["more_body"] for piece in pieces] == [True] * (len(pieces) - 1) + [False]
    body = b"".join(piece["body"] for piece in pieces).decode("utf-8-sig")
    assert [int(line.split(",")[0]) for line in body.splitlines()[1:]] == list(range(1, count + 1))
