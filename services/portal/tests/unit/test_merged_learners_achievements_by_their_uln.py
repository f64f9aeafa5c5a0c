"""A merged learner's achievements on the learner page (decision 0031): achievements recorded before a merge stay under
the ULN they were recorded under, two of one key (QAN, award date) can be shown side by side, and a record acts on the
one under the ULN it names. So each achievement's Update, Withdraw and Reinstate buttons name the ULN it is recorded
under, never the ULN typed in the search box, and the page says which ULN each is under (in words, not colour)."""

from __future__ import annotations

import html
import re

import httpx
from fastapi.testclient import TestClient
from services.portal.tests.unit.stubbed_portal import form, stubbed_portal
from services.portal.tests.unit.test_learner_update_link import ACHIEVEMENT, _Buttons, _filled

from portal.accounts import Role

MASTER = "5900000000"
MERGED = "5900000019"  # merged into MASTER after a Provisional was recorded under each
QAN = "100/5005/X"
FINAL_ID, STRAY_ID = "1d2c3b4a-0000-4000-8000-000000000001", "1d2c3b4a-0000-4000-8000-000000000002"
FINAL = {
    **ACHIEVEMENT,
    "id": FINAL_ID,
    "uln": MASTER,
    "subject_code": QAN,
    "status": "F",
    "grade": "Distinction",
    "achievement_award_date": "2026-08-20",
    "pathway": None,
    "credits": None,
}
STRAY = {**FINAL, "id": STRAY_ID, "uln": MERGED, "status": "P", "grade": "Merit"}


def _plr(looked_up: str, *events: dict[str, object]) -> dict[str, object]:
    return {"uln": looked_up, "master_uln": MASTER, "ulns": [MASTER, MERGED], "learning_events": list(events)}


def _looked_up(looked_up: str, *events: dict[str, object]) -> tuple[TestClient, str]:
    portal = stubbed_portal()
    client, person = portal.signed_in(Role.AO)
    plr = _plr(looked_up, *events)
    portal.on("GET", "plr-projector/v1/ao/achievements", lambda _: httpx.Response(200, json=plr))
    portal.on("GET", "challenges/v1/challenges", lambda _: httpx.Response(200, json={"items": [], "next": None}))
    page = client.post(
        "/learners", data=form(person, uln=looked_up, given_name="Dupe", family_name="Two"), follow_redirects=True
    )
    assert page.status_code == 200
    return client, page.text


def _achievements(page: str) -> dict[str, str]:
    """Each achievement's part of the page, by its id."""
    parts = re.split(r'(?=<div class="portal-finding" data-achievement=")', page)[1:]
    return {re.search(r'data-achievement="([^"]+)"', part).group(1): part for part in parts}  # type: ignore[union-attr]


def _posted(part: str) -> dict[str, dict[str, str]]:
    """What each of an achievement's buttons posts, by its action."""
    parser = _Buttons()
    parser.feed(part)
    return {button.fields["action"]: button.fields for button in parser.found}


def _filled_in(client: TestClient, part: str) -> dict[str, dict[str, str | None]]:
    """What each of an achievement's buttons fills in the direct-entry form with (the ULN and names), by its action."""
    entries = {
        action: client.post("/direct-entry/prefilled", data=fields).text for action, fields in _posted(part).items()
    }
    return {
        action: {name: _filled(entry, name) for name in ("uln", "given_name", "family_name")}
        for action, entry in entries.items()
    }


def _recorded_under(part: str) -> str | None:
    found = re.search(
        r'<dt class="govuk-summary-list__key">Recorded under ULN</dt><dd class="govuk-summary-list__value">([^<]*)</dd>',
        part,
    )
    return found.group(1) if found else None


def test_each_achievements_buttons_name_the_uln_it_is_recorded_under_not_the_one_typed() -> None:
    """The walk-through's case: looked up under the master, Withdraw on the stray Provisional recorded under the merged
    ULN posted the master's ULN, and so withdrew the learner's Final."""
    client, page = _looked_up(MASTER, FINAL, STRAY)
    achievements = _achievements(page)

    final, stray = _filled_in(client, achievements[FINAL_ID]), _filled_in(client, achievements[STRAY_ID])
    assert {action: fields["uln"] for action, fields in stray.items()} == {"Update": MERGED, "Withdraw": MERGED}
    assert {action: fields["uln"] for action, fields in final.items()} == {"Update": MASTER, "Withdraw": MASTER}
    assert stray["Withdraw"]["given_name"] == "Dupe" and stray["Withdraw"]["family_name"] == "Two"


def test_looked_up_under_the_merged_uln_the_final_under_the_master_is_acted_on_under_the_master() -> None:
    """The second case: from the old ULN, Withdraw on the live Final was refused RV015 (it named the old ULN, whose own
    achievement was already withdrawn)."""
    client, page = _looked_up(MERGED, FINAL, {**STRAY, "withdrawn": True})
    achievements = _achievements(page)

    assert _filled_in(client, achievements[FINAL_ID])["Withdraw"]["uln"] == MASTER
    assert _filled_in(client, achievements[STRAY_ID])["Reinstate"]["uln"] == MERGED
    assert f"ULN {MERGED} (merged into {MASTER})" in page


def test_the_page_says_which_uln_each_achievement_is_recorded_under_in_words() -> None:
    _, page = _looked_up(MASTER, FINAL, STRAY)
    achievements = _achievements(page)

    assert _recorded_under(achievements[FINAL_ID]) == MASTER
    assert _recorded_under(achievements[STRAY_ID]) == MERGED
    said = " ".join(re.search(r"<p [^>]*data-several-ulns>(.*?)</p>", page, re.DOTALL).group(1).split())  # type: ignore[union-attr]
    assert html.unescape(said).startswith(f"This learner has more than one ULN (also {MERGED}).")


def test_the_two_achievements_of_one_key_have_buttons_and_histories_of_different_names() -> None:
    """WCAG 2.4.6: same QAN, same award date; a screen reader's list of buttons tells them apart by the ULN."""
    history = [
        {
            "occurred_at": "2026-08-21T09:00:00Z",
            "change": "recorded",
            "grade": "Merit",
            "status": "P",
            "withdrawn": False,
            "batch_id": "5f0c2d1e-0000-4000-8000-000000000001",
        }
    ]
    _, page = _looked_up(MASTER, {**FINAL, "history": history}, {**STRAY, "history": history})

    parser = _Buttons()
    parser.feed(page)
    said = [" ".join(button.text.split()) for button in parser.found]
    assert "Withdraw 100/5005/X awarded 20 August 2026 under ULN 5900000019" in said
    assert len(said) == len(set(said)) == 4, said
    summaries = re.findall(r'<span class="govuk-details__summary-text">(.*?)</summary>', page, re.DOTALL)
    regions = re.findall(r'role="region" aria-label="([^"]*)"', page)
    assert len(set(summaries)) == len(summaries) == 2 and len(set(regions)) == len(regions) == 2, (summaries, regions)


def test_a_learner_of_one_uln_is_shown_as_before() -> None:
    portal = stubbed_portal()
    client, person = portal.signed_in(Role.AO)
    plr = {"uln": MASTER, "master_uln": MASTER, "ulns": [MASTER], "learning_events": [FINAL]}
    portal.on("GET", "plr-projector/v1/ao/achievements", lambda _: httpx.Response(200, json=plr))
    portal.on("GET", "challenges/v1/challenges", lambda _: httpx.Response(200, json={"items": [], "next": None}))

    page = client.post("/learners", data=form(person, uln=MASTER), follow_redirects=True).text

    assert "Recorded under ULN" not in page and "data-several-ulns" not in page
    assert 'Withdraw<span class="govuk-visually-hidden"> 100/5005/X awarded 20 August 2026</span>' in page


def test_the_withdraw_button_fills_in_the_form_with_the_achievements_own_uln() -> None:
    client, page = _looked_up(MASTER, FINAL, STRAY)
    withdraw = _posted(_achievements(page)[STRAY_ID])["Withdraw"]

    entry = client.post("/direct-entry/prefilled", data=withdraw)

    assert entry.status_code == 200
    assert _filled(entry.text, "uln") == MERGED
    assert re.search(r'<option value="Withdraw" selected', entry.text)


def test_filling_in_the_recorded_achievement_takes_the_one_under_the_uln_typed() -> None:
    """An Update of the stray Provisional typed by hand (or from its button), then "Fill in the recorded achievement":
    the grade filled in is the one recorded under the ULN typed, not the other ULN's achievement of the same key."""
    portal = stubbed_portal()
    client, person = portal.signed_in(Role.AO)
    plr = _plr(MERGED, FINAL, STRAY)
    portal.on("GET", "plr-projector/v1/ao/achievements", lambda _: httpx.Response(200, json=plr))
    values = {
        "action": "Update",
        "job_type": "Final",
        "uln": MERGED,
        "given_name": "Dupe",
        "family_name": "Two",
        "qualification_number": QAN,
        "award_date": "2026-08-20",
        "grade": "",
        "notification_email": "results@ao.example",
    }

    entry = client.post("/direct-entry/recorded", data=form(person, **values))

    assert entry.status_code == 200
    assert (_filled(entry.text, "uln"), _filled(entry.text, "grade")) == (MERGED, "Merit")
