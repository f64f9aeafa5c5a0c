"""What the service desk is asked of a batch, answered on the operators' batch pages (the desk walk's findings 1, 3, 4,
8, 9 and 12): the key that sent it and whose it is, its email, an outcome held in ingest's dead letters, a record by
its line, and the batch list filtered by status and time received, and a batch found by the start of its id."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from html import unescape
from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal, undocumented
from services.portal.tests.unit.test_batch_decided_said import BATCH_ID, SHOWN

from lrs_platform.credential_store import StoredKey
from lrs_platform.identity import Principal, PrincipalKind
from portal.accounts import Role
from portal.web.support_pages import batch_asked, received_asked

SUPPORT = frozenset({"support"})
DESK = frozenset({"support", "dead-letters"})
RECORDS = {"records": [], "total": 0, "page": 1, "page_size": 100}
AO_KEY = "7749b97be11769a0"
SESSION_KEY = "6804bb7f9939320b"
SECRET = "not-a-secret-anyone-sees"
MADE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class KeyStore:
    """The identity store's reads the batch page makes: a revoked key by its id (any label), a principal's live keys."""

    def __init__(self, *keys: StoredKey) -> None:
        self.keys = {key.key_id: key for key in keys}
        self.asked: list[tuple[str, Any]] = []

    async def revoked_listed(
        self, key_id: str, kind: PrincipalKind, *, label_not_starting: str | None = None
    ) -> StoredKey | None:
        self.asked.append(("revoked_listed", key_id))
        key = self.keys.get(key_id)
        if key is None or key.revoked_at is None or key.principal.kind is not kind:
            return None
        return None if label_not_starting and (key.label or "").startswith(label_not_starting) else key

    async def listing(
        self,
        kind: PrincipalKind | None = None,
        *,
        include_revoked: bool = False,
        label_not_starting: str | None = None,
        principal: Principal | None = None,
        limit: int = 500,
    ) -> list[StoredKey]:
        self.asked.append(("listing", principal))
        return [
            key
            for key in self.keys.values()
            if (include_revoked or key.revoked_at is None)
            and (principal is None or str(key.principal) == str(principal))
            and not (label_not_starting and (key.label or "").startswith(label_not_starting))
        ][:limit]


def shown(like: str = "completed", **fields: Any) -> dict[str, Any]:
    return {**SHOWN[like], "batch_id": str(BATCH_ID), "ao_id": "RN9008", "format": "csv", **fields}


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def batch_answers(portal: StubbedPortal, batch: dict[str, Any], deliveries: httpx.Response | None = None) -> None:
    # `held_in_dead_letters` is ingest's new field: sent whether or not ingest's document has it yet
    portal.on("GET", f"ingest/v1/batches/{BATCH_ID}", lambda _: undocumented(httpx.Response(200, json=batch)))
    portal.on("GET", f"ingest/v1/batches/{BATCH_ID}/records", lambda _: httpx.Response(200, json=RECORDS))
    if deliveries is not None:
        portal.on("GET", "notifier/v1/deliveries", lambda _: deliveries)


def row(html: str, marker: str) -> str:
    found = re.search(rf"<div class=\"govuk-summary-list__row\" {marker}[^>]*>.*?<dd[^>]*>(.*?)</dd></div>", html, re.S)
    assert found is not None, f"no {marker} row"
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found.group(1))).strip())


# --- who sent it, with which key (finding 4) -----------------------------------------------------------------------


def test_the_operators_batch_page_names_the_key_that_sent_it_and_whose_it_is(portal: StubbedPortal) -> None:
    aqa = Principal.parse("ao:RN9008")
    portal.app.state.credentials = KeyStore(
        StoredKey(AO_KEY, aqa, "AQA exams office script", MADE, None, created_by="operator:alex"),
        StoredKey("1111111111111111", aqa, "AQA results system (prod)", MADE, None),
    )
    batch_answers(portal, shown(submitted_by="ao:RN9008", submitted_with_key=AO_KEY))
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)

    page = client.get(f"/ops/batches/{BATCH_ID}")

    assert page.status_code == 200
    said = row(page.text, f'data-sent-with="{AO_KEY}"')
    assert said == f"“AQA exams office script”: key {AO_KEY}, of ao:RN9008, made by operator:alex"
    assert SECRET not in page.text and "lrs_" not in page.text


def test_a_portal_uploads_session_key_is_named_with_the_person_signed_in(portal: StubbedPortal) -> None:
    """A session key is revoked when its session ends, and key lists leave session keys out: found all the same."""
    aqa = Principal.parse("ao:RN9008")
    ended = datetime(2026, 12, 7, 3, 10, tzinfo=UTC)
    store = KeyStore(StoredKey(SESSION_KEY, aqa, "portal session: aqa.jo", MADE, ended))
    portal.app.state.credentials = store
    batch_answers(portal, shown(submitted_by="ao:RN9008", submitted_with_key=SESSION_KEY))
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)

    page = client.get(f"/ops/batches/{BATCH_ID}")

    said = row(page.text, f'data-sent-with="{SESSION_KEY}"')
    assert said == (
        f"The portal, signed in as aqa.jo: key {SESSION_KEY}, labelled “portal session: aqa.jo”, of ao:RN9008;"
        " revoked 7 Dec 2026, 03:10 (UK time)"
    )


def test_a_live_key_found_among_its_principals_and_an_unknown_one_said_so(portal: StubbedPortal) -> None:
    aqa = Principal.parse("ao:RN9008")
    portal.app.state.credentials = KeyStore(StoredKey(SESSION_KEY, aqa, "portal session: aqa.sam", MADE, None))
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)

    batch_answers(portal, shown(submitted_by="ao:RN9008", submitted_with_key=SESSION_KEY))
    live = client.get(f"/ops/batches/{BATCH_ID}")
    batch_answers(portal, shown(submitted_by="ao:RN9008", submitted_with_key="0000000000000000"))
    unknown = client.get(f"/ops/batches/{BATCH_ID}")

    assert row(live.text, "data-sent-with").startswith("The portal, signed in as aqa.sam: key")
    assert row(unknown.text, "data-sent-with") == "Key 0000000000000000 (not found among the keys the portal can read)"


def test_the_aos_own_page_names_no_key(portal: StubbedPortal) -> None:
    portal.app.state.credentials = KeyStore()
    batch_answers(portal, shown(submitted_by="ao:RN9093", submitted_with_key=AO_KEY, ao_id="RN9093"))
    client, _ = portal.signed_in(Role.AO)

    page = client.get(f"/batches/{BATCH_ID}")

    assert page.status_code == 200 and "data-sent-with" not in page.text and "data-batch-email" not in page.text


# --- the batch's email (finding 3) ---------------------------------------------------------------------------------

DELIVERY: dict[str, Any] = {
    "id": str(uuid.uuid4()),
    "kind": "lrs.batch.completed.v1",
    "ao_id": "RN9008",
    "status": "sent",
    "status_said": "Sent: the LRS's mail relay took it for a mailbox at aqa.exmaple.",
    "recipient_domain": "aqa.exmaple",
    "message_id": "<c7492389@lrs.local>",
    "attempts": 1,
    "recorded_at": "2026-12-07T02:49:10Z",
    "last_tried_at": "2026-12-07T02:49:11Z",
    "sent_at": "2026-07-07T02:49:11Z",
    "next_try_at": None,
    "last_error": None,
    "last_error_said": None,
}


def test_the_batch_email_row_says_when_and_where_it_was_sent(portal: StubbedPortal) -> None:
    batch_answers(portal, shown(), httpx.Response(200, json=[DELIVERY]))
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)

    page = client.get(f"/ops/batches/{BATCH_ID}")

    said = row(page.text, 'data-batch-email="1"')
    # in UK time: 02:49 UTC in July is 03:49 in the UK
    assert said.startswith(
        "Sent 7 Jul 2026, 03:49 (UK time), to a mailbox at aqa.exmaple. Message-ID <c7492389@lrs.local>."
    )
    assert DELIVERY["status_said"] in said
    (asked,) = portal.sent_to("GET", "notifier/v1/deliveries")
    assert asked.url.params["batch"] == str(BATCH_ID)


def test_no_email_yet_and_a_notifier_that_cannot_be_asked_are_said_and_the_page_drawn(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)

    batch_answers(portal, shown("validating"), httpx.Response(200, json=[]))
    none_yet = client.get(f"/ops/batches/{BATCH_ID}")
    batch_answers(portal, shown(), httpx.Response(503, json={"title": "Service unavailable"}))
    unreachable = client.get(f"/ops/batches/{BATCH_ID}")

    assert none_yet.status_code == 200
    assert row(none_yet.text, 'data-batch-email="0"') == (
        "No email yet: the batch's email is sent once its outcome is decided."
    )
    assert unreachable.status_code == 200 and 'data-status="completed"' in unreachable.text
    assert row(unreachable.text, 'data-batch-email="unavailable"') == (
        "The notifier could not be asked just now: look again later."
    )


def test_a_file_refused_at_upload_is_said_never_to_be_emailed(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)
    refusal = {"code": "RS001", "title": "The file is malformed", "detail": None, "line": None}
    batch_answers(portal, shown(status="refused", refusal=refusal), httpx.Response(200, json=[]))

    page = client.get(f"/ops/batches/{BATCH_ID}")

    assert row(page.text, 'data-batch-email="0"') == (
        "No email: a file refused at upload is never emailed (the answer to the upload said why)."
    )


# --- an outcome held in ingest's dead letters (finding 1) ----------------------------------------------------------

HELD = {"count": 4, "since": "2026-12-07T02:52:00Z"}


def test_an_outcome_held_in_ingests_dead_letters_is_said_to_the_operator_with_a_link(portal: StubbedPortal) -> None:
    batch_answers(portal, shown("validating", status="accepted", held_in_dead_letters=HELD))
    client, _ = portal.signed_in(Role.OPERATOR, DESK)

    page = client.get(f"/ops/batches/{BATCH_ID}")

    text = re.sub(r"\s+", " ", page.text)
    assert 'data-held-in-dead-letters="4"' in page.text
    assert "Its outcome is held in ingest's dead letters since 7 Dec 2026, 02:52 (UK time)" in text
    assert '<a class="govuk-link" href="/ops/dead-letters">' in page.text
    assert "The batch is in the queue or being checked" not in page.text


def test_an_outcome_held_is_said_to_the_ao_without_the_operators_words(portal: StubbedPortal) -> None:
    batch_answers(portal, shown("validating", status="accepted", held_in_dead_letters=HELD, ao_id="RN9093"))
    client, _ = portal.signed_in(Role.AO)

    page = client.get(f"/batches/{BATCH_ID}")

    assert (
        "The LRS has decided this batch but cannot show its outcome yet: an operator is dealing with it." in page.text
    )
    assert "dead letters" not in page.text and "The batch is in the queue or being checked" not in page.text


def test_a_batch_view_without_the_field_reads_as_before(portal: StubbedPortal) -> None:
    batch_answers(portal, shown("validating", held_in_dead_letters=None))
    client, _ = portal.signed_in(Role.OPERATOR, DESK)

    page = client.get(f"/ops/batches/{BATCH_ID}")

    assert "data-held-in-dead-letters" not in page.text and "The batch is in the queue or being checked" in page.text


# --- go to a record (finding 9) ------------------------------------------------------------------------------------


def test_go_to_a_record_takes_the_operator_and_the_ao_to_its_page(portal: StubbedPortal) -> None:
    batch_answers(portal, shown(ao_id="RN9093"))
    operator, _ = portal.signed_in(Role.OPERATOR, SUPPORT)
    ao, _ = portal.signed_in(Role.AO)

    page = operator.get(f"/ops/batches/{BATCH_ID}")
    went = operator.get(f"/ops/batches/{BATCH_ID}", params={"line": " 4,515 "})
    ao_went = ao.get(f"/batches/{BATCH_ID}", params={"line": "4515"})

    assert 'data-form="go-to-record"' in page.text
    assert "the first record is on line 4, so record N is on line N+3" in page.text
    assert (went.status_code, went.headers["location"]) == (303, f"/ops/batches/{BATCH_ID}/records/4515")
    assert (ao_went.status_code, ao_went.headers["location"]) == (303, f"/batches/{BATCH_ID}/records/4515")


def test_a_line_that_is_no_number_is_said_at_the_box(portal: StubbedPortal) -> None:
    batch_answers(portal, shown(ao_id="RN9093", format="json"))
    client, _ = portal.signed_in(Role.AO)

    page = client.get(f"/batches/{BATCH_ID}", params={"line": "AQA-B-04512"})

    assert page.status_code == 400 and "<title>Error: " in page.text and 'href="#line"' in page.text
    assert 'value="AQA-B-04512"' in page.text and "Its number in the file: the first record is 1" in page.text


# --- the list: status, time received, the start of an id (findings 8, 12) -----------------------------------------

LISTED = {"items": [], "page": 1, "page_size": 25, "total": 0}


def test_the_list_is_asked_of_ingest_by_status_and_uk_time_received(portal: StubbedPortal) -> None:
    portal.on("GET", "ingest/v1/batches", lambda _: httpx.Response(200, json={**LISTED, "total": 60}))
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)

    page = client.get(
        "/ops/batches",
        params={"ao": "rn9008", "status": "failed", "received_from": "2026-07-01 09:30", "received_to": "2026-07-01"},
    )

    assert page.status_code == 200
    (asked,) = portal.sent_to("GET", "ingest/v1/batches")
    assert dict(asked.url.params) == {
        "page": "1",
        "page_size": "25",
        "ao_id": "RN9008",
        "status": "failed",
        "received_from": "2026-07-01T08:30:00+00:00",  # 09:30 BST
        "received_to": "2026-07-01T23:00:00+00:00",  # the day's end: 2 July's start in the UK
    }
    assert 'value="2026-07-01 09:30"' in page.text and '<option value="failed" selected>' in page.text
    assert 'href="/ops/batches?ao=RN9008&amp;status=failed&amp;received_from=2026-07-01%2009%3A30&amp;' in page.text


def test_times_typed_wrong_are_said_and_ingest_is_not_asked(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)

    page = client.get(
        "/ops/batches", params={"status": "queued", "received_from": "7/12/2026", "received_to": "2026-02-30"}
    )

    assert page.status_code == 400
    assert 'href="#status"' in page.text and 'href="#received_from"' in page.text and 'href="#received_to"' in page.text
    assert portal.sent_to("GET", "ingest/v1/batches") == []
    assert received_asked("2026-12-07", end=False) == (datetime(2026, 12, 7, tzinfo=UTC), None)
    assert received_asked("2026-12-07 10:00", end=True) == (datetime(2026, 12, 7, 10, tzinfo=UTC), None)


def test_a_batch_is_found_by_the_start_of_its_id(portal: StubbedPortal) -> None:
    one = {**SHOWN["completed"], "batch_id": str(BATCH_ID), "ao_id": "RN9008"}
    portal.on("GET", "ingest/v1/batches", lambda _: httpx.Response(200, json={**LISTED, "items": [one], "total": 1}))
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)
    prefix = str(BATCH_ID)[:8]

    found = client.get("/ops/batches", params={"batch": f" {prefix.upper()} "})

    assert (found.status_code, found.headers["location"]) == (303, f"/ops/batches/{BATCH_ID}")
    (asked,) = portal.sent_to("GET", "ingest/v1/batches")
    assert asked.url.params["id_prefix"] == prefix
    assert batch_asked("5a398464") == ("5a398464", None)
    assert batch_asked("5a39846")[0] is None  # 7 characters: too few to name a batch


def test_a_start_of_an_id_naming_several_batches_or_none(portal: StubbedPortal) -> None:
    other = uuid.uuid4()
    two = [
        {**SHOWN["completed"], "batch_id": str(BATCH_ID), "ao_id": "RN9008", "batch_reference": "AQA-ONE"},
        {**SHOWN["completed"], "batch_id": str(other), "ao_id": "RN9008", "batch_reference": "AQA-TWO"},
    ]
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)

    portal.on("GET", "ingest/v1/batches", lambda _: httpx.Response(200, json={**LISTED, "items": two, "total": 2}))
    several = client.get("/ops/batches", params={"batch": "5a398464"})
    portal.on("GET", "ingest/v1/batches", lambda _: httpx.Response(200, json=LISTED))
    none = client.get("/ops/batches", params={"batch": "5a398464"})

    assert several.status_code == 200 and "Batches whose id starts 5a398464" in several.text
    assert f'href="/ops/batches/{BATCH_ID}"' in several.text and f'href="/ops/batches/{other}"' in several.text
    assert none.status_code == 404 and "No batch&#39;s id starts 5a398464" in none.text
