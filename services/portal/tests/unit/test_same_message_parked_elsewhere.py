"""Each service reading a topic parks its poison on its own: the projector and the challenges service both read the
PLR log, so one bad event is parked in both. A skip or retry acts in one service only, so its confirmation (and what
the page says after it) names the other services holding the same message (topic:partition:offset) parked, from the
listing the dead-letter page gathers of every service, with a way to handle each there too."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, confirmed_on, form, shown_after, stubbed_portal

from portal.accounts import Role

PROJECTOR_DLQ = "plr-projector/v1/admin/dlq"
CHALLENGES_DLQ = "challenges/v1/admin/dlq"
REPORTING_DLQ = "reporting/v1/admin/dlq"
ULN = "1000000043"
TOPIC = "lrs.plr.events.v1"
PLACE = f"{TOPIC}%3A3%3A26"  # lrs.plr.events.v1:3:26, as the page quotes it


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def in_projector(offset: int = 26) -> dict[str, Any]:
    """The poison as the projector lists it: by learner and place, no row number."""
    return {
        "topic": TOPIC,
        "partition": 3,
        "offset": offset,
        "learner": ULN,
        "reason": "error",
        "error": "invalid: event_id: Field required",
        "event_id": None,
        "event_type": None,
        "attempts": 1,
        "parked_at": "2026-12-05T15:20:00+00:00",
    }


def in_parking(service: str, parked_id: int, offset: int = 26) -> dict[str, Any]:
    """The same message as lrs_platform.parking_api lists it in another service."""
    return {
        "id": parked_id,
        "consumer": service,
        "topic": TOPIC,
        "partition": 3,
        "offset": offset,
        "key": ULN,
        "reason": "error",
        "error": "invalid: event_id: Field required",
        "attempts": 3,
        "parked_at": "2026-12-05T15:20:01+00:00",
    }


def listing(*rows: dict[str, Any]) -> Any:
    return lambda _: httpx.Response(200, json={"parked": list(rows), "total": len(rows)})


def also_said(page: str) -> str | None:
    found = re.search(r'<div class="govuk-inset-text" data-also-parked="[^"]*">.*?</div>', page, re.DOTALL)
    return found.group(0) if found else None


def test_the_skip_confirmation_names_the_other_services_holding_the_message_parked(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    portal.on("GET", PROJECTOR_DLQ, listing(in_projector()))
    portal.on("GET", CHALLENGES_DLQ, listing(in_parking("challenges", 12)))
    portal.on("GET", REPORTING_DLQ, listing(in_parking("reporting", 5, offset=27)))  # another message: not named

    confirming = client.get(f"/ops/dead-letters/plr-projector/{PLACE}/skip")

    assert confirming.status_code == 200
    said = also_said(confirming.text)
    assert said is not None, "the confirmation says the message is parked in challenges too"
    assert 'data-also-parked="challenges"' in said
    assert "The same message is also parked in challenges" in said and "this acts in plr-projector only" in said
    assert f"{ULN} on {TOPIC} 3:26" in said
    assert 'href="/ops/dead-letters/challenges/12/skip"' in said  # where it is handled there
    assert "reporting" not in said


def test_a_message_parked_in_no_other_service_is_said_as_before(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    portal.on("GET", PROJECTOR_DLQ, listing(in_projector()))
    portal.on("GET", CHALLENGES_DLQ, listing(in_parking("challenges", 12, offset=30)))

    confirming = client.get(f"/ops/dead-letters/plr-projector/{PLACE}/skip")

    assert confirming.status_code == 200 and also_said(confirming.text) is None


def test_the_skip_in_another_service_names_the_projectors_copy(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    portal.on("GET", PROJECTOR_DLQ, listing(in_projector()))
    portal.on("GET", CHALLENGES_DLQ, listing(in_parking("challenges", 12)))
    portal.on("GET", f"{CHALLENGES_DLQ}/12", listing(in_parking("challenges", 12)))
    portal.on("GET", REPORTING_DLQ, listing(in_parking("reporting", 5)))

    confirming = client.get("/ops/dead-letters/challenges/12/skip")

    said = also_said(confirming.text)
    assert said is not None and 'data-also-parked="plr-projector reporting"' in said
    assert "also parked in plr-projector and reporting" in said and "this acts in challenges only" in said
    assert f'href="/ops/dead-letters/plr-projector/{PLACE}/skip"' in said  # by its place, never its learner
    assert 'href="/ops/dead-letters/reporting/5/skip"' in said


def test_the_corrected_copy_form_names_them_too(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    portal.on("GET", PROJECTOR_DLQ, listing(in_projector()))
    portal.on("GET", CHALLENGES_DLQ, listing(in_parking("challenges", 12)))

    asking = client.get(f"/ops/dead-letters/plr-projector/{PLACE}/replace")

    said = also_said(asking.text)
    assert said is not None and 'data-also-parked="challenges"' in said


@pytest.mark.parametrize("action", ["skip", "retry"])
def test_after_a_skip_or_retry_the_page_says_the_message_is_still_parked_elsewhere(
    portal: StubbedPortal, action: str
) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    portal.on("GET", PROJECTOR_DLQ, listing(in_projector()))
    portal.on("GET", CHALLENGES_DLQ, listing(in_parking("challenges", 12)))
    result = {"topic": TOPIC, "learner": ULN, "applied": 0, "skipped": 1, "still_parked": 0, "error": None}
    portal.on("POST", f"{PROJECTOR_DLQ}/{ULN}/{action}", lambda _: httpx.Response(200, json={"results": [result]}))
    sent = {"reason": "bad event", "confirmed": ""} if action == "skip" else {}
    if action == "skip":
        sent["confirmed"] = confirmed_on(client.get(f"/ops/dead-letters/plr-projector/{PLACE}/skip").text)

    answer = client.post(f"/ops/dead-letters/plr-projector/{PLACE}/{action}", data=form(operator, **sent))
    portal.on("GET", PROJECTOR_DLQ, listing())  # gone from the projector, still in challenges
    shown = shown_after(client, answer)

    said = also_said(shown.text)
    assert said is not None and 'data-also-parked="challenges"' in said
    assert "The same message is still parked in challenges" in said
    assert f"the {action} in plr-projector did not touch it" in said
