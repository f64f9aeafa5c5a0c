"""The projector's parked events are named in the portal's addresses by their place on the log, never by the
learner whose stream they hold up (its key, a ULN): addresses stay in browser history and access logs. The learner
is found from the place and sent to the projector only, as `lrs dlq` names the stream."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, confirmed_on, form, shown_after, stubbed_portal

from portal.accounts import Role

PROJECTOR_DLQ = "plr-projector/v1/admin/dlq"
ULN = "1000000043"
PLACE = "lrs.plr.v1%3A1%3A7"  # lrs.plr.v1:1:7, as the page quotes it


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def parked(topic: str, offset: int, reason: str = "error", error: str | None = "bad") -> dict[str, Any]:
    """A parked event as the projector lists it (plr_projector.dead_letters.parked_view): no row number."""
    return {"topic": topic, "partition": 1, "offset": offset, "learner": ULN, "reason": reason, "error": error} | {
        "event_id": None,
        "event_type": None,
        "attempts": 1,
        "parked_at": "2026-12-01T10:00:00+00:00",
    }


def answering(body: dict[str, Any]) -> Any:
    return lambda _: httpx.Response(200, json=body)


def test_the_dead_letter_page_names_the_projectors_poison_by_its_place_not_its_learner(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    portal.on("GET", PROJECTOR_DLQ, answering({"parked": [parked("lrs.plr.v1", 7)], "total": 1}))

    shown = client.get("/ops/dead-letters")

    assert f'action="/ops/dead-letters/plr-projector/{PLACE}/retry"' in shown.text
    assert f'href="/ops/dead-letters/plr-projector/{PLACE}/skip"' in shown.text
    assert f'href="/ops/dead-letters/plr-projector/{PLACE}/replace"' in shown.text
    assert f"/{ULN}/" not in shown.text and f'data-parked="{ULN}"' not in shown.text
    assert f'<td class="govuk-table__cell">{ULN}</td>' in shown.text  # on the page, for the operator to read


def test_the_projectors_poison_is_skipped_by_learner_on_each_topic(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    rows = [
        parked("lrs.plr.v1", 7, "error", "KeyError: 'uln'"),
        parked("lrs.plr.v1", 8, "blocked", None),
        parked("lrs.learners.v1", 3, "error", "ValueError: no such learner"),
    ]
    portal.on("GET", PROJECTOR_DLQ, answering({"parked": rows, "total": 3}))
    results = [
        {"topic": topic, "learner": ULN, "applied": 1, "duplicates": 0, "skipped": 1, "still_parked": 0, "error": None}
        for topic in ("lrs.plr.v1", "lrs.learners.v1")
    ]
    portal.on("POST", f"{PROJECTOR_DLQ}/{ULN}/skip", answering({"results": results}))

    confirming = client.get(f"/ops/dead-letters/plr-projector/{PLACE}/skip")
    confirmed = confirmed_on(confirming.text)
    shown = shown_after(
        client,
        client.post(
            f"/ops/dead-letters/plr-projector/{PLACE}/skip", data=form(operator, reason="fixed", confirmed=confirmed)
        ),
    )

    asked = [request.url.params.get("learner") for request in portal.sent_to("GET", PROJECTOR_DLQ)]
    assert ULN in asked  # the learner's own events, not the first page of everyone's
    assert f"Skip the poison of learner {ULN} in plr-projector?" in confirming.text
    assert f'action="/ops/dead-letters/plr-projector/{PLACE}/skip"' in confirming.text
    assert "The first message on each of these 2 topics is dropped for good" in confirming.text
    assert confirming.text.count("data-dropped=") == 2
    assert json.loads(portal.sent_to("POST", f"{PROJECTOR_DLQ}/{ULN}/skip")[0].content) == {
        "reason": "fixed",
        # the poisons confirmed: the projector drops nothing parked since, though the portal's own check leaves a moment
        "heads": [
            {"topic": "lrs.plr.v1", "partition": 1, "offset": 7},
            {"topic": "lrs.learners.v1", "partition": 1, "offset": 3},
        ],
    }
    assert f"Skip of plr-projector {ULN}: the poison was dropped and the 2 messages behind it applied" in shown.text


def test_the_projectors_copy_names_the_topic_when_the_learners_poison_is_on_several(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    rows = [parked("lrs.plr.events.v1", 7), parked("lrs.challenges.v1", 3)]
    portal.on("GET", PROJECTOR_DLQ, answering({"parked": rows, "total": 2}))
    result = {"topic": "lrs.plr.events.v1", "learner": ULN, "applied": 1, "skipped": 0, "still_parked": 0}
    portal.on("POST", f"{PROJECTOR_DLQ}/{ULN}/retry", answering({"results": [result | {"error": None}]}))
    path = "/ops/dead-letters/plr-projector/lrs.plr.events.v1%3A1%3A7/replace"
    copy = json.dumps({"event_type": "lrs.plr.v1", "payload": {}})

    asking = client.get(path)
    unnamed = client.post(path, data=form(operator, replacement=copy))
    named = client.post(path, data=form(operator, replacement=copy, topic="lrs.plr.events.v1"))

    assert f"Retry the poison of learner {ULN} in plr-projector with a corrected copy" in asking.text
    assert unnamed.status_code == 400 and 'href="#topic">Select the topic' in unnamed.text
    (sent,) = portal.sent_to("POST", f"{PROJECTOR_DLQ}/{ULN}/retry")
    assert sent.url.params["topic"] == "lrs.plr.events.v1"
    assert json.loads(sent.content)["replacement"] == json.loads(copy)
    assert named.status_code == 303


def test_a_retry_of_a_place_with_nothing_parked_there_is_said_gone_and_nothing_is_retried(
    portal: StubbedPortal,
) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    portal.on("GET", PROJECTOR_DLQ, answering({"parked": [parked("lrs.plr.v1", 8)], "total": 1}))

    answer = client.post(f"/ops/dead-letters/plr-projector/{PLACE}/retry", data=form(operator))

    assert answer.status_code == 404
    assert "That message is not parked in plr-projector now" in answer.text
    assert not [request for request in portal.sent if request.method == "POST"]


@pytest.mark.parametrize("action", ["retry", "skip"])
def test_a_learner_in_the_address_is_not_found_and_nothing_is_sent(portal: StubbedPortal, action: str) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    portal.on("GET", PROJECTOR_DLQ, answering({"parked": [parked("lrs.plr.v1", 7)], "total": 1}))

    answer = client.post(f"/ops/dead-letters/plr-projector/{ULN}/{action}", data=form(operator, reason="because"))

    assert answer.status_code == 404
    assert not [request for request in portal.sent if request.method == "POST"]


def test_a_skip_drops_nothing_when_what_it_drops_changed_since_it_was_confirmed(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    portal.on("GET", PROJECTOR_DLQ, answering({"parked": [parked("lrs.plr.v1", 7)], "total": 1}))
    confirming = client.get(f"/ops/dead-letters/plr-projector/{PLACE}/skip")
    assert confirming.text.count("data-dropped=") == 1
    # meanwhile the learner's opt-out is parked too, on the learner topic: a skip would drop it unseen
    now_parked = [parked("lrs.plr.v1", 7), parked("lrs.learners.v1", 3, "error", "ValueError: no such learner")]
    portal.on("GET", PROJECTOR_DLQ, answering({"parked": now_parked, "total": 2}))

    answer = client.post(
        f"/ops/dead-letters/plr-projector/{PLACE}/skip",
        data=form(operator, reason="fixed", confirmed=confirmed_on(confirming.text)),
    )

    assert answer.status_code == 409
    assert "What this skip would drop has changed since you confirmed it" in answer.text
    assert answer.text.count("data-dropped=") == 2  # confirm again, seeing both
    assert not portal.sent_to("POST", f"{PROJECTOR_DLQ}/{ULN}/skip")
