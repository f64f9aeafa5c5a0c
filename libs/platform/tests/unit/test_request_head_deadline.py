"""A request's line and headers must arrive within `BoundedHeadProtocol.head_seconds` of the connection's opening
or of the request's first byte (decision 0193, later note): past it the server answers 408 and closes the
connection. uvicorn times out only a connection idle between requests, so a client that opened connections and
sent nothing, or a byte now and then, held each for ever. Checked on a real server over a raw socket, with a
deadline short enough for a test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from fastapi import Request
from tests.support.raw_http import raw_connection
from tests.support.serving import served

from lrs_platform.http import REQUEST_HEAD_SECONDS, BoundedHeadProtocol, build_app, noop_lifespan

DEADLINE = 0.5


class _QuickDeadline(BoundedHeadProtocol):
    head_seconds = DEADLINE


@pytest.fixture(scope="module")
async def port() -> AsyncIterator[int]:
    app = build_app("deadline", title="Deadline", description="", lifespan=noop_lifespan)

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(DEADLINE * 3)  # the app's own work, long after the head ended
        return {"status": "done"}

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"length": len(await request.body())}

    async with served(app, protocol=_QuickDeadline) as base_url:
        yield int(base_url.rsplit(":", 1)[1])


def test_the_services_deadline_is_the_documented_one() -> None:
    assert BoundedHeadProtocol.head_seconds == REQUEST_HEAD_SECONDS == 30.0


async def test_a_connection_that_sends_nothing_is_answered_408_and_closed(port: int) -> None:
    async with raw_connection(port) as connection:
        status, headers, body = await connection.answer()
        closed = await connection.closed()

    assert (status, headers["connection"], closed) == (408, "close", True)
    assert b"did not arrive within 0.5 seconds" in body


async def test_a_head_that_never_ends_is_answered_408_however_it_trickles(port: int) -> None:
    async with raw_connection(port) as connection:
        await connection.send(b"GET /healthz HTTP/1.1\r\nHost: deadline\r\n")
        sending = asyncio.create_task(_trickle(connection.send))
        try:
            status, _, _ = await connection.answer()
        finally:
            sending.cancel()

    assert status == 408


async def test_the_deadline_starts_again_for_each_request_of_a_kept_connection(port: int) -> None:
    async with raw_connection(port) as connection:
        await connection.send(b"GET /healthz HTTP/1.1\r\nHost: deadline\r\n\r\n")
        first, _, _ = await connection.answer()
        await connection.send(b"GET /healthz HTTP/1.1\r\n")  # a second head, begun and never ended
        second, headers, _ = await connection.answer()

    assert (first, second, headers["connection"]) == (200, 408, "close")


async def test_a_request_whose_head_ended_in_time_is_answered_however_long_the_app_takes(port: int) -> None:
    async with raw_connection(port) as connection:
        await connection.send(b"GET /slow HTTP/1.1\r\nHost: deadline\r\n\r\n")
        status, _, body = await connection.answer()

    assert (status, body) == (200, b'{"status":"done"}')


async def _trickle(send: Callable[[bytes], Awaitable[None]]) -> None:
    while True:  # a header's byte now and then, each within the deadline, never the head's end
        await send(b"X")
        await asyncio.sleep(DEADLINE / 5)


async def test_line_ends_after_an_answer_do_not_hold_a_kept_connection_open(port: int) -> None:
    """Any byte stops uvicorn's keep-alive timer, and llhttp passes over line ends between requests without
    beginning one: the next head is timed from them."""
    async with raw_connection(port) as connection:
        await connection.send(b"GET /healthz HTTP/1.1\r\nHost: deadline\r\n\r\n")
        first, _, _ = await connection.answer()
        await connection.send(b"\r\n")
        second, headers, _ = await connection.answer()
        closed = await connection.closed()

    assert (first, second, headers["connection"], closed) == (200, 408, "close", True)


async def test_a_body_that_takes_longer_than_the_deadline_is_not_cut_by_it(port: int) -> None:
    """Once a head has ended its body's bytes are the request's, not a next head's: no deadline while it is read."""
    async with raw_connection(port) as connection:
        await connection.send(b"POST /echo HTTP/1.1\r\nHost: deadline\r\nContent-Length: 6\r\n\r\nabc")
        await asyncio.sleep(DEADLINE * 2)  # the body's second half, later than a head's deadline
        await connection.send(b"def")
        status, _, body = await connection.answer()

    assert (status, body) == (200, b'{"length":6}')
