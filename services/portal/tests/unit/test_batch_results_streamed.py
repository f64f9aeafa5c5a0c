"""A batch's results CSV is sent on from ingest as it arrives, not read whole first (report-flaky finding 3: 30 slow
downloads took the portal from 105 MB to 313 MB, past its pod's 256Mi, and ingest's per-AO gate of 3 was let go as
soon as the portal had the bytes). The portal holds ingest's answer open while the browser reads it and lets it go
when the browser has it all or has gone; ingest's answers other than the file are pages, said before any of it.

The app is driven as uvicorn drives it (ASGI, spec 2.3: a browser that goes is said by `http.disconnect`), since a
test client hands over a body only once it has all of it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal

from portal import backend

BATCH_ID = uuid.uuid4()
PATH = f"/batches/{BATCH_ID}/records.csv"
CHUNKS = [
    b"\xef\xbb\xbfLine,MISIdentifier,Status\r\n",
    *(f"{line},MIS-{line},accepted\r\n".encode() for line in range(4, 9)),
]
WAITED_AT_MOST = 10.0  # seconds: only a portal that reads the whole file first waits this long


class Ingest(httpx.AsyncByteStream):
    """Ingest's results CSV, a chunk at a time: after the first, the next only once `go_on` is set (or after
    `WAITED_AT_MOST`, noted in `waited_out`)."""

    def __init__(self, chunks: list[bytes], go_on: asyncio.Event) -> None:
        self.chunks = chunks
        self.go_on = go_on
        self.read = 0
        self.waited_out = False
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for number, chunk in enumerate(self.chunks):
            if number == 1:
                try:
                    await asyncio.wait_for(self.go_on.wait(), WAITED_AT_MOST)
                except TimeoutError:
                    self.waited_out = True
            self.read += 1
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


class Browser:
    """What reaches the browser, and (`leaves`) a browser that goes once it has the first chunk."""

    def __init__(self, portal: StubbedPortal, *, leaves: bool = False) -> None:
        _, session = portal.signed_in()
        self.cookie = f"{portal.cookies.session_cookie}={session.token}".encode()
        self.leaves = leaves
        self.has_first = asyncio.Event()
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""
        self.ended = False  # the body's last chunk came: the browser saves the file as whole
        self.asked = 0

    def scope(self, path: str) -> dict[str, Any]:
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"testserver"), (b"cookie", self.cookie)],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }

    async def receive(self) -> dict[str, Any]:
        self.asked += 1
        if self.asked == 1:
            return {"type": "http.request", "body": b"", "more_body": False}
        if self.leaves:
            await self.has_first.wait()
        else:
            await asyncio.Event().wait()  # stays until the answer is sent (uvicorn's receive, as the app cancels it)
        return {"type": "http.disconnect"}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {name.decode().lower(): value.decode() for name, value in message["headers"]}
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")
            self.ended = not message.get("more_body", False)
            if self.body:
                self.has_first.set()


@pytest.fixture
def portal(monkeypatch: pytest.MonkeyPatch) -> StubbedPortal:
    """With places of its own for downloads at once: one a test leaves held is not another's."""
    monkeypatch.setattr(backend, "DOWNLOADS", backend._Places(backend.DOWNLOADS.most))
    return stubbed_portal()


def ingest_sends(portal: StubbedPortal, ingest: Ingest) -> None:
    disposition = f'attachment; filename="batch-{BATCH_ID}-records.csv"'
    portal.on(
        "GET",
        f"ingest/v1/batches/{BATCH_ID}/records.csv",
        lambda request: httpx.Response(
            200,
            stream=ingest,
            headers={"Content-Type": "text/csv; charset=utf-8", "Content-Disposition": disposition},
        ),
    )


async def downloaded(portal: StubbedPortal, browser: Browser, path: str = PATH) -> None:
    await asyncio.wait_for(portal.app(browser.scope(path), browser.receive, browser.send), 2 * WAITED_AT_MOST)


def test_the_first_chunk_reaches_the_browser_before_the_rest_is_read_from_ingest(portal: StubbedPortal) -> None:
    browser = Browser(portal)

    async def download() -> tuple[Browser, Ingest]:
        ingest = Ingest(CHUNKS, browser.has_first)
        ingest_sends(portal, ingest)
        await downloaded(portal, browser)
        return browser, ingest

    browser, ingest = asyncio.run(download())

    assert not ingest.waited_out, "the portal read the rest of the file before the browser had any of it"
    assert browser.status == 200 and browser.body == b"".join(CHUNKS)
    assert ingest.read == len(CHUNKS) and ingest.closed and backend.DOWNLOADS.held == 0
    assert browser.headers["content-disposition"] == f'attachment; filename="batch-{BATCH_ID}-records.csv"'
    assert browser.headers["content-type"] == "text/csv; charset=utf-8"
    assert browser.headers["cache-control"] == "no-store" and browser.headers["x-content-type-options"] == "nosniff"


def test_a_browser_that_goes_lets_ingests_answer_go_at_once(portal: StubbedPortal) -> None:
    """Ingest's place for the download (its per-AO gate of 3) is held until its answer is closed: a browser gone
    after the first chunk closes it, with the rest of the file never asked for."""

    browser = Browser(portal, leaves=True)

    async def download() -> tuple[Browser, Ingest]:
        ingest = Ingest(CHUNKS, asyncio.Event())  # never goes on by itself: only a portal that reads it all waits
        ingest_sends(portal, ingest)
        await downloaded(portal, browser)
        return browser, ingest

    browser, ingest = asyncio.run(download())

    assert not ingest.waited_out, "the portal read on from ingest for a browser that had gone"
    assert browser.body == CHUNKS[0] and ingest.read == 1
    assert ingest.closed and backend.DOWNLOADS.held == 0


class BrokenOff(Ingest):
    """Ingest's answer broken off after its first chunk (its pod restarted, say)."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.read += 1
        yield self.chunks[0]
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")


def test_a_download_ingest_breaks_off_is_raised_on_not_ended_as_if_whole(portal: StubbedPortal) -> None:
    """Raised on (to uvicorn, which closes the browser's connection without the body's last chunk: a failed
    download), with ingest's answer and the portal's place let go."""
    browser = Browser(portal)

    async def download() -> Ingest:
        ingest = BrokenOff(CHUNKS, asyncio.Event())
        ingest_sends(portal, ingest)
        with pytest.raises(httpx.RemoteProtocolError):
            await downloaded(portal, browser)
        return ingest

    ingest = asyncio.run(download())

    assert browser.status == 200 and browser.body == CHUNKS[0]
    assert not browser.ended  # a failed download, not a short file saved as whole
    assert ingest.closed and backend.DOWNLOADS.held == 0


def test_a_batch_not_decided_is_said_before_any_byte_and_ingests_answer_let_go(portal: StubbedPortal) -> None:
    problem = {
        "title": "The batch is not decided yet",
        "status": 409,
        "detail": f"Batch {BATCH_ID} is validating, not decided yet: it has no results to download until it is decided.",
        "code": "BATCH_NOT_DECIDED",
        "batch_status": "validating",
    }
    closed: list[httpx.Response] = []

    def not_decided(request: httpx.Request) -> httpx.Response:
        answer = httpx.Response(409, json=problem)
        closed.append(answer)
        return answer

    portal.on("GET", f"ingest/v1/batches/{BATCH_ID}/records.csv", not_decided)
    client, _ = portal.signed_in()

    answer = client.get(PATH)

    assert answer.status_code == 409 and "text/html" in answer.headers["content-type"]
    assert "is validating, not decided yet" in answer.text and "content-disposition" not in answer.headers
    assert closed[0].is_closed and backend.DOWNLOADS.held == 0


def test_past_the_portals_downloads_at_once_one_more_is_asked_to_wait(
    portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each download holds one of the connections every page's calls share: past `DOWNLOADS` the page says to wait,
    with a Retry-After, and ingest is not asked."""
    monkeypatch.setattr(backend.DOWNLOADS, "most", 0)
    client, _ = portal.signed_in()

    answer = client.get(PATH)

    assert answer.status_code == 429 and answer.headers["retry-after"] == "5"
    assert "Too many requests at once" in answer.text and "download this one again in 5 seconds" in answer.text
    assert not portal.sent_to("GET", f"ingest/v1/batches/{BATCH_ID}/records.csv")
