"""A file's check (up to 10,000 records parsed and checked: a second or so of CPU) runs in a thread, a few at a time:
while it runs every other page of the portal is answered, its style sheet included. On the event loop, four checks at
once held a request for /static/portal.css for 2.7 s."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal, with_a_sandpit

from portal import checking
from portal.checking import UploadCheck
from portal.web import batch_pages
from portal.web.batch_pages import CHECKS_AT_ONCE

ROOT = Path(__file__).resolve().parents[4]
SAMPLE = (ROOT / "samples" / "sample-100.csv").read_bytes()
T = TypeVar("T")


class HeldChecks:
    """The portal's file check, each held until the test lets it go on: how many run now, and the most at once."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._real = checking.check_upload
        self.running = 0
        self.started = 0
        self.most = 0
        self.let_go = 0  # how many checks may finish
        self.given_up = False

    def check_upload(self, *args: Any) -> UploadCheck:
        with self._changed:
            self.running += 1
            self.started += 1
            self.most = max(self.most, self.running)
            number = self.started
            self._changed.notify_all()
            # a deadline, so a test that fails never hangs its run
            self._changed.wait_for(lambda: self.given_up or self.let_go >= number, timeout=30)
            self.running -= 1
        return self._real(*args)

    def wait_until_started(self, count: int) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.started >= count, timeout=10)

    def let_go_of(self, count: int) -> None:
        with self._changed:
            self.let_go += count
            self._changed.notify_all()

    def give_up(self) -> None:
        with self._changed:
            self.given_up = True
            self._changed.notify_all()


class CountedTurns(asyncio.Semaphore):
    """The checks' turns, counting the checks that asked for one (`asked`)."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self._changed = threading.Condition()
        self.asked = 0

    async def acquire(self) -> Literal[True]:
        with self._changed:
            self.asked += 1
            self._changed.notify_all()
        return await super().acquire()

    def wait_until_asked(self, count: int) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.asked >= count, timeout=10)


@contextmanager
def one_event_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop in a thread of its own, serving every request the test sends, as a portal process does."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


def signed_in_client(portal: StubbedPortal) -> tuple[httpx.AsyncClient, dict[str, str]]:
    """A client of `portal` with a new AO user's session cookie, and the fields of a check's form."""
    client, session = portal.signed_in()
    browser = httpx.AsyncClient(transport=httpx.ASGITransport(app=portal.app), base_url="http://portal.test")
    browser.cookies.set(portal.cookies.session_cookie, client.cookies[portal.cookies.session_cookie])
    return browser, form(session)


def on(loop: asyncio.AbstractEventLoop, sent: Coroutine[Any, Any, T]) -> Future[T]:
    return asyncio.run_coroutine_threadsafe(sent, loop)


@pytest.mark.parametrize("path", ["/batches/check", "/sandpit/batches/check"])
def test_other_pages_are_answered_while_a_file_is_checked(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    portal = with_a_sandpit(stubbed_portal(), monkeypatch)
    checks = HeldChecks()
    monkeypatch.setattr(batch_pages, "check_upload", checks.check_upload)
    browser, fields = signed_in_client(portal)

    with one_event_loop() as loop:
        checking = on(loop, browser.post(path, data=fields, files={"batch_file": ("s.csv", SAMPLE, "text/csv")}))
        try:
            assert checks.wait_until_started(1)
            style_sheet = on(loop, browser.get("/static/portal.css")).result(timeout=10)
            alive = on(loop, browser.get("/healthz")).result(timeout=10)
            still_checking = not checking.done()
        finally:
            checks.give_up()
        checked = checking.result(timeout=30)
        on(loop, browser.aclose()).result(timeout=10)

    assert style_sheet.status_code == 200
    assert alive.status_code == 200
    assert still_checking
    assert checked.status_code == 200
    assert "s.csv" in checked.text


def test_no_more_files_are_checked_at_once_than_allowed_and_the_next_waits_its_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    portal = stubbed_portal()
    checks = HeldChecks()
    monkeypatch.setattr(batch_pages, "check_upload", checks.check_upload)
    turns = CountedTurns(CHECKS_AT_ONCE)
    portal.app.state.checks_at_once = turns
    browsers = [signed_in_client(portal) for _ in range(CHECKS_AT_ONCE + 1)]

    with one_event_loop() as loop:
        files = {"batch_file": ("s.csv", SAMPLE, "text/csv")}
        checking = [on(loop, browser.post("/batches/check", data=fields, files=files)) for browser, fields in browsers]
        try:
            assert checks.wait_until_started(CHECKS_AT_ONCE)
            assert turns.wait_until_asked(CHECKS_AT_ONCE + 1)  # the last one waits for its turn
            started_while_full = checks.started
            checks.let_go_of(1)
            assert checks.wait_until_started(CHECKS_AT_ONCE + 1)
            checks.let_go_of(CHECKS_AT_ONCE)
            answers = [each.result(timeout=30) for each in checking]
        finally:
            checks.give_up()
        for browser, _ in browsers:
            on(loop, browser.aclose()).result(timeout=10)

    assert CHECKS_AT_ONCE == 2
    assert started_while_full == CHECKS_AT_ONCE
    assert checks.most == CHECKS_AT_ONCE
    assert [answer.status_code for answer in answers] == [200] * (CHECKS_AT_ONCE + 1)
