"""A raw HTTP/1.1 connection to a served app, for tests of what the server itself does with the bytes on the wire
(when it closes a connection, how it bounds a request's head; decision 0193), which an HTTP client hides."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import NamedTuple

PIECE = 64 * 1_024
WITHIN = 60.0  # seconds: a bound on each wait, never a pause


class Answer(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes


class RawConnection:
    """A raw socket to the server. Sending and receiving fail apart: a reset met while sending does not lose the
    bytes already received (an `asyncio.StreamReader` raises the error before its buffer)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._received = b""

    async def send(self, data: bytes) -> None:
        await asyncio.get_running_loop().sock_sendall(self._sock, data)

    async def _more(self) -> bytes:
        return await asyncio.wait_for(asyncio.get_running_loop().sock_recv(self._sock, PIECE), WITHIN)

    async def answer(self) -> Answer:
        while b"\r\n\r\n" not in self._received:
            more = await self._more()
            assert more, f"the connection closed before an answer: {self._received!r}"
            self._received += more
        head, self._received = self._received.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in header_lines)}
        length = int(headers["content-length"])
        while len(self._received) < length:
            more = await self._more()
            assert more, "the connection closed within an answer"
            self._received += more
        body, self._received = self._received[:length], self._received[length:]
        return Answer(int(status_line.split()[1]), headers, body)

    async def closed(self) -> bool:
        """Whether the server closes the connection (within the bound): no more bytes come, or it is reset."""
        try:
            return await self._more() == b""
        except ConnectionError:
            return True
        except TimeoutError:
            return False


@contextlib.asynccontextmanager
async def raw_connection(port: int) -> AsyncIterator[RawConnection]:
    with socket.socket() as sock:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        yield RawConnection(sock)
