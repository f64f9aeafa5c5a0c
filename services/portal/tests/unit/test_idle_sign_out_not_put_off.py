"""A tab left open is signed out when its session's idle limit runs out (decision 0040, later note of 2026-12-07,
session 60). Its page is told the time left rounded up, with a margin (`ENDED_MARGIN`), so that its "signed out"
(`/sign-in?ended=page`) comes once the session has ended, not a moment before it, when the sign-in page found the
session live, kept it for another idle period and sent the page back signed in, for up to 12 hours. Asking for the
sign-in page, and a batch page following its status, read the session without keeping it."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal

from portal import auth
from portal.accounts import Role
from portal.sessions import session_clock, token_hash

IDLE = timedelta(minutes=30)
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
BATCH_ID = uuid.uuid4()


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def ends_in(page: str) -> int:
    found = re.search(r'data-ends-in="(\d+)"', page)
    assert found is not None, "no session clock on the page"
    return int(found.group(1))


@pytest.mark.parametrize("left", [timedelta(minutes=30), timedelta(seconds=1799, microseconds=400_000)])
def test_a_pages_clock_ends_after_its_session_does(left: timedelta) -> None:
    clock = session_clock(NOW + left, NOW, IDLE)

    assert NOW + timedelta(seconds=clock.ends_in) >= NOW + left + timedelta(seconds=2)
    assert clock.ends_in <= left.total_seconds() + 3  # but not much after


def test_a_tab_left_open_is_signed_out_when_its_clock_ends(
    portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The portal's clock moved on as far as the page's says, counted from when the page arrived."""
    client, session = portal.signed_in()
    page = client.get("/account/password")
    arrived = datetime.now(UTC)
    monkeypatch.setattr(auth, "utc_now", lambda: arrived + timedelta(seconds=ends_in(page.text)))

    signed_out = client.get("/sign-in", params={"ended": "page", "next": "/account/password"})
    again = client.get("/account/password")

    assert signed_out.status_code == 200, signed_out.headers.get("location")
    assert "signed you out" in signed_out.text or "signed out" in signed_out.text
    assert token_hash(session.token) not in portal.sessions.rows
    assert again.status_code == 303 and again.headers["location"].startswith("/sign-in")


def test_the_sign_in_page_does_not_keep_a_session(portal: StubbedPortal) -> None:
    """A page whose clock ran ahead (or a tab left at the sign-in page) finds the session live: it goes on to the
    page (decision 0040), the session not kept for it."""
    client, session = portal.signed_in()
    row = portal.sessions.rows[token_hash(session.token)]
    ends = datetime.now(UTC) + timedelta(seconds=10)
    row["expires_at"] = ends

    answer = client.get("/sign-in", params={"ended": "page", "next": "/account/password"})

    assert (answer.status_code, answer.headers["location"]) == (303, "/account/password")
    assert row["expires_at"] == ends


@pytest.mark.parametrize(
    ("role", "scopes", "path"),
    [
        (Role.AO, frozenset(), f"/batches/{BATCH_ID}/status.json"),
        (Role.OPERATOR, frozenset({"support"}), f"/ops/batches/{BATCH_ID}/status.json"),
    ],
)
def test_a_batch_page_following_its_status_does_not_keep_the_session(
    portal: StubbedPortal, role: Role, scopes: frozenset[str], path: str
) -> None:
    """The batch held (a maintenance pause, say) is followed for as long as it waits: that is the page's doing, not
    the person's. The page itself, asked by the person, keeps the session as any page does."""
    portal.on("GET", f"ingest/v1/batches/{BATCH_ID}", lambda _: httpx.Response(200, json={"status": "received"}))
    client, session = portal.signed_in(role, scopes)
    row = portal.sessions.rows[token_hash(session.token)]
    ends = datetime.now(UTC) + timedelta(minutes=1)
    row["expires_at"] = ends

    followed = client.get(path)

    assert followed.status_code == 200, followed.text
    assert followed.json() == {"status": "received", "decided": False, "not_published": False}
    assert row["expires_at"] == ends
    client.get("/account/password")
    assert row["expires_at"] > ends + timedelta(minutes=28)


def test_a_followed_batch_still_says_when_the_session_has_ended(portal: StubbedPortal) -> None:
    portal.on("GET", f"ingest/v1/batches/{BATCH_ID}", lambda _: httpx.Response(200, json={"status": "received"}))
    client, session = portal.signed_in()
    portal.sessions.rows[token_hash(session.token)]["expires_at"] = datetime.now(UTC) - timedelta(seconds=1)

    followed = client.get(f"/batches/{BATCH_ID}/status.json")

    assert followed.status_code == 303 and followed.headers["location"].startswith("/sign-in")
