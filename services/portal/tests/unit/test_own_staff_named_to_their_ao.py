"""An AO's own pages say which of its own people acted (walk report "leaver", finding 5): its challenge page, who of
its own acknowledged and resolved a challenge, and its batch page, who sent a batch: a colleague signed in to the
portal by their username, an API key of the AO's by its label, as the Challenge contact page names who last changed
the contact and the operators' pages name the key. An LRS operator stays "an LRS operator" (decision 0169), and no
key but the AO's own is ever named to it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, problem, stubbed_portal
from services.portal.tests.unit.test_batch_decided_said import BATCH_ID, SHOWN
from services.portal.tests.unit.test_batch_desk_questions import KeyStore
from services.portal.tests.unit.test_challenge_pages import CHALLENGE_ID, challenge, with_a_challenge

from lrs_platform.credential_store import StoredKey
from lrs_platform.identity import Principal

SESSION_KEY = "800ffd2d72424c4b"  # sam.hire's portal session, ended when he left
AO_KEY = "e106a2eb71d389fe"  # the AO's MIS
UNLABELLED = "3c3c3c3c3c3c3c3c"
DESK_KEY = "77aa77aa77aa77aa"  # an operator's
OTHER_AO_KEY = "5151515151515151"  # City & Guilds' colleague's session, revoked
MADE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LEFT = datetime(2026, 12, 7, 12, 11, tzinfo=UTC)
RESOLVED = {"state": "resolved", "resolved_at": "2026-12-07T10:00:00Z", "resolution": "upheld", "note": "Right."}


@pytest.fixture
def portal() -> StubbedPortal:
    stub = stubbed_portal()
    pearson, guilds = Principal.parse("ao:RN9093"), Principal.parse("ao:RN9037")
    stub.app.state.credentials = KeyStore(
        StoredKey(SESSION_KEY, pearson, "portal session: sam.hire", MADE, LEFT),
        StoredKey(AO_KEY, pearson, "MIS nightly", MADE, None, created_by="operator:alex"),
        StoredKey(UNLABELLED, pearson, None, MADE, None),
        StoredKey(DESK_KEY, Principal.parse("operator:desk"), "portal session: desk", MADE, None),
        StoredKey(OTHER_AO_KEY, guilds, "portal session: dual.b", MADE, LEFT),
    )
    return stub


def text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip())


def answered(html: str, act: str) -> str:
    found = re.search(rf'<dd [^>]*data-answered="{act}"[^>]*>(.*?)</dd>', html, re.S)
    assert found is not None, f"no {act} row"
    return text(found.group(1))


def challenge_page(portal: StubbedPortal, **shown: object) -> str:
    with_a_challenge(portal, challenge(**shown))
    client, _ = portal.signed_in()
    page = client.get(f"/challenges/{CHALLENGE_ID}")
    assert page.status_code == 200, page.text
    return str(page.text)


# --- the challenge page ---------------------------------------------------------------------------------------------


def test_the_challenge_page_names_the_colleague_and_the_api_key_of_the_ao_that_answered(portal: StubbedPortal) -> None:
    page = challenge_page(
        portal,
        **RESOLVED,
        acknowledged_by="the awarding organisation",
        acknowledged_with_key=SESSION_KEY,
        resolved_by="the awarding organisation",
        resolved_with_key=AO_KEY,
    )

    assert answered(page, "acknowledged") == "30 Nov 2026, 10:30 (UK time), by sam.hire, in the portal"
    assert answered(page, "resolved") == (
        "7 Dec 2026, 10:00 (UK time): Data confirmed correct (resolved with your API key “MIS nightly”)"
    )


def test_a_key_without_a_label_is_named_by_its_id(portal: StubbedPortal) -> None:
    page = challenge_page(portal, acknowledged_by="the awarding organisation", acknowledged_with_key=UNLABELLED)

    assert answered(page, "acknowledged") == f"30 Nov 2026, 10:30 (UK time), with your unlabelled API key {UNLABELLED}"


def test_an_lrs_operator_stays_an_lrs_operator_and_their_key_is_never_read(portal: StubbedPortal) -> None:
    store = portal.app.state.credentials
    page = challenge_page(
        portal,
        **RESOLVED,
        acknowledged_by="an LRS operator",
        acknowledged_with_key=DESK_KEY,  # which the service never tells the AO: not named if it did
        resolved_by="an LRS operator",
    )

    assert answered(page, "acknowledged") == "30 Nov 2026, 10:30 (UK time), by an LRS operator"
    assert answered(page, "resolved").endswith("(resolved by an LRS operator)")
    assert DESK_KEY not in page and "operator:" not in page and store.asked == []


def test_a_key_not_the_aos_own_or_not_known_leaves_the_awarding_organisation_unnamed(portal: StubbedPortal) -> None:
    page = challenge_page(
        portal,
        **RESOLVED,
        acknowledged_by="the awarding organisation",
        acknowledged_with_key=OTHER_AO_KEY,  # another AO's, found by its id: never named
        resolved_by="the awarding organisation",
        resolved_with_key="0000000000000000",
    )

    assert answered(page, "acknowledged") == "30 Nov 2026, 10:30 (UK time), by the awarding organisation"
    assert answered(page, "resolved").endswith("(resolved by the awarding organisation)")
    assert "dual.b" not in page and OTHER_AO_KEY not in page


def test_a_resolution_not_recorded_names_the_colleague_who_resolved_it_first(portal: StubbedPortal) -> None:
    shown = challenge(**RESOLVED, resolved_by="the awarding organisation", resolved_with_key=SESSION_KEY)
    with_a_challenge(portal, shown)
    refused = problem(409, "resolved already", state="resolved", code="CHALLENGE_NOT_IN_THAT_STATE")
    portal.on("POST", f"challenges/v1/challenges/{CHALLENGE_ID}/resolve", lambda _: refused)
    client, person = portal.signed_in()

    answer = client.post(f"/challenges/{CHALLENGE_ID}/resolve", data=form(person, resolution="rejected", reason="No."))

    assert answer.status_code == 409
    heading = re.search(
        r'data-not-recorded>.*?<p class="govuk-notification-banner__heading">(.*?)</p>', answer.text, re.S
    )
    assert heading is not None
    banner = text(heading.group(1))
    assert banner == (
        "Not recorded: this challenge was resolved already, 7 Dec 2026, 10:00 (UK time), as Data confirmed correct"
        " (resolved by sam.hire, in the portal)."
    )


# --- the batch page -------------------------------------------------------------------------------------------------


def sent_by(portal: StubbedPortal, path: str = f"/batches/{BATCH_ID}", **batch: object) -> str | None:
    shown = {**SHOWN["completed"], "batch_id": str(BATCH_ID), "ao_id": "RN9093", **batch}
    portal.on("GET", f"ingest/v1/batches/{BATCH_ID}", lambda _: httpx.Response(200, json=shown))
    records = {"records": [], "total": 0, "page": 1, "page_size": 100, "codes": []}
    portal.on("GET", f"ingest/v1/batches/{BATCH_ID}/records", lambda _: httpx.Response(200, json=records))
    client, _ = portal.signed_in()
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = re.search(
        r'<div class="govuk-summary-list__row" data-sent-by=[^>]*>.*?<dd[^>]*>(.*?)</dd>', page.text, re.S
    )
    return text(found.group(1)) if found else None


def test_the_batch_page_names_the_colleague_who_sent_it_in_the_portal(portal: StubbedPortal) -> None:
    assert sent_by(portal, submitted_by="ao:RN9093", submitted_with_key=SESSION_KEY) == "sam.hire, in the portal"


def test_the_batch_page_names_the_aos_api_key_that_sent_it_by_its_label(portal: StubbedPortal) -> None:
    assert sent_by(portal, submitted_by="ao:RN9093", submitted_with_key=AO_KEY) == (
        f"Your API key “MIS nightly” (key {AO_KEY})"
    )


def test_a_batch_an_lrs_operator_sent_names_no_operator(portal: StubbedPortal) -> None:
    said = sent_by(portal, submitted_by="operator:desk", submitted_with_key=DESK_KEY)

    assert said == "An LRS operator"
    assert portal.app.state.credentials.asked == []


def test_a_batch_an_lrs_operator_sent_as_ingest_says_it_to_the_ao(portal: StubbedPortal) -> None:
    """Ingest gives the AO "an LRS operator" and no key for such a batch (decision 0169)."""
    assert sent_by(portal, submitted_by="an LRS operator") == "An LRS operator"
    assert portal.app.state.credentials.asked == []


def test_a_batch_whose_key_is_not_the_aos_or_not_recorded_is_said_the_aos(portal: StubbedPortal) -> None:
    assert sent_by(portal, submitted_by="ao:RN9093", submitted_with_key=OTHER_AO_KEY) == (
        f"RN9093, with key {OTHER_AO_KEY}, which is no longer found"
    )
    assert sent_by(portal, submitted_by="ao:RN9093") == "RN9093 (with which key or portal account is not recorded)"
    assert sent_by(portal) is None  # a batch from before `submitted_by` was kept
