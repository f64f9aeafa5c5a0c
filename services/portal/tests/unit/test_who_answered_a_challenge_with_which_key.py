"""Who acknowledged and who resolved a challenge, with which key, as the batch page names the key that sent a batch:
the operators' challenges page names a portal user's session key by the person signed in, an API key by its label and
whose it is, and when it was revoked; the AO's Challenge contact page says who last changed the contact (walk report
"challenges", finding 2)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal
from services.portal.tests.unit.test_batch_desk_questions import KeyStore
from services.portal.tests.unit.test_ops_learners_and_challenges import (
    HELD_CHALLENGE,
    NOW,
    SENT_CHALLENGE,
    SUPPORT,
    challenge,
    with_challenges,
)

from lrs_platform.credential_store import StoredKey
from lrs_platform.identity import Principal
from portal.accounts import Role

SESSION_KEY = "1fbcd3a539863d9a"
AO_KEY = "e106a2eb71d389fe"
DESK_KEY = "77aa77aa77aa77aa"
MADE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ENDED = datetime(2026, 12, 7, 3, 10, tzinfo=UTC)
CONTACT = {
    "ao_id": "RN9093",
    "given_name": "Ada",
    "family_name": "Byron",
    "telephone": "01632 960 001",
    "email": "ada@ao.example",
    "updated_at": "2026-12-03T14:00:00Z",
}


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def said(html: str, marker: str) -> str:
    found = re.search(rf"<p [^>]*{marker}[^>]*>(.*?)</p>", html, re.S)
    assert found is not None, f"nothing marked {marker}"
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found.group(1))).strip())


def keys() -> KeyStore:
    pearson, desk = Principal.parse("ao:RN9093"), Principal.parse("operator:desk")
    return KeyStore(
        StoredKey(SESSION_KEY, pearson, "portal session: ao.demo", MADE, ENDED),
        StoredKey(AO_KEY, pearson, "make up", MADE, None, created_by="operator:alex"),
        StoredKey(DESK_KEY, desk, "portal session: desk", MADE, None),
    )


def answered(**more: Any) -> dict[str, Any]:
    return challenge(
        SENT_CHALLENGE,
        "RN9093",
        "resolved",
        NOW - timedelta(days=9),
        acknowledged_at=(NOW - timedelta(days=8)).isoformat(),
        resolved_at=(NOW - timedelta(days=4)).isoformat(),
        resolution="rejected",
        note="This is an appeal.",
        **more,
    )


def test_the_operators_challenges_page_names_who_acknowledged_and_resolved_and_with_which_key(
    portal: StubbedPortal,
) -> None:
    portal.app.state.credentials = keys()
    item = answered(
        acknowledged_by="ao:RN9093",
        acknowledged_with_key=SESSION_KEY,
        resolved_by="operator:desk",
        resolved_with_key=DESK_KEY,
    )
    with_challenges(portal, [item])
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)

    page = client.get("/ops/challenges", params={"state": "any"})

    assert page.status_code == 200, page.text
    row = page.text.split(f'data-challenge="{SENT_CHALLENGE}"', 1)[1].split("</tr>", 1)[0]
    assert said(row, f'data-acknowledged-with="{SESSION_KEY}"') == (
        f"Acknowledged by ao:RN9093, with The portal, signed in as ao.demo: key {SESSION_KEY}, labelled “portal"
        " session: ao.demo”, of ao:RN9093; revoked 7 Dec 2026, 03:10 (UK time)."
    )
    assert said(row, f'data-resolved-with="{DESK_KEY}"') == (
        f"Resolved by operator:desk (the LRS service desk), with The portal, signed in as desk: key {DESK_KEY},"
        " labelled “portal session: desk”, of operator:desk."
    )


def test_an_api_key_is_named_by_its_label_and_a_key_not_recorded_is_said_so(portal: StubbedPortal) -> None:
    portal.app.state.credentials = keys()
    items = [
        answered(acknowledged_by="ao:RN9093", resolved_by="ao:RN9093", resolved_with_key=AO_KEY),
        challenge(
            HELD_CHALLENGE,
            "RN9093",
            "resolved",
            NOW - timedelta(days=3),
            resolved_at=(NOW - timedelta(days=2)).isoformat(),
            resolution="withdrawn",
            resolved_by="learner:1000000043",
            resolved_with_key="5555555555555555",
        ),
    ]
    with_challenges(portal, items)
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)

    page = client.get("/ops/challenges", params={"ao": "RN9093", "state": "any"}).text

    row = page.split(f'data-challenge="{SENT_CHALLENGE}"', 1)[1].split("</tr>", 1)[0]
    assert said(row, 'data-acknowledged-by="ao:RN9093"') == (
        "Acknowledged by ao:RN9093 (with which key is not recorded)."
    )
    assert said(row, f'data-resolved-with="{AO_KEY}"') == (
        f"Resolved by ao:RN9093, with “make up”: key {AO_KEY}, of ao:RN9093, made by operator:alex."
    )
    withdrawn = page.split(f'data-challenge="{HELD_CHALLENGE}"', 1)[1].split("</tr>", 1)[0]
    assert said(withdrawn, 'data-resolved-by="learner:1000000043"') == (
        "Withdrawn by learner:1000000043 (the learner), with the learner's key 5555555555555555."
    )
    assert "data-acknowledged-by" not in withdrawn


def test_a_key_is_read_once_however_many_challenges_it_answered(portal: StubbedPortal) -> None:
    store = keys()
    portal.app.state.credentials = store
    both = {"acknowledged_by": "ao:RN9093", "acknowledged_with_key": AO_KEY}
    both |= {"resolved_by": "ao:RN9093", "resolved_with_key": AO_KEY}
    with_challenges(portal, [answered(**both), {**answered(**both), "challenge_id": HELD_CHALLENGE}])
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)

    client.get("/ops/challenges", params={"state": "any"})

    assert [asked for asked in store.asked if asked[0] == "revoked_listed"] == [("revoked_listed", AO_KEY)]


# --- the AO's challenge contact page -------------------------------------------------------------------------------


def contact_page(portal: StubbedPortal, **who: Any) -> str:
    stored = {**CONTACT, **who}
    portal.on("GET", "notifier/v1/ao/RN9093/challenge-contact", lambda _: httpx.Response(200, json=stored))
    client, _ = portal.signed_in()
    page = client.get("/contact")
    assert page.status_code == 200, page.text
    return said(page.text, "data-contact-changed")


def test_the_contact_page_says_which_portal_user_last_changed_the_contact(portal: StubbedPortal) -> None:
    portal.app.state.credentials = keys()

    assert contact_page(portal, updated_by="ao:RN9093", updated_with_key=SESSION_KEY) == (
        "Last changed 3 Dec 2026, 14:00 (UK time) by ao.demo, signed in to the portal (their session key"
        f" {SESSION_KEY}, ended 7 Dec 2026, 03:10 UK time)."
    )


def test_the_contact_page_names_the_api_key_a_change_was_made_with(portal: StubbedPortal) -> None:
    portal.app.state.credentials = keys()

    assert contact_page(portal, updated_by="ao:RN9093", updated_with_key=AO_KEY) == (
        f"Last changed 3 Dec 2026, 14:00 (UK time) with your API key “make up” (key {AO_KEY})."
    )


def test_the_contact_page_says_an_lrs_operator_changed_it_and_no_more(portal: StubbedPortal) -> None:
    portal.app.state.credentials = keys()

    assert contact_page(portal, updated_by="an LRS operator", updated_with_key=None) == (
        "Last changed 3 Dec 2026, 14:00 (UK time) by an LRS operator."
    )


def test_a_change_whose_key_is_not_known_is_said_to_be_the_organisations(portal: StubbedPortal) -> None:
    portal.app.state.credentials = keys()

    assert contact_page(portal, updated_by="ao:RN9093", updated_with_key=None) == (
        "Last changed 3 Dec 2026, 14:00 (UK time) by RN9093 (with which key or portal account is not recorded)."
    )
    # a key of another principal's is never named to the AO, whatever id it is given
    assert contact_page(portal, updated_by="ao:RN9093", updated_with_key=DESK_KEY) == (
        f"Last changed 3 Dec 2026, 14:00 (UK time) by RN9093 with key {DESK_KEY}, which is no longer found."
    )
