"""The operators' start page (/ops): dead letters counted in every service, as their page lists them, and
links only to the pages the operator's duties reach (as the menu decides, decision 0124)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal

from portal.accounts import Role

PROJECTOR_STATUS = {
    "offsets": {},
    "lag": {},
    "events_handled": 10,
    "batches": 2,
    "last_error": None,
    "dead_letters": {"error": 1, "blocked": 0},
    "rebuild": {"state": "idle"},
}


@pytest.fixture
def portal() -> StubbedPortal:
    stub = stubbed_portal()
    stub.on("GET", "plr-projector/v1/admin/projector", lambda _: httpx.Response(200, json=PROJECTOR_STATUS))
    return stub


def parks(portal: StubbedPortal, service: str, total: int) -> None:
    row: dict[str, Any] = {"topic": "t", "partition": 0, "offset": 1, "reason": "error", "error": "x"}
    # the projector's parked events are named by their learner, other services' parked messages by their id
    row |= {"learner": "9990000043"} if service == "plr-projector" else {"id": 1}
    portal.on("GET", f"{service}/v1/admin/dlq", lambda _: httpx.Response(200, json={"parked": [row], "total": total}))


def card(html: str) -> str:
    return html.split('data-figure="dead-letters"', 1)[1].split("</div></div>", 1)[0]


def test_the_dead_letters_figure_counts_every_services_parked_messages(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    for service, total in [("plr-projector", 1), ("ingest", 1), ("notifier", 1), ("reporting", 1), ("challenges", 2)]:
        parks(portal, service, total)
    portal.on("GET", "validation/v1/admin/dlq", lambda _: httpx.Response(503, json={"title": "Unavailable"}))

    shown = client.get("/ops")

    assert shown.status_code == 200
    assert "Dead letters in every service" in shown.text
    assert card(shown.text).startswith(">6</p>")
    assert '<li data-parked-in="challenges">challenges: 2</li>' in shown.text
    assert '<li data-parked-in="plr-projector">plr-projector: 1</li>' in shown.text
    assert '<li data-parked-in="validation">validation: not known, it did not answer</li>' in shown.text


def test_an_operator_without_the_rebuild_duty_is_not_linked_to_the_rebuild(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR, frozenset({"dead-letters"}))

    shown = client.get("/ops")

    assert shown.status_code == 200
    assert 'href="/ops/rebuild"' not in shown.text
    assert 'href="/ops/dead-letters">See dead letters' in shown.text


def test_an_operator_without_the_dead_letters_duty_sees_the_projectors_own_labelled_as_such(
    portal: StubbedPortal,
) -> None:
    client, _ = portal.signed_in(Role.OPERATOR, frozenset({"rebuild"}))

    shown = client.get("/ops")

    assert shown.status_code == 200
    assert "Dead letters in the PLR projector" in shown.text and card(shown.text).startswith(">1</p>")
    assert 'href="/ops/dead-letters"' not in shown.text
    assert 'href="/ops/rebuild">See the rebuild' in shown.text
    assert not [request for request in portal.sent if request.url.path == "/v1/admin/dlq"]  # not theirs to ask


def test_the_lag_is_said_in_log_positions_not_events(portal: StubbedPortal) -> None:
    """The projector's lag is Kafka offsets: a transaction's marker takes a position and holds no event."""
    lag = {"achievements": {"events": 1200, "seconds": 2.5}, "erasures": {"events": 34, "seconds": 0.0}}
    status = {**PROJECTOR_STATUS, "lag": lag}
    portal.on("GET", "plr-projector/v1/admin/projector", lambda _: httpx.Response(200, json=status))
    client, _ = portal.signed_in(Role.OPERATOR, frozenset({"rebuild"}))

    shown = client.get("/ops").text

    assert "Log positions behind</h2>" in shown and 'data-figure="lag">1234</p>' in shown
    assert "Log positions behind</th>" in shown
    assert "Events behind" not in shown and "events behind" not in shown


def test_the_messages_the_projector_read_are_not_called_events_it_applied(portal: StubbedPortal) -> None:
    """Its count takes every message read: skipped ones, copies and parked ones too, not only events applied."""
    client, _ = portal.signed_in(Role.OPERATOR, frozenset({"rebuild"}))

    shown = client.get("/ops").text

    assert "Messages read from the log since the projector started: 10, whether applied, skipped" in shown
    assert "Events handled" not in shown
