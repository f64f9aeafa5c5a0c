"""The operators' dead-letter page: what it lists, what a retry or skip did as the service answers it (as
`lrs dlq` reads the answer), and a skip only after a confirmation with a reason."""

from __future__ import annotations

import html
import json
from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import (
    StubbedPortal,
    confirmed_on,
    form,
    problem,
    shown_after,
    stubbed_portal,
)
from services.portal.tests.unit.test_batch_pages import page

from portal.accounts import Role
from portal.web.operator_pages import ParkedIn, parked_name, replay_outcome

NOTIFIER_DLQ = "notifier/v1/admin/dlq"
PROJECTOR_DLQ = "plr-projector/v1/admin/dlq"
ULN = "1000000043"
JSON_ERROR = "JSONDecodeError: Expecting value: line 1 column 1 (char 0)"


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def parked(offset: int) -> dict[str, Any]:
    row = {
        "key": f"batch-{offset}",
        "handle": str(offset),
        "topic": "lrs.batch.outcomes.v1",
        "partition": 0,
        "offset": offset,
        "reason": "error",
        "error": "unreadable",
        "parked_at": "2026-12-01T10:00:00Z",
    }
    return row | {"named": parked_name(row)}


def listed(parked_id: int, key: str, reason: str = "error", error: str | None = JSON_ERROR) -> dict[str, Any]:
    """A parked message as lrs_platform.parking_api lists it."""
    return {
        "id": parked_id,
        "consumer": "notifier",
        "topic": "lrs.batch.outcomes.v1",
        "partition": 0,
        "offset": 40 + parked_id,
        "key": key,
        "reason": reason,
        "error": error,
        "attempts": 3,
        "event_id": None,
        "event_type": None,
        "parked_at": "2026-12-01T10:00:00+00:00",
    }


def replayed(*, applied: int, skipped: int = 0, still_parked: int, error: str | None) -> httpx.Response:
    """The answer of `POST /v1/admin/dlq/{id}/retry|skip` (lrs_platform.parking.ReplayResult.view)."""
    result = {
        "consumer": "notifier",
        "topic": "lrs.batch.outcomes.v1",
        "key": "poisoned",
        "applied": applied,
        "skipped": skipped,
        "still_parked": still_parked,
        "error": error,
    }
    return httpx.Response(200, json={"results": [result]})


def notifier_parks(portal: StubbedPortal, *rows: dict[str, Any]) -> None:
    """The notifier's listing of `rows`, and each one's stream (`GET /v1/admin/dlq/{id}`: the rows of its key)."""
    portal.on("GET", NOTIFIER_DLQ, lambda _: httpx.Response(200, json={"parked": list(rows), "total": len(rows)}))
    for row in rows:
        stream = [other for other in rows if other["key"] == row["key"]]
        portal.on("GET", f"{NOTIFIER_DLQ}/{row['id']}", answering({"parked": stream, "total": len(stream)}))


def answering(body: dict[str, Any]) -> Any:
    return lambda _: httpx.Response(200, json=body)


def test_a_listing_cut_short_says_how_many_are_parked_in_all() -> None:
    html = page(
        "ops_dead_letters.html",
        by_service=[ParkedIn("ingest", [parked(1), parked(2)], 12_345, None), ("notifier", [parked(3)], 1, None)],
        outcome=None,
        refusal=None,
        skipping=None,
        errors={},
        current_path="/ops/dead-letters",
    )

    assert "Parked messages of ingest: the first 2 of 12,345" in html
    assert 'data-parked-more="ingest">12,343 more are parked.' in html
    assert "lrs dlq list --service ingest --key KEY" in html
    assert 'data-parked-more="notifier"' not in html and "Parked messages of notifier<" in html


def test_a_retry_that_leaves_the_message_parked_says_so_with_the_first_error(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    notifier_parks(portal, listed(1, "poisoned"))
    portal.on("POST", f"{NOTIFIER_DLQ}/1/retry", lambda _: replayed(applied=0, still_parked=1, error=JSON_ERROR))

    answer = client.post("/ops/dead-letters/notifier/1/retry", data=form(operator))
    shown = shown_after(client, answer)
    reloaded = client.get("/ops/dead-letters")

    assert answer.headers["location"] == "/ops/dead-letters"
    banner = shown.text.split("data-outcome=", 1)[1].split("</div>\n</div>", 1)[0]
    assert banner.startswith('"still-parked"')
    assert (
        "Retry of notifier key poisoned: 1 message still parked. First error: JSONDecodeError: Expecting value"
        in banner
    )
    assert "notifier lrs.batch.outcomes.v1: applied 0, skipped 0, still parked 1" in banner
    assert "Done" not in banner and "stream(s) handled" not in shown.text
    assert "data-outcome" not in reloaded.text  # said once


def test_a_retry_that_applies_everything_says_so(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    notifier_parks(portal)
    portal.on("POST", f"{NOTIFIER_DLQ}/1/retry", lambda _: replayed(applied=2, still_parked=0, error=None))

    shown = shown_after(client, client.post("/ops/dead-letters/notifier/1/retry", data=form(operator)))

    assert 'data-outcome="applied"' in shown.text
    assert "Retry of notifier key poisoned: 2 messages applied; nothing is still parked" in shown.text
    assert "First error" not in shown.text
    (sent,) = portal.sent_to("POST", f"{NOTIFIER_DLQ}/1/retry")
    assert sent.content == b""  # no body, as `lrs dlq retry` sends


def test_skip_is_a_link_to_a_confirmation_that_says_what_is_dropped_and_asks_why(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    notifier_parks(portal, listed(1, "poisoned"), listed(2, "poisoned", reason="blocked", error=None))

    listing = client.get("/ops/dead-letters")
    confirming = client.get("/ops/dead-letters/notifier/1/skip")

    assert 'action="/ops/dead-letters/notifier/1/skip"' not in listing.text  # no form that skips at once
    assert 'href="/ops/dead-letters/notifier/1/skip" role="button"' in listing.text
    assert confirming.status_code == 200
    assert '<h1 class="govuk-heading-l">Skip the poison of key poisoned in notifier?</h1>' in confirming.text
    assert "dropped for good" in confirming.text and "The 1 message held behind it is then applied" in confirming.text
    assert "lrs.batch.outcomes.v1 0:41" in confirming.text and JSON_ERROR in confirming.text
    assert 'action="/ops/dead-letters/notifier/1/skip"' in confirming.text and 'name="reason"' in confirming.text
    assert not [request for request in portal.sent if request.method == "POST"]


def test_a_skip_finds_its_message_however_many_are_listed_before_it(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    first_500 = [listed(parked_id, f"batch-{parked_id}") for parked_id in range(1, 501)]
    portal.on("GET", NOTIFIER_DLQ, answering({"parked": first_500, "total": 502}))
    stream = [listed(9001, "late"), listed(9002, "late", reason="blocked", error=None)]
    portal.on("GET", f"{NOTIFIER_DLQ}/9002", answering({"parked": stream, "total": 2}))

    confirming = client.get("/ops/dead-letters/notifier/9002/skip")

    assert confirming.status_code == 200
    assert "Skip the poison of key late in notifier?" in confirming.text
    assert "The message you chose (late on lrs.batch.outcomes.v1 0:9042) waits behind it" in confirming.text
    assert "The 1 message held behind it is then applied" in confirming.text


@pytest.mark.parametrize(
    ("reason", "says"),
    [
        ("", "Say why the message is dropped"),
        ("   ", "Say why the message is dropped"),
        ("x" * 501, "The reason must be 500 characters or fewer"),
        ("re-sent\x00", "The reason holds the control character U+0000"),
    ],
)
def test_a_skip_without_a_good_reason_is_refused_and_nothing_is_dropped(
    portal: StubbedPortal, reason: str, says: str
) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    notifier_parks(portal, listed(1, "poisoned"))

    answer = client.post("/ops/dead-letters/notifier/1/skip", data=form(operator, reason=reason))

    assert answer.status_code == 400
    assert f'href="#reason">{says}' in answer.text
    assert "Skip the poison of key poisoned in notifier?" in answer.text  # still the confirmation
    assert not portal.sent_to("POST", f"{NOTIFIER_DLQ}/1/skip")


def test_a_confirmed_skip_sends_the_reason_as_lrs_dlq_skip_does_and_says_what_it_did(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    notifier_parks(portal, listed(1, "poisoned"))
    portal.on("POST", f"{NOTIFIER_DLQ}/1/skip", lambda _: replayed(applied=1, skipped=1, still_parked=0, error=None))

    confirming = client.get("/ops/dead-letters/notifier/1/skip")
    answer = client.post(
        "/ops/dead-letters/notifier/1/skip",
        data=form(operator, reason="  batch re-sent  ", confirmed=confirmed_on(confirming.text)),
    )
    shown = shown_after(client, answer)

    (sent,) = portal.sent_to("POST", f"{NOTIFIER_DLQ}/1/skip")
    assert json.loads(sent.content) == {"reason": "batch re-sent"}
    assert 'data-outcome="skipped"' in shown.text
    assert "Skip of notifier key poisoned: the poison was dropped and the 1 message behind it applied" in shown.text
    assert "applied 1, skipped 1, still parked 0" in shown.text


NOT_PARKED = (
    "That message is not parked in notifier now: it may have been retried or skipped (every retry and skip made is in"
    " the history, linked below), or the link names no parked message."
)


def test_a_message_no_longer_parked_is_said_to_be_gone_in_the_pages_own_words(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    notifier_parks(portal)
    portal.on("POST", f"{NOTIFIER_DLQ}/1/retry", lambda _: problem(404, "no parked message 1"))

    confirming = client.get("/ops/dead-letters/notifier/1/skip")
    retried = client.post("/ops/dead-letters/notifier/1/retry", data=form(operator))

    for answer in (confirming, retried):
        assert answer.status_code == 404
        assert NOT_PARKED in html.unescape(answer.text)
        assert '<h1 class="govuk-heading-l">Dead letters</h1>' in answer.text


@pytest.mark.parametrize("action", ["skip", "retry"])
def test_a_handle_that_never_was_parked_is_not_said_to_have_been_retried_or_skipped(
    portal: StubbedPortal, action: str
) -> None:
    """A stale or mistyped link: the portal knows only that nothing is parked under it now, not what happened to it."""
    client, operator = portal.signed_in(Role.OPERATOR)
    notifier_parks(portal, listed(1, "poisoned"))
    portal.on("POST", f"{NOTIFIER_DLQ}/999/retry", lambda _: problem(404, "no parked message 999"))

    answer = (
        client.get("/ops/dead-letters/notifier/999/skip")
        if action == "skip"
        else client.post("/ops/dead-letters/notifier/999/retry", data=form(operator))
    )

    assert answer.status_code == 404
    shown = html.unescape(answer.text)
    assert NOT_PARKED in shown
    assert "already" not in shown and "no longer" not in shown  # history the portal does not know
    assert '<a class="govuk-link" href="/ops/dead-letters/history">Every retry and skip made</a>' in answer.text


def test_a_retry_the_service_refuses_shows_its_refusal(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    notifier_parks(portal, listed(1, "poisoned"))
    portal.on("POST", f"{NOTIFIER_DLQ}/1/retry", lambda _: problem(409, "notifier cannot apply a parked message again"))

    answer = client.post("/ops/dead-letters/notifier/1/retry", data=form(operator))

    assert answer.status_code == 409
    assert '<p class="govuk-body" data-refusal>notifier cannot apply a parked message again</p>' in answer.text


@pytest.mark.parametrize(
    "path",
    [
        "/ops/dead-letters/notifier/first/skip",
        "/ops/dead-letters/elsewhere/1/skip",
        "/ops/dead-letters/notifier/1/drop",
    ],
)
def test_a_handle_or_service_no_listing_gives_is_not_found_and_nothing_is_sent(
    portal: StubbedPortal, path: str
) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)

    answer = client.post(path, data=form(operator, reason="because"))

    assert answer.status_code == 404
    assert not [request for request in portal.sent if request.method == "POST"]


def test_no_words_from_the_address_are_shown_as_an_outcome(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    notifier_parks(portal)

    shown = client.get("/ops/dead-letters?done=All+learner+records+were+erased&outcome=x")

    assert shown.status_code == 200
    assert "All learner records were erased" not in shown.text
    assert "data-outcome" not in shown.text and "Done" not in shown.text


def test_an_outcome_counts_every_stream_and_keeps_the_first_error() -> None:
    results = [
        {"topic": "a", "applied": 2, "duplicates": 1, "skipped": 0, "still_parked": 0, "error": None},
        {"topic": "b", "applied": 0, "skipped": 0, "still_parked": 3, "error": "ValueError: " + "x" * 400},
    ]

    outcome = replay_outcome("retry", "plr-projector", ULN, results)

    assert (outcome["applied"], outcome["still_parked"]) == (2, 3)
    assert outcome["first_error"] == ("ValueError: " + "x" * 400)[:300]
    assert [stream["source"] for stream in outcome["streams"]] == ["a", "b"]
    assert replay_outcome("retry", "notifier", "1", [])["still_parked"] == 0


ENVELOPE = {"event_type": "lrs.batch.completed.v1", "event_id": "e-1", "payload": {"batch_id": "b-1"}}


def test_a_retry_with_a_corrected_copy_sends_the_copy_as_lrs_dlq_retry_does(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    notifier_parks(portal, listed(1, "poisoned"), listed(2, "poisoned", reason="blocked", error=None))
    portal.on("POST", f"{NOTIFIER_DLQ}/1/retry", lambda _: replayed(applied=2, still_parked=0, error=None))

    listing = client.get("/ops/dead-letters")
    asking = client.get("/ops/dead-letters/notifier/1/replace")
    answer = client.post("/ops/dead-letters/notifier/1/replace", data=form(operator, replacement=json.dumps(ENVELOPE)))
    shown = shown_after(client, answer)

    assert 'href="/ops/dead-letters/notifier/1/replace"' in listing.text
    assert "Retry the poison of key poisoned in notifier with a corrected copy" in asking.text
    assert "then the\n1 message held behind it" in asking.text and 'name="replacement"' in asking.text
    (sent,) = portal.sent_to("POST", f"{NOTIFIER_DLQ}/1/retry")
    assert json.loads(sent.content) == {"replacement": ENVELOPE}
    assert (
        "Retry with a corrected copy of notifier key poisoned: 2 messages applied; nothing is still parked"
        in shown.text
    )


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "Enter the corrected copy of the message, as JSON"),
        ("{'single': 'quotes'}", "The copy is not JSON (Expecting property name enclosed in double quotes"),
        ("[1, 2]", "The copy must be a JSON object"),
        ("x" * 1_000_001, "The copy must be 1,000,000 characters or fewer"),
        ("[" * 100_000 + "]" * 100_000, "The copy nests arrays or objects too deeply to read"),
    ],
)
def test_a_copy_that_is_not_a_json_object_is_refused_and_nothing_is_retried(
    portal: StubbedPortal, typed: str, says: str
) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    notifier_parks(portal, listed(1, "poisoned"))

    answer = client.post("/ops/dead-letters/notifier/1/replace", data=form(operator, replacement=typed))

    assert answer.status_code in (400, 413)
    assert f'href="#replacement">{says}' in answer.text
    assert "with a corrected copy" in answer.text  # still the form, with what was typed unless too large
    assert not portal.sent_to("POST", f"{NOTIFIER_DLQ}/1/retry")


def test_a_copy_the_service_refuses_is_shown_with_its_words_on_the_form(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    notifier_parks(portal, listed(1, "poisoned"))
    portal.on("POST", f"{NOTIFIER_DLQ}/1/retry", lambda _: problem(409, "notifier.mail cannot apply it again"))

    answer = client.post("/ops/dead-letters/notifier/1/replace", data=form(operator, replacement="{}"))

    assert answer.status_code == 409
    assert "notifier refused the copy: notifier.mail cannot apply it again" in answer.text
    assert "{}</textarea>" in answer.text


def test_validations_parked_batches_offer_skip_only() -> None:
    """A batch validation gave up on is never decided again from its marker (retry answers 409)."""
    row = parked(5) | {"id": 5}
    html = page(
        "ops_dead_letters.html",
        by_service=[ParkedIn("validation", [row], 1, None), ParkedIn("ingest", [row], 1, None)],
        outcome=None,
        refusal=None,
        skipping=None,
        reason="",
        errors={},
        max_reason=500,
    )
    assert 'href="/ops/dead-letters/validation/5/skip"' in html
    assert 'action="/ops/dead-letters/validation/5/retry"' not in html
    assert 'href="/ops/dead-letters/validation/5/replace"' not in html
    assert 'action="/ops/dead-letters/ingest/5/retry"' in html


def test_every_retry_and_skip_made_is_listed_newest_first_with_who_why_and_what_followed(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    skip = {
        "action": "skip",
        "operator": "operator:ops",
        "reason": "a duplicate batch",
        "replaced": False,
        "consumer": "notifier",
        "topic": "lrs.batch.outcomes.v1",
        "partition": 3,
        "offset": 41,
        "event_id": None,
        "event_type": None,
        "applied": 1,
        "skipped": 1,
        "still_parked": 0,
        "acted_at": "2026-12-04T18:20:05+00:00",
    }
    retry = {**skip, "action": "retry", "reason": None, "replaced": True, "skipped": 0, "consumer": "ingest.batch-view"}
    retry["acted_at"] = "2026-12-04T18:25:00+00:00"
    portal.on("GET", f"{NOTIFIER_DLQ}/actions", answering({"actions": [skip]}))
    portal.on("GET", "ingest/v1/admin/dlq/actions", answering({"actions": [retry]}))
    portal.on("GET", "validation/v1/admin/dlq/actions", lambda _: problem(503, "away"))
    skipped_poison = {**skip, "consumer": "plr-projector", "topic": "lrs.plr.events.v1", "offset": 977}
    skipped_poison |= {"reason": "test message sent to production", "acted_at": "2026-12-04T18:10:00+00:00"}
    portal.on("GET", f"{PROJECTOR_DLQ}/actions", answering({"actions": [skipped_poison]}))

    shown = client.get("/ops/dead-letters/history")

    assert shown.status_code == 200
    said = " ".join(shown.text.split())
    assert said.index("Retry with a corrected copy") < said.index("a duplicate batch")  # newest first
    assert "notifier: notifier, lrs.batch.outcomes.v1 3:41" in said and "applied 1, skipped 1, still parked 0" in said
    assert "Not shown: validation did not answer." in said
    assert said.index("a duplicate batch") < said.index("test message sent to production")  # the projector's too
    assert 'href="/ops/dead-letters/history"' in client.get("/ops/dead-letters").text


def test_every_services_buttons_name_the_message_by_its_key_and_place_on_the_log(portal: StubbedPortal) -> None:
    """Not by the number a service gave its parked row, which an operator never sees anywhere else."""
    client, _ = portal.signed_in(Role.OPERATOR)
    notifier_parks(portal, listed(7, "batch-7f3a"), listed(8, "", reason="error"))
    learner = {
        "learner": ULN,
        "topic": "lrs.plr.events.v1",
        "partition": 2,
        "offset": 977,
        "reason": "error",
        "error": "KeyError",
    }
    portal.on(
        "GET", PROJECTOR_DLQ, answering({"parked": [learner | {"parked_at": "2026-12-01T10:00:00Z"}], "total": 1})
    )

    shown = client.get("/ops/dead-letters").text
    notifier = shown[shown.index('data-table="dlq-notifier"') :]
    notifier = notifier[: notifier.index("</table>")]
    projector = shown[shown.index('data-table="dlq-plr-projector"') :]

    hidden = '<span class="govuk-visually-hidden">'
    assert f"Retry{hidden} batch-7f3a on lrs.batch.outcomes.v1 0:47</span>" in notifier
    assert f"Skip{hidden} batch-7f3a on lrs.batch.outcomes.v1 0:47</span>" in notifier
    assert f"Retry with a corrected copy{hidden} of batch-7f3a on lrs.batch.outcomes.v1 0:47</span>" in notifier
    assert f"Skip{hidden} lrs.batch.outcomes.v1 0:48 (no key)</span>" in notifier
    assert f"{hidden} 7</span>" not in notifier and f"{hidden} of 7</span>" not in notifier
    assert f"Retry{hidden} {ULN} on lrs.plr.events.v1 2:977</span>" in projector
    assert 'action="/ops/dead-letters/notifier/7/retry"' in notifier  # still acted on by the service's own handle


def test_the_history_names_each_message_by_its_event_as_well_as_its_place(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    retry = {
        "action": "retry",
        "operator": "operator:ops",
        "reason": None,
        "replaced": False,
        "consumer": "reporting",
        "topic": "lrs.batch.outcomes.v1",
        "partition": 1,
        "offset": 12,
        "event_id": "0b7e6c2e-1d4f-4a52-9a53-5c3c8e1f0a77",
        "event_type": "lrs.batch.completed.v1",
        "applied": 1,
        "skipped": 0,
        "still_parked": 0,
        "acted_at": "2026-12-04T18:25:00+00:00",
    }
    portal.on("GET", "reporting/v1/admin/dlq/actions", answering({"actions": [retry]}))

    said = " ".join(client.get("/ops/dead-letters/history").text.split())

    assert "reporting: reporting, lrs.batch.outcomes.v1 1:12" in said
    assert "event lrs.batch.completed.v1 0b7e6c2e-1d4f-4a52-9a53-5c3c8e1f0a77" in said
    assert "without the message's key, which may be a learner's ULN" in said
