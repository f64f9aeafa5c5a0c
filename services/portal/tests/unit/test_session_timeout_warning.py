"""The warning before a session ends (WCAG 2.2.1 Timing Adjustable): each signed-in page tells its script when the
session ends and whether that end is the absolute limit; "Stay signed in" keeps the session, with the CSRF token of
its forms, and says when it now ends. Without script nothing changes (the dialog is a closed <dialog>)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from services.portal.tests.unit.stubbed_portal import form, stubbed_portal

from portal.sessions import session_clock, token_hash

IDLE = timedelta(minutes=30)
NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


def warning_of(html: str) -> dict[str, str]:
    found = re.search(r"<dialog[^>]*data-session-timeout[^>]*>", html, re.DOTALL)
    assert found is not None, "no warning on the page"
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', found.group(0)))


def test_a_session_kept_by_its_idle_limit_is_warned_five_minutes_before_and_may_be_kept() -> None:
    clock = session_clock(NOW + IDLE, NOW, IDLE)

    assert (clock.ends_in, clock.idle, clock.warn_before, clock.final) == (1802, 1800, 300, False)  # ENDED_MARGIN


def test_a_session_at_its_absolute_limit_is_final() -> None:
    clock = session_clock(NOW + timedelta(minutes=7), NOW, IDLE)

    assert (clock.ends_in, clock.final) == (422, True)


def test_a_short_idle_limit_still_leaves_at_least_twenty_seconds_to_act() -> None:
    clock = session_clock(NOW + timedelta(minutes=1), NOW, timedelta(minutes=1))

    assert clock.warn_before == 30 and not clock.final


def test_every_signed_in_page_carries_the_warning_with_its_sessions_clock() -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in()

    shown = client.get("/account/password")
    signed_out = portal.client().get("/sign-in")

    warning = warning_of(shown.text)
    assert 1797 <= int(warning["ends-in"]) <= 1802
    assert (warning["idle"], warning["warn-before"], warning["final"]) == ("1800", "300", "false")
    assert 'action="/session/keep-alive"' in shown.text and ">Stay signed in</button>" in shown.text
    assert "sign you out after 30 minutes without using the portal" in shown.text
    assert "data-session-timeout" not in signed_out.text


def test_a_session_near_its_absolute_limit_says_it_cannot_be_kept_longer() -> None:
    portal = stubbed_portal()
    client, session = portal.signed_in()
    portal.sessions.rows[token_hash(session.token)]["created_at"] = datetime.now(UTC) - timedelta(hours=11, minutes=50)

    shown = client.get("/account/password")

    warning = warning_of(shown.text)
    assert warning["final"] == "true" and 592 <= int(warning["ends-in"]) <= 602
    assert "staying signed in longer is not possible" in shown.text


def test_stay_signed_in_keeps_the_session_and_says_when_it_now_ends() -> None:
    portal = stubbed_portal()
    client, session = portal.signed_in()
    row = portal.sessions.rows[token_hash(session.token)]
    row["expires_at"] = datetime.now(UTC) + timedelta(minutes=2)  # 28 minutes without a request

    kept = client.post("/session/keep-alive", data=form(session))

    assert kept.status_code == 200
    assert kept.json()["final"] is False and 1797 <= kept.json()["ends_in"] <= 1802
    assert row["expires_at"] > datetime.now(UTC) + timedelta(minutes=29)
    assert kept.headers["cache-control"] == "no-store"


def test_stay_signed_in_without_the_forms_token_is_refused() -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in()

    refused = client.post("/session/keep-alive", data={"csrf": "not the token"})

    assert refused.status_code == 403


def test_stay_signed_in_after_the_session_ended_sends_to_sign_in() -> None:
    portal = stubbed_portal()
    client, session = portal.signed_in()
    portal.sessions.rows[token_hash(session.token)]["expires_at"] = datetime.now(UTC) - timedelta(seconds=1)

    ended = client.post("/session/keep-alive", data=form(session))

    assert ended.status_code == 303 and ended.headers["location"].startswith("/sign-in?")
