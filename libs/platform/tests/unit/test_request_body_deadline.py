"""A request body that sends nothing for `REQUEST_BODY_IDLE_SECONDS` while it is read is answered 408
(REQUEST_TIMEOUT, problem+json) and its connection closed, on every service: unbounded, a head and then nothing, or a
byte now and then, held the connection for ever, before any authentication (the portal's sign-in form, a JSON body
FastAPI reads before a route's dependencies). A body that keeps moving, a route bounding its body itself (ingest's
batches keep `INGEST_UPLOAD_IDLE_SECONDS`) and a response being streamed are never cut. The deadline is made short
enough for a test."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.types import Message
from tests.support.raw_http import raw_connection
from tests.support.serving import served

from lrs_platform.http import (
    OWN_BODY_IDLE_SECONDS,
    REQUEST_BODY_IDLE_SECONDS,
    REQUEST_HEAD_SECONDS,
    _BodyIdleDeadline,
    build_app,
    noop_lifespan,
)

DEADLINE = 0.2


class Note(BaseModel):
    text: str


def _app() -> FastAPI:
    app = build_app("idle", title="Idle", description="", lifespan=noop_lifespan, body_limits={"/v1/files": None})

    async def signed_in() -> None:  # refuses everyone, after FastAPI has read the JSON body
        raise HTTPException(401, "Not signed in")

    @app.post("/v1/notes")
    async def note(body: Note) -> dict[str, int]:  # FastAPI reads and parses the body
        return {"length": len(body.text)}

    @app.post("/v1/guarded", dependencies=[Depends(signed_in)])
    async def guarded(body: Note) -> dict[str, int]:
        return {"length": len(body.text)}

    @app.post("/sign-in")
    async def sign_in(request: Request) -> dict[str, str]:
        try:  # as the portal's form reader does: any failure to read the form is a page of its own
            form = await request.form()
        except Exception:
            return {"page": "bad form"}
        return {"page": str(form.get("name"))}

    @app.post("/v1/files")
    async def files(request: Request) -> dict[str, int]:  # bounds its body itself, as ingest's batches do
        return {"length": len(await request.body())}

    @app.post("/v1/stream")
    async def stream(request: Request) -> StreamingResponse:
        await request.body()

        async def slowly() -> AsyncIterator[bytes]:
            for part in (b"a", b"b", b"c"):
                await asyncio.sleep(DEADLINE)  # the app's own pace, each part as long as the deadline
                yield part

        return StreamingResponse(slowly(), media_type="text/plain")

    return app


@pytest.fixture(autouse=True)
def short_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_BodyIdleDeadline, "idle_seconds", DEADLINE)


class _Caller:
    """The ASGI side of a client: the body's chunks as it sends them, then nothing (or nothing more) for ever."""

    def __init__(self, *chunks: bytes, ends: bool = False, pause: float = 0.0) -> None:
        self._chunks = list(chunks)
        self._ends = ends
        self._pause = pause
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if self._chunks:
            if self._pause:
                await asyncio.sleep(self._pause)  # a slow client's pace, within the deadline
            chunk = self._chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(self._chunks) or not self._ends}
        await asyncio.Event().wait()  # stalled: no more of the body, nor a disconnect
        raise AssertionError("not reached")

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    def answer(self) -> tuple[int, dict[str, str], bytes]:
        start = next(message for message in self.sent if message["type"] == "http.response.start")
        headers = {name.decode(): value.decode() for name, value in start["headers"]}
        body = b"".join(message.get("body", b"") for message in self.sent if message["type"] == "http.response.body")
        return start["status"], headers, body


def _scope(path: str, length: int, media_type: str = "application/json") -> dict[str, object]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"idle"), (b"content-type", media_type.encode()), (b"content-length", b"%d" % length)],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }


async def _call(app: FastAPI, path: str, caller: _Caller, length: int, media_type: str = "application/json") -> None:
    await asyncio.wait_for(app(_scope(path, length, media_type), caller.receive, caller.send), 30)


def test_the_deadline_is_the_heads_and_a_route_bounding_its_body_has_a_longer_one() -> None:
    assert REQUEST_BODY_IDLE_SECONDS == REQUEST_HEAD_SECONDS < OWN_BODY_IDLE_SECONDS


@pytest.mark.parametrize("path", ["/v1/notes", "/v1/guarded"])
async def test_a_json_body_that_stalls_is_answered_408_and_closed(path: str) -> None:
    caller = _Caller(b'{"text": "a')

    await _call(_app(), path, caller, 200)

    status, headers, body = caller.answer()
    problem = json.loads(body)
    assert (status, headers["content-type"], headers["connection"]) == (408, "application/problem+json", "close")
    assert (problem["code"], problem["instance"]) == ("REQUEST_TIMEOUT", path)
    assert problem["detail"] == (
        "Nothing of the request body arrived for 0.2 seconds, so the service stopped waiting for it and used nothing"
        " of it. Send it again."
    )


async def test_a_form_that_stalls_is_answered_408_whatever_the_route_makes_of_it() -> None:
    caller = _Caller(b"name=a")

    await _call(_app(), "/sign-in", caller, 200, "application/x-www-form-urlencoded")

    status, headers, _ = caller.answer()
    assert (status, headers["connection"]) == (408, "close")


async def test_a_body_that_keeps_moving_takes_as_long_as_it_takes() -> None:
    chunks = [b'{"text": "', *(b"a" for _ in range(6)), b'"}']
    caller = _Caller(*chunks, ends=True, pause=DEADLINE / 4)  # in all twice the deadline, each chunk well within it

    await _call(_app(), "/v1/notes", caller, sum(map(len, chunks)))

    assert caller.answer()[0::2] == (200, b'{"length":6}')


async def test_a_route_bounding_its_body_itself_is_not_cut_at_the_deadline() -> None:
    caller = _Caller(b"abc", b"def", ends=True, pause=DEADLINE * 2)

    await _call(_app(), "/v1/files", caller, 6)

    assert caller.answer()[0::2] == (200, b'{"length":6}')


async def test_a_response_being_streamed_is_not_cut_while_the_client_sends_nothing_more() -> None:
    caller = _Caller(b"{}", ends=True)  # the body whole, then nothing: the wait for a disconnect never ends

    await _call(_app(), "/v1/stream", caller, 2)

    assert caller.answer()[0::2] == (200, b"abc")


async def test_a_body_stalled_on_a_real_connection_is_answered_408_and_the_connection_closed() -> None:
    async with served(_app()) as base_url, raw_connection(int(base_url.rsplit(":", 1)[1])) as connection:
        await connection.send(
            b"POST /sign-in HTTP/1.1\r\nHost: idle\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 200\r\n\r\nn"
        )
        status, headers, body = await connection.answer()
        closed = await connection.closed()

    assert (status, headers["connection"], json.loads(body)["code"], closed) == (408, "close", "REQUEST_TIMEOUT", True)
