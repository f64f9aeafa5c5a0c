"""A request's line and headers are bounded (`MAX_REQUEST_HEAD_BYTES`, decision 0193): past the bound the server
answers 431 and closes the connection, however the head arrives, and a head within it is served, however it is
cut into reads. httptools sets no bound of its own: a 64 MiB header was held whole. Checked on the server the
services run (`SERVED_WITH`) over a raw socket."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from tests.support.raw_http import RawConnection, raw_connection
from tests.support.serving import served

from lrs_platform.http import MAX_REQUEST_HEAD_BYTES, build_app, noop_lifespan

PIECE = 64 * 1_024
SENT_AT_MOST = 16 * 1_048_576  # far past the bound and a read of the server's


@pytest.fixture(scope="module")
async def port() -> AsyncIterator[int]:
    app = build_app("bounded", title="Bounded", description="", lifespan=noop_lifespan)
    async with served(app) as base_url:
        yield int(base_url.rsplit(":", 1)[1])


def _headers(count: int, size: int) -> bytes:
    """`count` headers of `size` bytes each, as sent (name, separator, value and line end)."""
    return b"".join(b"X-Filler-%05d: " % number + b"a" * (size - 19) + b"\r\n" for number in range(count))


async def _refused(port: int, *pieces: bytes, then_without_end: bytes = b"") -> tuple[int, dict[str, str], bool, int]:
    """Sends `pieces`, then `then_without_end` again and again (until the server stops it): the answer, whether
    the server closed the connection, and how many bytes were sent."""
    sent = 0

    async def send(connection: RawConnection) -> None:
        nonlocal sent
        with contextlib.suppress(ConnectionError):
            for piece in pieces:
                await connection.send(piece)
                sent += len(piece)
            while then_without_end and sent < SENT_AT_MOST:
                await connection.send(then_without_end)
                sent += len(then_without_end)

    async with raw_connection(port) as connection:
        sending = asyncio.create_task(send(connection))
        try:
            status, headers, _ = await connection.answer()
            closed = await connection.closed()
        finally:
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sending
    return status, headers, closed, sent


async def test_a_header_without_end_is_refused_431_and_the_connection_closed(port: int) -> None:
    status, headers, closed, sent = await _refused(
        port, b"GET /healthz HTTP/1.1\r\nHost: bounded\r\nX-Junk: ", then_without_end=b"a" * PIECE
    )

    assert status == 431
    assert headers["connection"] == "close"
    assert closed
    assert sent < SENT_AT_MOST


async def test_headers_past_the_bound_are_refused_431(port: int) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: bounded\r\n" + _headers(80, 1_024) + b"\r\n"

    status, headers, closed, _ = await _refused(port, head)

    assert (status, headers["connection"], closed) == (431, "close", True)


async def test_an_address_past_the_bound_is_refused_431(port: int) -> None:
    head = b"GET /healthz?q=" + b"a" * (MAX_REQUEST_HEAD_BYTES + 1) + b" HTTP/1.1\r\nHost: bounded\r\n\r\n"

    status, _, closed, _ = await _refused(port, head)

    assert (status, closed) == (431, True)


async def test_heads_within_the_bound_are_served_however_they_are_cut_into_reads(port: int) -> None:
    """Each head is about 62 KiB, one header of 30 KiB among them; sent in pieces of 1 KiB, each read by the
    server before the next is sent, and three of them on one connection."""
    head = b"GET /healthz HTTP/1.1\r\nHost: bounded\r\n" + _headers(30, 1_024) + _headers(1, 30_720) + b"\r\n"
    assert MAX_REQUEST_HEAD_BYTES - 4_096 < len(head) <= MAX_REQUEST_HEAD_BYTES
    answers = []
    async with raw_connection(port) as connection:
        for _ in range(3):
            for start in range(0, len(head), 1_024):
                await connection.send(head[start : start + 1_024])
                await asyncio.sleep(0)  # yields to the server on this event loop, which reads the piece
            answers.append(await connection.answer())

    assert [(status, headers.get("connection")) for status, headers, _ in answers] == [(200, None)] * 3


async def test_a_chunked_body_with_a_trailer_is_served(port: int) -> None:
    """A trailer after a chunked body (RFC 9112 §7.1.2) is no part of the head: httptools hands it over as a header
    once the head has ended, and it was once refused 400."""
    request = (
        b"POST /healthz HTTP/1.1\r\nHost: bounded\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
        b"5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n"
    )
    async with raw_connection(port) as connection:
        await connection.send(request)
        status, _, _ = await connection.answer()

    assert status != 400 and status < 500
