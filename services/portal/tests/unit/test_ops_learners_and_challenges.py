"""The service desk's pages for a learner's record and for challenges (the support duty): what `lrs plr show ULN
--withdrawn --history`, `lrs challenges list --ao` and `lrs challenges waiting` answer, asked of the same routes with the
operator's own session key; the ULN kept out of every address, as on the AO's learner pages."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal

from lrs_domain.identifiers import mask_uln
from portal.accounts import Role
from portal.web.ops_learner_pages import days_open, uln_error

SUPPORT = frozenset({"support"})
DESK = frozenset({"support", "dead-letters"})
ULN = "1000000043"
MERGED_ULN = "1026893096"
PLR = f"plr-projector/v1/learners/{ULN}/plr"
ACHIEVEMENT_ID = "6b1f1f6e-1c1e-4d4f-9a1a-1f2e3d4c5b6a"
FIRST_BATCH = "d07d33f8-0a1b-4c2d-8e3f-405162738495"
SECOND_BATCH = "5a398464-6d31-4fd2-8adf-538165ed7b09"
HELD_CHALLENGE = "0c9e6b2a-7d1f-4e3a-9b5c-2a8f6d4e1b37"
SENT_CHALLENGE = "1e8db2a9-3c4d-4e5f-8a6b-7c8d9e0f1a2b"
CORRECTING_BATCH = "984a090a-1b2c-4d3e-9f40-5162738495a6"


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def version(number: int, change: str, grade: str, status: str, batch_id: str, at: str) -> dict[str, Any]:
    return {
        "version": number,
        "change": change,
        "occurred_at": at,
        "batch_id": batch_id,
        "line": number + 3,
        "event_id": str(uuid.uuid4()),
        "status": status,
        "withdrawn": False,
        "grade": grade,
        "achievement_provider_ukprn": None,
        "language_for_assessment": None,
        "credits": None,
    }


ACHIEVEMENT = {
    "id": ACHIEVEMENT_ID,
    "source": "AO",
    "uln": ULN,
    "subject_code": "100/5001/2",
    "subject": "AQA GCSE in Mathematics (A* to G)",
    "qualification_type": "GCSE",
    "level": "2",
    "grade": "B",
    "achievement_award_date": "2026-08-21",
    "awarding_organisation_name": "AQA Education",
    "awarding_organisation_id": "RN9008",
    "achievement_provider_ukprn": None,
    "credits": None,
    "status": "F",
    "date_loaded": "2026-12-07T02:42:00Z",
    "under_data_challenge": "Y",
    "language_for_assessment": None,
    "pathway": None,
    "withdrawn": False,
    "history": [
        version(1, "recorded", "C", "P", FIRST_BATCH, "2026-12-07T02:42:00Z"),
        version(2, "superseded", "B", "F", SECOND_BATCH, "2026-07-01T09:05:00Z"),  # BST: 10:05 in the UK
    ],
}
DOCUMENT = {
    "environment": "live",
    "uln": ULN,
    "master_uln": MERGED_ULN,
    "ulns": [ULN, MERGED_ULN],
    "ability_to_share": 1,
    "learning_events": [ACHIEVEMENT],
    "withdrawn_not_shown": 0,
    "events_held_in_dead_letters": 2,
}
OPEN_CHALLENGE = {
    "challenge_id": HELD_CHALLENGE,
    "achievement_id": ACHIEVEMENT_ID,
    "ao_id": "RN9008",
    "uln": ULN,
    "state": "raised",
    "raised_at": "2026-12-01T10:00:00Z",
}


def with_the_learner(portal: StubbedPortal, document: dict[str, Any] = DOCUMENT) -> None:
    portal.on("GET", PLR, lambda _: httpx.Response(200, json=document))
    portal.on(
        "GET", "challenges/v1/challenges", lambda _: httpx.Response(200, json={"items": [OPEN_CHALLENGE], "next": None})
    )


def looked_up(portal: StubbedPortal, duties: frozenset[str] = DESK, uln: str = ULN) -> httpx.Response:
    client, session = portal.signed_in(Role.OPERATOR, duties)
    found = client.post("/ops/learners", data=form(session, uln=uln))
    assert found.status_code == 303, found.text
    page: httpx.Response = client.get(found.headers["location"])
    return page


def test_a_uln_is_judged_as_lrs_plr_show_judges_it() -> None:
    assert uln_error(ULN) is None
    assert uln_error("12345") == uln_error("0123456789") == uln_error("100000004x")
    assert "RV001" not in (uln_error("12345") or "") and "10 digits" in (uln_error("12345") or "")
    assert "RV003" in (uln_error("9999999999") or "")
    assert "RV002" in (uln_error("1000000044") or "")  # a digit mistyped: the check digit is wrong


def test_a_learner_is_looked_up_by_post_and_shown_at_an_address_that_names_no_learner(
    portal: StubbedPortal,
) -> None:
    with_the_learner(portal)
    client, session = portal.signed_in(Role.OPERATOR, SUPPORT)

    found = client.post("/ops/learners", data=form(session, uln=f" {ULN[:5]} {ULN[5:]} "))
    page = client.get(found.headers["location"])

    assert found.status_code == 303 and re.fullmatch(
        r"/ops/learners/found/[A-Za-z0-9_-]{16}", found.headers["location"]
    )
    assert page.status_code == 200, page.text
    assert ULN not in found.headers["location"] and ULN not in str(page.url)
    assert f"<title>Record of ULN {mask_uln(ULN)} \u2013 Learners" in page.text  # browser history keeps titles
    (read,) = portal.sent_to("GET", PLR)
    assert read.url.params["include_history"] == "true" and read.url.params["include_withdrawn"] == "true"
    assert read.headers["authorization"].startswith("Bearer ")  # the operator's own key: the projector's rules


def test_the_record_shows_each_achievement_its_versions_and_the_batch_of_each(portal: StubbedPortal) -> None:
    with_the_learner(portal)

    page = looked_up(portal).text

    achievement = page.split(f'data-achievement="{ACHIEVEMENT_ID}"', 1)[1]
    assert "100/5001/2 AQA GCSE in Mathematics (A* to G)" in achievement
    assert re.search(r'data-state="live">On the record</strong>\s*Final', achievement)
    assert "data-challenged>Under challenge" in achievement
    assert "data-grade>B<" in achievement and "21 August 2026" in achievement
    assert 'data-ao="RN9008">AQA Education (RN9008)' in achievement
    first, second = achievement.split('data-version="1"', 1)[1].split('data-version="2"', 1)
    assert "recorded" in first and "7 Dec 2026, 02:42" in first and ">C<" in first and "Provisional" in first
    assert f'href="/ops/batches/{FIRST_BATCH}"' in first and FIRST_BATCH[:8] in first
    assert "</a>, line 4</td>" in first and "</a>, line 5</td>" in second  # the line of its batch's file
    assert "superseded" in second and "1 Jul 2026, 10:05" in second and "Final" in second  # UK time, BST
    assert f'href="/ops/batches/{SECOND_BATCH}"' in second
    # its open challenge, and where the AO's challenges are listed
    assert f'data-open-challenge="{HELD_CHALLENGE}"' in achievement and "raised 1 Dec 2026, 10:00" in achievement
    assert 'href="/ops/challenges?ao=RN9008&amp;state=open"' in achievement


def test_merged_ulns_held_events_and_sharing_are_said(portal: StubbedPortal) -> None:
    with_the_learner(portal)

    desk = looked_up(portal, DESK).text
    support_only = looked_up(portal, SUPPORT).text

    assert f"ULN {ULN} was merged into {MERGED_ULN}" in desk and f"(also {MERGED_ULN})" in desk
    assert "data-recorded-under" in desk  # each achievement says its ULN
    assert 'data-held-in-dead-letters="2"' in desk and "2 events of this learner are held in dead letters" in desk
    assert 'see the <a class="govuk-link" href="/ops/dead-letters">Dead letters</a> page' in desk
    # no link to a page the operator's duties do not reach
    assert 'href="/ops/dead-letters"' not in support_only and "“dead-letters” duty" in support_only
    assert "Sharing with learning providers: yes." in desk


def test_a_mistyped_uln_is_said_on_the_form_and_no_service_is_asked(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR, SUPPORT)

    mistyped = client.post("/ops/learners", data=form(session, uln="1000000044"))

    assert mistyped.status_code == 400
    assert 'href="#uln"' in mistyped.text and "RV002" in mistyped.text
    assert "<title>Error: Learners" in mistyped.text
    assert not portal.sent_to("GET", "plr-projector/v1/learners/1000000044/plr")


def test_a_look_up_the_session_does_not_hold_is_the_empty_form(portal: StubbedPortal) -> None:
    with_the_learner(portal)
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)

    ended = client.get("/ops/learners/found/not-one-of-mine")

    assert ended.status_code == 200 and "data-look-up-ended" in ended.text
    assert not portal.sent_to("GET", PLR)


def test_an_empty_record_and_challenges_out_of_reach_are_said(portal: StubbedPortal) -> None:
    empty = {**DOCUMENT, "master_uln": ULN, "ulns": [ULN], "learning_events": [], "events_held_in_dead_letters": 0}
    portal.on("GET", PLR, lambda _: httpx.Response(200, json=empty))
    portal.on("GET", "challenges/v1/challenges", lambda _: httpx.Response(503, json={"title": "Unavailable"}))

    page = looked_up(portal).text

    assert "data-empty>No awarding organisation has recorded" in page and "data-challenges-unavailable" in page
    assert "data-held-in-dead-letters" not in page and "data-several-ulns" not in page


# --- challenges ---------------------------------------------------------------------------------------------


def challenge(challenge_id: str, ao_id: str, state: str, raised: datetime, **more: Any) -> dict[str, Any]:
    return {
        "challenge_id": challenge_id,
        "achievement_id": ACHIEVEMENT_ID,
        "ao_id": ao_id,
        "uln": ULN,
        "reason": "My grade was a B.",
        "state": state,
        "raised_at": raised.isoformat(),
        "acknowledged_at": None,
        "resolved_at": None,
        "resolution": None,
        "note": None,
        "personal_data_erased": False,
        "achievement": {
            "qualification_number": "10050012",
            "title": "AQA GCSE in Mathematics (A* to G)",
            "award_date": "2026-08-21",
            "grade": "C",
            "status": "P",
            "uln": ULN,
        },
        "correcting_batch_id": None,
        **more,
    }


NOW = datetime.now(UTC)
HELD = [{"ao_id": "RN9008", "notices": 1, "waiting_since": "2026-12-01T10:00:05Z", "contact_refused": False}]


def with_challenges(portal: StubbedPortal, items: list[dict[str, Any]], next_: str | None = None) -> None:
    def listed(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("after") == "made-up":
            return httpx.Response(422, json={"title": "Invalid request", "status": 422, "detail": "no such page"})
        return httpx.Response(200, json={"items": items, "next": next_})

    def deliveries(request: httpx.Request) -> httpx.Response:
        status = "held" if request.url.params["challenge"] == HELD_CHALLENGE else "sent"
        return httpx.Response(
            200, json=[{"id": str(uuid.uuid4()), "kind": "lrs.challenge.raised.v2", "status": status}]
        )

    portal.on("GET", "challenges/v1/challenges", listed)
    portal.on("GET", "notifier/v1/challenge-contacts/missing", lambda _: httpx.Response(200, json=HELD))
    portal.on("GET", "notifier/v1/ao/RN9008/challenge-contact", lambda _: httpx.Response(404, json={"title": "x"}))
    contact = {
        "ao_id": "RN9093",
        "given_name": "Jo",
        "family_name": "Bloggs",
        "telephone": "01632 960 000",
        "email": "challenges@pearson.example",
        "updated_at": "2026-11-01T09:00:00Z",
    }
    portal.on("GET", "notifier/v1/ao/RN9093/challenge-contact", lambda _: httpx.Response(200, json=contact))
    portal.on("GET", "notifier/v1/deliveries", deliveries)


def test_days_open_run_to_the_resolution_or_to_now() -> None:
    raised = datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert days_open({"raised_at": raised.isoformat()}, raised + timedelta(days=3, hours=1)) == 3
    resolved = {"raised_at": raised.isoformat(), "resolved_at": (raised + timedelta(days=1)).isoformat()}
    assert days_open(resolved, raised + timedelta(days=30)) == 1


def test_an_aos_challenges_say_their_age_state_and_whether_their_notice_to_the_ao_is_held(
    portal: StubbedPortal,
) -> None:
    with_challenges(portal, [challenge(HELD_CHALLENGE, "RN9008", "raised", NOW - timedelta(days=6, hours=1))])
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)

    page = client.get("/ops/challenges", params={"ao": " rn9008 ", "state": "open"})

    assert page.status_code == 200, page.text
    (listed,) = portal.sent_to("GET", "challenges/v1/challenges")
    assert listed.url.params["ao_id"] == "RN9008"
    assert listed.url.params.get_list("state") == ["raised", "acknowledged"]
    row = page.text.split(f'data-challenge="{HELD_CHALLENGE}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-days="6"' in row and 'data-notice="held"' in row and "the AO has no challenge contact" in row
    assert 'data-contact-state="none">AO\'s contact: none' in row
    assert f'data-learner="{ULN}"' in row and 'action="/ops/learners"' in row  # posted: no ULN in an address
    assert "100/5001/2" in row and "grade C (Provisional)" in row
    assert 'data-contact-of="RN9008" data-contact-state="none"' in page.text
    assert 'data-held-ao="RN9008"' in page.text and "No challenge contact: ask the AO to set one" in page.text
    assert "<title>Challenges of RN9008" in page.text


def test_every_aos_challenges_name_their_ao_and_link_the_batch_that_corrected_one(portal: StubbedPortal) -> None:
    items = [
        challenge(HELD_CHALLENGE, "RN9008", "raised", NOW - timedelta(days=2)),
        challenge(
            SENT_CHALLENGE,
            "RN9093",
            "resolved",
            NOW - timedelta(days=9),
            resolved_at=(NOW - timedelta(days=4)).isoformat(),
            resolution="corrected",
            correcting_batch_id=CORRECTING_BATCH,
        ),
    ]
    with_challenges(portal, items, next_="page-2")
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)

    page = client.get("/ops/challenges", params={"state": "any"}).text

    (listed,) = portal.sent_to("GET", "challenges/v1/challenges")
    assert "ao_id" not in listed.url.params and "state" not in listed.url.params
    resolved = page.split(f'data-challenge="{SENT_CHALLENGE}"', 1)[1].split("</tr>", 1)[0]
    assert f'href="/ops/batches/{CORRECTING_BATCH}"' in resolved and 'data-days="5"' in resolved
    assert 'data-notice="not-held"' in resolved and 'href="/ops/challenges?ao=RN9093&amp;state=any"' in resolved
    assert 'data-contact-state="set">AO\'s contact: set' in resolved
    # only the challenges of an AO with notices held are asked of the notifier one by one
    assert [sent.url.params["challenge"] for sent in portal.sent_to("GET", "notifier/v1/deliveries")] == [
        HELD_CHALLENGE
    ]
    assert 'href="/ops/challenges?ao=&amp;state=any&amp;after=page-2"' in page


def test_a_wrong_filter_is_said_and_a_made_up_page_starts_again(portal: StubbedPortal) -> None:
    with_challenges(portal, [])
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)

    wrong = client.get("/ops/challenges", params={"ao": "ao:RN9008", "state": "lost"})
    made_up = client.get("/ops/challenges", params={"ao": "RN9008", "after": "made-up"})

    assert wrong.status_code == 400 and 'href="#ao"' in wrong.text and 'href="#state"' in wrong.text
    assert not [sent for sent in portal.sent_to("GET", "challenges/v1/challenges") if "lost" in str(sent.url)]
    assert (made_up.status_code, made_up.headers["location"]) == (303, "/ops/challenges?ao=RN9008&state=open")


def test_the_notifier_out_of_reach_leaves_the_challenges_listed(portal: StubbedPortal) -> None:
    with_challenges(portal, [challenge(HELD_CHALLENGE, "RN9008", "raised", NOW)])
    portal.on("GET", "notifier/v1/challenge-contacts/missing", lambda _: httpx.Response(503, json={"title": "x"}))
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)

    page = client.get("/ops/challenges").text

    assert "data-held-unavailable" in page and 'data-notice="unknown"' in page
    assert f'data-challenge="{HELD_CHALLENGE}"' in page


def test_the_pages_need_the_support_duty_and_are_in_its_menu(portal: StubbedPortal) -> None:
    with_challenges(portal, [])
    support, _ = portal.signed_in(Role.OPERATOR, SUPPORT)
    other, other_session = portal.signed_in(Role.OPERATOR, frozenset({"dead-letters"}))
    ao_user, _ = portal.signed_in(Role.AO)

    menu = support.get("/ops/learners").text

    assert re.search(r'href="/ops/learners"[^>]*>\s*Learners<', menu)
    assert re.search(r'href="/ops/challenges"[^>]*>\s*Challenges<', menu)
    for path in ("/ops/learners", "/ops/challenges", "/ops/learners/found/x"):
        refused = other.get(path)
        assert refused.status_code == 403 and "needs the “support” duty" in refused.text
        assert ao_user.get(path).status_code == 403
    posted = other.post("/ops/learners", data=form(other_session, uln=ULN))
    assert posted.status_code == 403 and not portal.sent_to("GET", PLR)
    assert 'href="/ops/learners"' not in other.get("/ops/dead-letters").text
    assert not portal.sent_to("GET", "challenges/v1/challenges")  # refused before asking the service
