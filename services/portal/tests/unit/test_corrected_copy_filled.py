"""The form of a retry with a corrected copy is filled with the poison's value, read from the service that parked
it (the bytes `lrs dlq show` saves), for an operator with the support duty the services answer values to; it names
the topic and the `lrs dlq` commands that do the same, and says plainly why a value is not shown. The value may hold
personal data: the page is not stored by a browser or a proxy, and nothing of it is logged."""

from __future__ import annotations

import html
import json
import re

import httpx
import pytest
import structlog
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal
from services.portal.tests.unit.test_dead_letter_page import answering, listed, notifier_parks

import lrs_platform.http
from lrs_contracts.codes import ProblemCode
from lrs_platform.identity import OperatorScope
from portal.accounts import Role

NOTIFIER_DLQ = "notifier/v1/admin/dlq"
PROJECTOR_DLQ = "plr-projector/v1/admin/dlq"
ULN = "1000000043"
# what the notifier parked: an envelope whose payload names a learner, as a real one may
VALUE = {"event_type": "lrs.batch.completed.v1", "event_id": "e-1", "payload": {"batch_id": "b-1", "uln": ULN}}
JSON = {"content-type": "application/json"}
SUPPORT_AND_DEAD_LETTERS = frozenset({OperatorScope.SUPPORT.value, OperatorScope.DEAD_LETTERS.value})


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def filled(page: str) -> str:
    found = re.search(r'<textarea[^>]*name="replacement"[^>]*>(.*?)</textarea>', page, re.DOTALL)
    assert found is not None, "the form has its textarea"
    return html.unescape(found.group(1))


def hint(page: str) -> str:
    found = re.search(r"<div id=\"replacement-hint\"[^>]*>(.*?)</div>", page, re.DOTALL)
    assert found is not None
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).split())


def notifier_value(portal: StubbedPortal, answer: httpx.Response) -> None:
    notifier_parks(portal, listed(1, "poisoned"), listed(2, "poisoned", reason="blocked", error=None))
    portal.on("GET", f"{NOTIFIER_DLQ}/1/value", lambda _: answer)


@pytest.mark.parametrize("duties", [frozenset(), SUPPORT_AND_DEAD_LETTERS])
def test_the_form_is_filled_with_the_poisons_value_ready_to_mend(portal: StubbedPortal, duties: frozenset[str]) -> None:
    client, _ = portal.signed_in(Role.OPERATOR, duties)
    notifier_value(portal, httpx.Response(200, content=json.dumps(VALUE).encode(), headers=JSON))

    asking = client.get("/ops/dead-letters/notifier/1/replace")

    assert asking.status_code == 200
    assert json.loads(filled(asking.text)) == VALUE
    assert filled(asking.text) == json.dumps(VALUE, indent=2)  # indented, as `lrs dlq show --output` saves it
    said = hint(asking.text)
    assert "The form is filled with the poison's value as notifier read it from lrs.batch.outcomes.v1: mend it." in said
    assert "lrs dlq show 1 --service notifier --output FILE saves the value to a file to mend" in said
    assert "lrs dlq retry 1 --service notifier --replacement FILE applies the mended file" in said
    assert "<topic>" not in html.unescape(asking.text)  # the topic named, not a placeholder
    assert "lrs.batch.outcomes.v1.dlq</code> keep the original" in asking.text
    assert asking.headers["cache-control"] == "no-store"  # a value may hold personal data


def test_an_operator_without_the_support_duty_is_told_why_and_no_value_is_asked_for(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR, frozenset({OperatorScope.DEAD_LETTERS.value}))
    notifier_value(portal, httpx.Response(200, content=json.dumps(VALUE).encode(), headers=JSON))

    asking = client.get("/ops/dead-letters/notifier/1/replace")

    assert asking.status_code == 200
    assert filled(asking.text) == ""
    assert "reading a parked message's value needs the “support” duty, which your account does not have" in hint(
        asking.text
    )
    assert "lrs dlq show 1 --service notifier --output FILE" in hint(asking.text)
    assert not portal.sent_to("GET", f"{NOTIFIER_DLQ}/1/value")


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (
            httpx.Response(200, content=b"\x00\xff not json", headers={"content-type": "application/octet-stream"}),
            "Its value is not text (11 bytes that are not printable UTF-8), so it is not shown here.",
        ),
        (
            httpx.Response(200, content=b'{"bad": "nul \x00"}', headers={"content-type": "application/octet-stream"}),
            "Its value is not text (16 bytes that are not printable UTF-8), so it is not shown here.",
        ),
        (  # a service older than its code answered the title alone
            httpx.Response(404, json={"title": "No value kept", "detail": "parked message 1 had no value"}),
            "It has no value (a tombstone): there is nothing to mend, so skip it instead.",
        ),
        (  # the code says it, whatever the title's words
            httpx.Response(
                404,
                json={
                    "title": "This message kept no bytes",
                    "detail": "parked message 1 had no value",
                    "code": ProblemCode.PARKED_VALUE_NOT_KEPT,
                },
            ),
            "It has no value (a tombstone): there is nothing to mend, so skip it instead.",
        ),
        (
            httpx.Response(403, json={"title": "Forbidden", "detail": "this route needs support"}),
            "Its value could not be read: this route needs support",
        ),
    ],
)
def test_a_value_the_form_cannot_hold_is_said_plainly_instead(
    portal: StubbedPortal, answer: httpx.Response, says: str
) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    notifier_value(portal, answer)

    asking = client.get("/ops/dead-letters/notifier/1/replace")

    assert asking.status_code == 200
    assert filled(asking.text) == ""
    assert says in hint(asking.text)
    assert "The form is filled" not in asking.text
    assert "lrs dlq show 1 --service notifier --output FILE" in hint(asking.text)


def test_text_that_is_not_json_is_filled_as_it_is_to_mend(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    truncated = '{"event_type": "lrs.batch.completed.v1", "payload": {'
    notifier_value(portal, httpx.Response(200, content=truncated.encode()))

    assert filled(client.get("/ops/dead-letters/notifier/1/replace").text) == truncated


def test_a_copy_refused_keeps_what_was_typed_not_the_value(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    notifier_value(portal, httpx.Response(200, content=json.dumps(VALUE).encode(), headers=JSON))

    answer = client.post("/ops/dead-letters/notifier/1/replace", data=form(operator, replacement="[1]"))

    assert answer.status_code == 400
    assert filled(answer.text) == "[1]"
    assert not portal.sent_to("GET", f"{NOTIFIER_DLQ}/1/value")  # not read again once a copy was typed


def test_nothing_of_the_value_is_logged(portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    notifier_value(portal, httpx.Response(200, content=json.dumps(VALUE).encode(), headers=JSON))
    # a logger that earlier tests used is cached with the processors of then, which capture_logs cannot replace
    monkeypatch.setattr(lrs_platform.http, "_log", structlog.get_logger("lrs.http"))

    with structlog.testing.capture_logs() as logs:
        asking = client.get("/ops/dead-letters/notifier/1/replace")

    assert ULN in asking.text
    assert logs, "the page's request is logged"
    assert ULN not in repr(logs) and "b-1" not in repr(logs)


def projector_parks(portal: StubbedPortal, *topics: str) -> None:
    rows = [
        {"topic": topic, "partition": 1, "offset": 7 + number, "learner": ULN, "reason": "error", "error": "bad"}
        | {"event_id": None, "event_type": None, "attempts": 1, "parked_at": "2026-12-01T10:00:00+00:00"}
        for number, topic in enumerate(topics)
    ]
    portal.on("GET", PROJECTOR_DLQ, answering({"parked": rows, "total": len(rows)}))


def projector_value(request: httpx.Request) -> httpx.Response:
    topic = request.url.params["topic"]
    return httpx.Response(200, content=json.dumps({"topic_read": topic, "payload": {"uln": ULN}}).encode())


def test_the_projectors_poison_is_read_by_learner_and_topic(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    projector_parks(portal, "lrs.plr.events.v1")
    portal.on("GET", f"{PROJECTOR_DLQ}/{ULN}/value", projector_value)

    asking = client.get("/ops/dead-letters/plr-projector/lrs.plr.events.v1%3A1%3A7/replace")

    assert json.loads(filled(asking.text))["topic_read"] == "lrs.plr.events.v1"
    (sent,) = portal.sent_to("GET", f"{PROJECTOR_DLQ}/{ULN}/value")
    assert sent.url.params["topic"] == "lrs.plr.events.v1"
    assert f"lrs dlq show {ULN} --topic lrs.plr.events.v1 --output FILE" in hint(asking.text)
    assert "as plr-projector read it from lrs.plr.events.v1: mend it" in hint(asking.text)


def test_with_poison_on_several_topics_each_value_is_shown_beside_its_topic(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    projector_parks(portal, "lrs.plr.events.v1", "lrs.challenges.v1")
    portal.on("GET", f"{PROJECTOR_DLQ}/{ULN}/value", projector_value)

    asking = client.get("/ops/dead-letters/plr-projector/lrs.plr.events.v1%3A1%3A7/replace")

    assert filled(asking.text) == ""  # the operator picks the topic, then mends its value
    shown = [html.unescape(value) for value in re.findall(r"<pre[^>]*>(.*?)</pre>", asking.text, re.DOTALL)]
    assert [json.loads(value)["topic_read"] for value in shown] == ["lrs.plr.events.v1", "lrs.challenges.v1"]
    assert "Each poison's value is shown above: copy the one on the topic you select" in hint(asking.text)
    assert f"lrs dlq show {ULN} --topic lrs.challenges.v1 --output FILE" in asking.text


def test_the_history_counts_the_projectors_duplicates(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    retry = {
        "action": "retry",
        "operator": "operator:ops",
        "reason": None,
        "replaced": True,
        "consumer": "plr-projector",
        "topic": "lrs.plr.events.v1",
        "partition": 1,
        "offset": 12,
        "event_id": None,
        "event_type": None,
        "applied": 0,
        "duplicates": 2,
        "skipped": 0,
        "still_parked": 0,
        "acted_at": "2026-12-04T18:25:00+00:00",
    }
    portal.on("GET", f"{PROJECTOR_DLQ}/actions", answering({"actions": [retry]}))
    portal.on("GET", f"{NOTIFIER_DLQ}/actions", answering({"actions": [retry | {"duplicates": None}]}))

    said = " ".join(client.get("/ops/dead-letters/history").text.split())

    assert "applied 0, duplicates 2, skipped 0, still parked 0" in said
    assert said.count("duplicates") == 1  # a service that does not count them says nothing of them
