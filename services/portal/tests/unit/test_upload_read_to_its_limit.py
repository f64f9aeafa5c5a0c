"""A batch file's check reads its body only to the limit (decision 0134), whether the body says its length or is
sent in chunks: a larger one is refused RS002 on the upload page with nothing past the limit read or spooled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal, with_a_sandpit

from portal.web.batch_pages import LARGEST_UPLOAD, TOO_LARGE

BOUNDARY = "portal-test-boundary"
CHUNK = 64 * 1024


@dataclass
class ChunkedBody:
    """A body sent without a Content-Length, `head` then `fill` bytes, counting what the portal pulled of it."""

    head: bytes
    fill_bytes: int
    pulled: int = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.pulled += len(self.head)
        yield self.head
        sent = 0
        while sent < self.fill_bytes:
            chunk = b"x" * min(CHUNK, self.fill_bytes - sent)
            sent += len(chunk)
            self.pulled += len(chunk)
            yield chunk


def file_upload() -> bytes:
    """The head of a form whose file part follows: refused before its CSRF token would be looked at."""
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\nnot-looked-at\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="batch_file"; filename="big.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()


def posted(portal: StubbedPortal, body: ChunkedBody, content_type: str, path: str = "/batches/check") -> httpx.Response:
    """`body` posted to the check by a signed-in AO user, as a stream the portal pulls from."""
    client, _ = portal.signed_in()
    cookie = client.cookies[portal.cookies.session_cookie]

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=portal.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as streaming:
            streaming.cookies.set(portal.cookies.session_cookie, cookie)
            return await streaming.post(path, content=body, headers={"Content-Type": content_type})

    return asyncio.run(post())


@pytest.mark.parametrize("path", ["/batches/check", "/sandpit/batches/check"])
def test_a_chunked_upload_of_40_mb_is_refused_rs002_having_read_no_more_than_the_limit(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    portal = with_a_sandpit(stubbed_portal(), monkeypatch)
    body = ChunkedBody(file_upload(), 40 * 1_048_576)

    answer = posted(portal, body, f"multipart/form-data; boundary={BOUNDARY}", path)

    assert answer.status_code == 413
    assert TOO_LARGE in answer.text
    assert LARGEST_UPLOAD < body.pulled <= LARGEST_UPLOAD + CHUNK
    assert portal.uploads.kept == {}


def test_a_chunked_url_encoded_body_sent_to_the_check_is_read_no_further_than_the_limit() -> None:
    portal = stubbed_portal()
    body = ChunkedBody(b"batch_file=", 40 * 1_048_576)

    answer = posted(portal, body, "application/x-www-form-urlencoded")

    assert answer.status_code == 413
    assert body.pulled <= LARGEST_UPLOAD + CHUNK
