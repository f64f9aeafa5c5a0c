"""The AO's challenge pages name the challenged achievement as a person knows it (qualification, title, award
date, grade, and its id), offer as the correction only the batches the challenges service takes (decision
0142), and say what a resolution means rather than its wire value (decision 0143)."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal, undocumented

from lrs_contracts.challenge import resolution_label
from portal.web.common import TEMPLATES

CHALLENGE_ID = uuid.UUID("0c9e6b2a-7d1f-4e3a-9b5c-2a8f6d4e1b37")
ACHIEVEMENT_ID = "66666666-7777-4888-9999-000000000000"
CORRECTING, UNRELATED = str(uuid.uuid4()), str(uuid.uuid4())


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def challenge(**changes: object) -> dict[str, object]:
    return {
        "challenge_id": str(CHALLENGE_ID),
        "achievement_id": ACHIEVEMENT_ID,
        "ao_id": "RN9093",
        "uln": "1000000043",
        "reason": "My grade was a 5.",
        "state": "acknowledged",
        "raised_at": "2026-11-30T10:00:00Z",
        "acknowledged_at": "2026-11-30T10:30:00Z",
        "resolved_at": None,
        "resolution": None,
        "note": None,
        "personal_data_erased": False,
        "achievement": {
            "qualification_number": "6001166X",
            "title": "Pearson BTEC Level 3 National Extended Diploma in Engineering",
            "award_date": "2026-08-20",
            "grade": "Merit",
        },
        "correcting_batch_id": None,
        **changes,
    }


def batch(batch_id: str, reference: str) -> dict[str, object]:
    """A completed batch sent after the challenge was raised."""
    return {
        "batch_id": batch_id,
        "status": "completed",
        "batch_reference": reference,
        "received_at": "2026-11-30T11:00:00Z",
        "decided_at": "2026-11-30T11:00:05Z",
    }


def with_a_challenge(portal: StubbedPortal, shown: dict[str, object]) -> None:
    """The challenge; two later completed batches of the AO, of which the service takes only CORRECTING."""
    portal.on("GET", f"challenges/v1/challenges/{CHALLENGE_ID}", lambda _: httpx.Response(200, json=shown))
    listed = {"items": [batch(UNRELATED, "OTHER-LEARNERS"), batch(CORRECTING, "FIX-GRADE")], "total": 2}
    portal.on("GET", "ingest/v1/batches", lambda _: httpx.Response(200, json=listed))
    taken = {"items": [{"batch_id": CORRECTING, "decided_at": "2026-11-30T11:00:05Z"}]}
    portal.on(
        "GET", f"challenges/v1/challenges/{CHALLENGE_ID}/correcting-batches", lambda _: httpx.Response(200, json=taken)
    )


def test_a_challenge_page_names_the_achievement_as_a_person_knows_it_and_keeps_its_id(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in()
    with_a_challenge(portal, challenge())

    page = client.get(f"/challenges/{CHALLENGE_ID}").text

    assert "600/1166/X Pearson BTEC Level 3 National Extended Diploma in Engineering" in page
    assert "20 August 2026" in page
    assert 'data-achievement="grade">Merit<' in page
    assert f'data-achievement="id">{ACHIEVEMENT_ID}<' in page


def test_a_merged_learners_challenge_names_the_uln_the_ao_recorded_the_achievement_under(portal: StubbedPortal) -> None:
    """Decision 0162: the AO is told of no ULN of the learner's where it recorded nothing, which would tell it of a
    merge. The challenges service answers the AO the recorded ULN; a challenge answered with the raising one (a
    service not yet upgraded) shows it nowhere either, and the learner is looked up by the recorded one."""
    client, _ = portal.signed_in()
    shown = challenge()
    shown["achievement"] = {**shown["achievement"], "uln": "6936002314"}  # type: ignore[dict-item]
    with_a_challenge(portal, shown)

    page = client.get(f"/challenges/{CHALLENGE_ID}").text

    assert "Challenge to an achievement of ULN 6936002314" in page
    assert "1000000043" not in page
    assert '<input type="hidden" name="uln" value="6936002314">' in page
    plain = challenge()
    with_a_challenge(portal, plain)
    assert '<input type="hidden" name="uln" value="1000000043">' in client.get(f"/challenges/{CHALLENGE_ID}").text


def test_a_challenge_corrected_since_says_its_grade_is_the_one_when_it_was_raised_not_now(
    portal: StubbedPortal,
) -> None:
    """Decision 0142 keeps the grade the achievement had when the challenge was raised, so the learner and the AO
    recognise it; once a batch corrected it (Distinction to Merit, say), it is not the grade on the record."""
    client, _ = portal.signed_in()
    kept = challenge()["achievement"]
    assert isinstance(kept, dict)
    corrected = challenge(
        achievement={**kept, "grade": "Distinction"},
        state="resolved",
        resolved_at="2026-12-01T09:00:00Z",
        resolution="corrected",
        correcting_batch_id=CORRECTING,
    )
    with_a_challenge(portal, corrected)
    portal.on(
        "GET", "challenges/v1/challenges", lambda _: httpx.Response(200, json={"items": [corrected], "next": None})
    )

    page = client.get(f"/challenges/{CHALLENGE_ID}").text
    inbox = client.get("/challenges").text
    every_resolved = client.get("/challenges/resolved").text

    assert re.search(
        r'<dt class="govuk-summary-list__key">Grade when raised</dt>'
        r'<dd class="govuk-summary-list__value" data-achievement="grade">Distinction</dd>',
        page,
    )
    assert ">Grade</dt>" not in page
    for listed in (inbox, every_resolved):
        assert "20 August 2026, grade Distinction when raised" in listed
        assert "grade Distinction<" not in listed


def test_a_challenge_without_a_kept_title_takes_the_catalogues(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in()
    kept = challenge()["achievement"]
    assert isinstance(kept, dict)
    catalogued = next(iter(portal.app.state.portal.catalogue.rows.values()))[0]
    untitled = {**kept, "qualification_number": catalogued.qualification_number, "title": None}
    with_a_challenge(portal, challenge(achievement=untitled))

    page = client.get(f"/challenges/{CHALLENGE_ID}").text

    assert catalogued.title in page


def test_only_the_batches_the_challenges_service_takes_as_the_correction_are_offered(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in()
    with_a_challenge(portal, challenge())

    page = client.get(f"/challenges/{CHALLENGE_ID}").text

    assert f'value="{CORRECTING}"' in page and "FIX-GRADE" in page
    assert UNRELATED not in page and "OTHER-LEARNERS" not in page


def test_a_resolved_challenge_says_the_data_was_confirmed_correct_not_upheld(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in()
    resolved = challenge(state="resolved", resolved_at="2026-12-01T09:00:00Z", resolution="upheld")
    with_a_challenge(portal, resolved)
    portal.on(
        "GET", "challenges/v1/challenges", lambda _: httpx.Response(200, json={"items": [resolved], "next": None})
    )

    page = client.get(f"/challenges/{CHALLENGE_ID}").text
    inbox = client.get("/challenges").text
    every_resolved = client.get("/challenges/resolved").text

    for shown in (page, inbox, every_resolved):
        assert 'data-resolution="upheld">Data confirmed correct<' in shown
        assert ">upheld<" not in shown
    assert "600/1166/X" in inbox and "20 August 2026, grade Merit when raised" in inbox


def test_pages_read_resolutions_with_the_contracts_words_and_an_unknown_one_as_it_came(portal: StubbedPortal) -> None:
    """One place for a resolution's words (lrs_contracts.challenge.resolution_label): no copy of them here."""
    assert TEMPLATES.filters["resolution_label"] is resolution_label
    client, _ = portal.signed_in()
    newer = challenge(state="resolved", resolved_at="2026-12-01T09:00:00Z", resolution="withdrawn-by-learner")
    with_a_challenge(portal, newer)
    # a resolution no contract names yet, as a newer challenges service would send it: not as documented, on purpose
    newer_answer = {"items": [newer], "next": None}
    portal.on(
        "GET", f"challenges/v1/challenges/{CHALLENGE_ID}", lambda _: undocumented(httpx.Response(200, json=newer))
    )
    portal.on("GET", "challenges/v1/challenges", lambda _: undocumented(httpx.Response(200, json=newer_answer)))

    for shown in (client.get(f"/challenges/{CHALLENGE_ID}").text, client.get("/challenges/resolved").text):
        assert 'data-resolution="withdrawn-by-learner">withdrawn-by-learner<' in shown
    with_a_challenge(portal, challenge())
    choices = client.get(f"/challenges/{CHALLENGE_ID}").text.replace("&#39;", "'")
    assert "Data corrected: the learner was right" in choices
    assert "Data confirmed correct: the data is right" in choices
    assert "Rejected: not a data error (an appeal, say)" in choices


def test_a_challenge_resolved_as_corrected_links_its_batch(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in()
    corrected = challenge(
        state="resolved", resolved_at="2026-12-01T09:00:00Z", resolution="corrected", correcting_batch_id=CORRECTING
    )
    with_a_challenge(portal, corrected)

    page = client.get(f"/challenges/{CHALLENGE_ID}").text

    assert "Data corrected</span> by batch" in page
    assert f'href="/batches/{CORRECTING}"' in page


def test_a_challenge_raised_before_its_achievement_was_kept_is_named_by_its_id(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in()
    with_a_challenge(portal, challenge(achievement=None))

    page = client.get(f"/challenges/{CHALLENGE_ID}").text

    assert f'data-achievement="id">{ACHIEVEMENT_ID}<' in page
    assert 'data-achievement="qualification"' not in page


def test_a_challenge_says_whether_its_result_was_provisional_or_final_when_raised(portal: StubbedPortal) -> None:
    """Decision 0183: the AO acts differently on a result it has not yet confirmed. A challenge raised before the
    status was kept says nothing of it."""
    client, _ = portal.signed_in()
    kept = challenge()["achievement"]
    assert isinstance(kept, dict)
    provisional = challenge(achievement={**kept, "grade": "Merit", "status": "P"})
    with_a_challenge(portal, provisional)
    portal.on(
        "GET", "challenges/v1/challenges", lambda _: httpx.Response(200, json={"items": [provisional], "next": None})
    )

    page = client.get(f"/challenges/{CHALLENGE_ID}").text
    inbox = client.get("/challenges").text

    assert re.search(
        r'<dt class="govuk-summary-list__key">Result when raised</dt>'
        r'<dd class="govuk-summary-list__value" data-achievement="status">Provisional</dd>',
        page,
    )
    assert "grade Merit (Provisional) when raised" in inbox
