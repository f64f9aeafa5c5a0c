"""Every time the portal shows is UK time and says so, as the maintenance pages do: in its column's header, or
"(UK time)" after it. Times here are in summer, when UK time is an hour ahead of the services' UTC."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from services.portal.tests.unit import test_batch_pages, test_challenge_pages, test_dead_letter_page
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, shown_after, stubbed_portal
from services.portal.tests.unit.test_learner_update_link import ACHIEVEMENT, ULN, answering

from portal.accounts import Role, SignInState

NOON_UTC = "2026-07-01T12:00:00Z"
NOON_SAID = "1 Jul 2026, 13:00"


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def headers(html: str, table: str = "") -> list[str]:
    """The column headers of the table `data-table="<table>"`, or of the first table."""
    head = html.split(f'data-table="{table}"' if table else "<table", 1)[1].split("</thead>", 1)[0]
    return re.findall(r'<th scope="col" class="govuk-table__header[^"]*">([^<]*)</th>', head)


def said(html: str) -> str:
    """The page's words, each element's apart."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


def test_the_batch_list_and_a_batch_page_say_their_times_are_uk_time() -> None:
    decided = test_batch_pages.batch(
        status="completed", failure_reason=None, received_at=NOON_UTC, decided_at="2026-07-01T12:01:00Z"
    )
    undecided = test_batch_pages.batch(status="validating", failure_reason=None, decided_at=None)

    listing = test_batch_pages.page("_batch_table.html", batches=[decided], caption="Batches")
    shown = said(test_batch_pages.batch_page(decided))

    assert headers(listing, "batches")[1] == "Received (UK time)"
    assert f'<td class="govuk-table__cell">{NOON_SAID}</td>' in listing
    assert f"Received {NOON_SAID} (UK time)" in shown and "Decided 1 Jul 2026, 13:01 (UK time)" in shown
    assert "Decided (UK time)" not in said(test_batch_pages.batch_page(undecided))  # no label without a time


def test_a_challenge_and_the_challenge_lists_say_their_times_are_uk_time(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in()
    resolved = test_challenge_pages.challenge(
        state="resolved",
        raised_at=NOON_UTC,
        acknowledged_at="2026-07-01T12:30:00Z",
        acknowledged_by="ao:RN9093",
        resolved_at="2026-07-02T09:00:00Z",
        resolution="upheld",
    )
    test_challenge_pages.with_a_challenge(portal, resolved)
    portal.on(
        "GET", "challenges/v1/challenges", lambda _: httpx.Response(200, json={"items": [resolved], "next": None})
    )

    page = said(client.get(f"/challenges/{test_challenge_pages.CHALLENGE_ID}").text)
    listing = client.get("/challenges/resolved").text

    assert f"Raised {NOON_SAID} (UK time)" in page
    assert "Acknowledged 1 Jul 2026, 13:30 (UK time), by ao:RN9093" in page
    assert "Resolved 2 Jul 2026, 10:00 (UK time): Data confirmed correct" in page
    assert headers(listing, "resolved")[0] == "Raised (UK time)"


def test_the_correcting_batches_offered_say_their_decided_times_are_uk_time(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in()
    test_challenge_pages.with_a_challenge(portal, test_challenge_pages.challenge())

    page = said(client.get(f"/challenges/{test_challenge_pages.CHALLENGE_ID}").text)

    assert "each with when it was decided (UK time)" in page
    assert "FIX-GRADE \u2013 30 Nov 2026, 11:00" in page  # GMT: UK time is UTC in winter


def test_a_learners_history_says_its_times_are_uk_time() -> None:
    portal = stubbed_portal()
    client, person = portal.signed_in(Role.AO)
    change = {
        "occurred_at": NOON_UTC,
        "change": "recorded",
        "grade": "Pass",
        "status": "F",
        "withdrawn": False,
        "batch_id": "0b6f3c1e-8f4a-4d52-9a0e-2f9c6a1d7e35",
    }
    answering(portal, {**ACHIEVEMENT, "history": [change]})

    page = client.post("/learners", data=form(person, uln=ULN), follow_redirects=True).text

    history = page.split('class="govuk-details portal-history"', 1)[1]
    assert headers(history)[0] == "When (UK time)"
    assert f'<td class="govuk-table__cell">{NOON_SAID}</td>' in history


def test_the_dead_letter_pages_say_their_times_are_uk_time(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    parked = test_dead_letter_page.listed(1, "poisoned") | {"parked_at": NOON_UTC}
    test_dead_letter_page.notifier_parks(portal, parked)
    action = {
        "action": "skip",
        "operator": "operator:ops",
        "reason": "a duplicate batch",
        "replaced": False,
        "consumer": "notifier",
        "topic": "lrs.batch.outcomes.v1",
        "partition": 0,
        "offset": 41,
        "event_id": None,
        "event_type": None,
        "applied": 1,
        "skipped": 1,
        "still_parked": 0,
        "acted_at": NOON_UTC,
    }
    portal.on(
        "GET", f"{test_dead_letter_page.NOTIFIER_DLQ}/actions", test_dead_letter_page.answering({"actions": [action]})
    )

    listing = client.get("/ops/dead-letters").text
    confirming = said(client.get("/ops/dead-letters/notifier/1/skip").text)
    history = client.get("/ops/dead-letters/history").text

    assert headers(listing, "dlq-notifier")[3] == "Parked (UK time)"
    assert f"Parked {NOON_SAID} (UK time)" in confirming
    assert headers(history, "dlq-actions")[0] == "When (UK time)"
    assert NOON_SAID in history


def test_the_erasures_page_says_its_times_are_uk_time(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    erasure = {
        "erasure_id": "5b0e8a52-0000-4000-8000-000000000001",
        "uln": "1000000043",
        "erased_by": "operator:dpo",
        "erased_at": NOON_UTC,
        "reason": "created in error",
    }
    audit = {"erasures": [erasure], "next": None}
    portal.on("GET", "validation/v1/admin/erasures", lambda _: httpx.Response(200, json=audit))
    erased = {key: value for key, value in erasure.items() if key != "reason"}  # the audit's, not the erasure's answer
    portal.on("POST", "validation/v1/admin/learners/1000000043/erasure", lambda _: httpx.Response(201, json=erased))

    done = shown_after(client, client.post("/ops/erasures", data=form(operator, uln="1000000043", reason="x"))).text

    assert f"erased by operator:dpo on {NOON_SAID} (UK time)" in said(done)
    assert headers(done, "erasures")[0] == "Erased (UK time)"


def test_the_accounts_page_says_its_times_are_uk_time(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    portal.account("nia.locked")
    account, password_hash = portal.accounts.rows["nia.locked"]
    locked = SignInState(failed_attempts=5, locked_until=datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    portal.accounts.rows["nia.locked"] = (dataclasses.replace(account, sign_in=locked), password_hash)
    client.post("/ops/keys", data=form(operator, key_ao_id="RN5133", label="results system"))

    page = client.get("/ops/accounts").text

    assert f"locked until {NOON_SAID} (UK time)" in page
    assert headers(page, "keys")[3] == "Created (UK time)"
    assert headers(page, "account-changes")[0] == "When (UK time)"


def test_the_rebuild_page_says_its_times_are_uk_time(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    status: dict[str, Any] = {
        "state": "caught_up",
        "phase": "following",
        "rebuild_id": 7,
        "schema": "plr_rebuild_7",
        "started_by": "operator:olu",
        "started_at": NOON_UTC,
        "target_events": 5000,
        "projected_events": 5000,
        "progress": 1.0,
        "events_per_second": 800.0,
        "eta_seconds": 0.0,
        "events_past_target": 0,
        "workers": [],
        "last_error": None,
        "comparison": None,
    }
    portal.on("GET", "plr-projector/v1/admin/rebuild", lambda _: httpx.Response(200, json=status))

    page = said(client.get("/ops/rebuild").text)

    assert f"Started {NOON_SAID} (UK time) by operator:olu" in page
