"""An answer given before the request's body was read to its end closes the connection (decision 0193): kept
open, the server read on and threw away whatever the caller went on sending, without end, past every limit the
app sets. A request with no body, or whose body was read whole, keeps its connection. Checked on the server the
services run (`SERVED_WITH`) over a raw socket."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from fastapi import Request
from fastapi.responses import JSONResponse
from tests.support.raw_http import RawConnection, raw_connection
from tests.support.serving import served

from lrs_platform.http import build_app, noop_lifespan

PIECE = 64 * 1_024
REFUSED_PAST = 1_048_576  # what /stream reads before it refuses, as ingest refuses a batch over 6 MB
SENT_AT_MOST = 256 * 1_048_576  # far more than the server reads before it closes: sent without end, to a test


def _app() -> object:
    app = build_app("kept", title="Kept", description="", lifespan=noop_lifespan, body_limits={"/stream": None})

    @app.post("/refuses")
    async def refuses() -> JSONResponse:  # as a route refusing the caller before it reads the body
        return JSONResponse({"refused": True}, status_code=401)

    @app.post("/reads")
    async def reads(request: Request) -> dict[str, int]:
        return {"read": len(await request.body())}

    @app.post("/stream")
    async def stream(request: Request) -> JSONResponse:  # bounds its body itself, as ingest's batches do
        read = 0
        async for piece in request.stream():
            read += len(piece)
            if read > REFUSED_PAST:
                return JSONResponse({"refused": read}, status_code=413)
        return JSONResponse({"read": read})

    return app


@pytest.fixture
async def port() -> AsyncIterator[int]:
    async with served(_app()) as base_url:
        yield int(base_url.rsplit(":", 1)[1])


def _head(method: str, path: str, *headers: str) -> bytes:
    return "\r\n".join([f"{method} {path} HTTP/1.1", "Host: kept", *headers, "", ""]).encode()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/refuses", 401),  # answered without reading the body
        ("POST", "/stream", 413),  # refused while the body streams in
        ("POST", "/nowhere", 404),
        ("GET", "/healthz", 200),  # a GET sent a body
    ],
)
async def test_an_answer_before_a_body_without_end_closes_the_connection(
    port: int, method: str, path: str, status: int
) -> None:
    sent = 0

    async def send_without_end(connection: RawConnection) -> None:
        nonlocal sent
        await connection.send(_head(method, path, "Transfer-Encoding: chunked"))
        frame = _chunk(b"x" * PIECE)
        with contextlib.suppress(ConnectionError):
            while sent < SENT_AT_MOST:
                await connection.send(frame)
                sent += PIECE

    async with raw_connection(port) as connection:
        sending = asyncio.create_task(send_without_end(connection))
        try:
            answer = await connection.answer()
            closed = await connection.closed()
        finally:
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sending

    assert answer.status == status, answer.body
    assert answer.headers.get("connection") == "close"
    assert closed, "the server kept the connection open, reading the body on"
    assert sent < SENT_AT_MOST


async def test_a_request_with_no_body_or_one_read_whole_keeps_its_connection(port: int) -> None:
    requests = [
        (_head("GET", "/healthz"), 200),
        (
            _head("POST", "/reads", "Transfer-Encoding: chunked")
            + _chunk(b"x" * PIECE)
            + _chunk(b"y" * 10)
            + b"0\r\n\r\n",
            200,
        ),
        (_head("POST", "/stream", "Transfer-Encoding: chunked") + _chunk(b"x" * PIECE) + b"0\r\n\r\n", 200),
        (_head("POST", "/reads", "Content-Length: 5") + b"hello", 200),
        (_head("POST", "/refuses", "Content-Length: 0"), 401),  # no body to leave unread
        (_head("GET", "/healthz"), 200),
    ]
    answers = []
    async with raw_connection(port) as connection:
        for request, _ in requests:
            await connection.send(request)
            answers.append(await connection.answer())

    assert [answer.status for answer in answers] == [status for _, status in requests]
    assert [answer.headers.get("connection") for answer in answers] == [None] * len(requests)
    assert answers[1].body == b'{"read":65546}'
