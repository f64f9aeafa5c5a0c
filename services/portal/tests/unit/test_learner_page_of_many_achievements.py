"""A learner of many achievements (a backfilled history: 222 of one AO's) on the learner page: each achievement's
Update, Withdraw and Reinstate buttons post only which achievement of which look-up they act on, and the form they
open is filled in from the learner's record the portal reads (the AO's own), not from what is posted. The page stays
small (it was ~4.6 KB an achievement, 1.0 MB for 222, when each button repeated the learner and every field), and a
button still opens the form filled in as before; nothing posted names the learner, and a button of another
session's look-up, or naming an achievement not on the record read, fills in nothing of it."""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal
from services.portal.tests.unit.test_learner_update_link import ACHIEVEMENT, ULN, _Buttons, _filled

from portal.accounts import Role

MANY = 200
# Bytes of HTML: the page of MANY achievements, each with a History of one change (979,305 when each button repeated
# the learner and every field; the summary and History of each achievement, shown as before, are ~3 KB of it), and
# one achievement's Update and Withdraw buttons (2,036 then).
SMALL_ENOUGH = 850_000
BUTTONS_SMALL_ENOUGH = 1_300
HISTORY = [
    {
        "occurred_at": "2025-04-01T09:00:00Z",
        "change": "created",
        "grade": "Pass",
        "status": "F",
        "withdrawn": False,
        "batch_id": "5f0c2d1e-0000-4000-8000-000000000001",
    }
]


def _achievement(n: int) -> dict[str, object]:
    return {
        **ACHIEVEMENT,
        "id": f"0b6f3c1e-8f4a-4d52-9a0e-{n:012d}",
        "subject_code": f"601/{n:04d}/1",
        "grade": f"Grade {n}",
        "achievement_award_date": f"20{10 + n % 15:02d}-0{1 + n % 9}-1{n % 10}",
        "achievement_provider_ukprn": f"1{n:07d}",
        "credits": n,
        "withdrawn": n % 10 == 9,
        "history": HISTORY,
    }


EVENTS = [_achievement(n) for n in range(MANY)]


def _answering(portal: StubbedPortal, events: list[dict[str, object]]) -> None:
    plr = {"uln": ULN, "master_uln": None, "ulns": [ULN], "learning_events": events}
    portal.on("GET", "plr-projector/v1/ao/achievements", lambda _: httpx.Response(200, json=plr))
    portal.on("GET", "challenges/v1/challenges", lambda _: httpx.Response(200, json={"items": [], "next": None}))


def _looked_up(portal: StubbedPortal, **names: str) -> tuple[TestClient, str]:
    client, person = portal.signed_in(Role.AO)
    page = client.post("/learners", data=form(person, uln=ULN, **names), follow_redirects=True)
    assert page.status_code == 200
    return client, page.text


def _buttons_by_achievement(page: str) -> dict[str, dict[str, dict[str, str]]]:
    """What each achievement's buttons post, by the achievement's id and the button's action."""
    found: dict[str, dict[str, dict[str, str]]] = {}
    for part in re.split(r'(?=<div class="portal-finding" data-achievement=")', page)[1:]:
        parser = _Buttons()
        parser.feed(part)
        achievement = re.search(r'data-achievement="([^"]+)"', part).group(1)  # type: ignore[union-attr]
        found[achievement] = {button.fields["action"]: button.fields for button in parser.found}
    return found


def test_a_learner_of_many_achievements_is_a_small_page_whose_every_button_fills_in_the_form() -> None:
    portal = stubbed_portal()
    _answering(portal, EVENTS)
    client, page = _looked_up(portal, given_name="Zoë", family_name="O'Brien-Smith")
    found = _buttons_by_achievement(page)

    assert len(page.encode()) < SMALL_ENOUGH, len(page.encode())
    buttons = re.findall(r"<div class=\"portal-actions\" data-actions>.*?\n  </div>", page, re.DOTALL)
    assert len(buttons) == MANY
    assert max(len(part.encode()) for part in buttons) < BUTTONS_SMALL_ENOUGH, max(len(part) for part in buttons)
    assert len(found) == MANY
    for event in (EVENTS[0], EVENTS[9], EVENTS[137], EVENTS[-1]):
        actions = found[str(event["id"])]
        assert set(actions) == ({"Reinstate"} if event["withdrawn"] else {"Update", "Withdraw"})
        for action, fields in actions.items():
            assert ULN not in fields.values() and "Zoë" not in fields.values()  # the learner is read, not posted
            entry = client.post("/direct-entry/prefilled", data=fields)
            assert entry.status_code == 200, (action, entry.text[:500])
            assert re.search(rf'<option value="{action}" selected', entry.text), action
            expected = {
                "uln": ULN,
                "given_name": "Zoë",
                "family_name": "O'Brien-Smith",
                "qualification_number": event["subject_code"],
                "award_date": event["achievement_award_date"],
                "pathway": "Route B",
                "grade": event["grade"] if action == "Update" else "",
                "centre_ukprn": event["achievement_provider_ukprn"] if action == "Update" else "",
                "credits": str(event["credits"]) if action == "Update" else "",
            }
            for name, value in expected.items():
                assert _filled(entry.text, name) == value, (event["id"], action, name)


def test_what_a_button_posts_is_not_taken_for_what_the_record_holds() -> None:
    """A grade, a ULN or names posted beside the achievement are not filled in: the record read is."""
    portal = stubbed_portal()
    _answering(portal, EVENTS[:3])
    client, page = _looked_up(portal, given_name="Ann", family_name="Lee")
    update = _buttons_by_achievement(page)[str(EVENTS[1]["id"])]["Update"]

    entry = client.post(
        "/direct-entry/prefilled", data={**update, "grade": "Distinction*", "uln": "1000000051", "given_name": "Bo"}
    )

    assert entry.status_code == 200
    filled = {name: _filled(entry.text, name) for name in ("uln", "given_name", "grade")}
    assert filled == {"uln": ULN, "given_name": "Ann", "grade": "Grade 1"}


def test_another_sessions_look_up_fills_in_nothing_of_its_learner() -> None:
    portal = stubbed_portal()
    _answering(portal, EVENTS[:3])
    _, page = _looked_up(portal, given_name="Ann", family_name="Lee")
    update = _buttons_by_achievement(page)[str(EVENTS[0]["id"])]["Update"]
    other, person = portal.signed_in(Role.AO)  # another person of the AO: the look-up is the first one's

    entry = other.post("/direct-entry/prefilled", data={**update, "csrf_token": person.csrf_token})

    assert entry.status_code == 200 and "data-look-up-ended" in entry.text
    assert ULN not in entry.text and "Ann" not in entry.text


def test_an_achievement_no_longer_on_the_record_fills_in_nothing() -> None:
    portal = stubbed_portal()
    _answering(portal, EVENTS[:3])
    client, page = _looked_up(portal)
    update = _buttons_by_achievement(page)[str(EVENTS[0]["id"])]["Update"]

    entry = client.post("/direct-entry/prefilled", data={**update, "achievement": "not-one-of-the-records"})

    assert entry.status_code == 303
    assert re.fullmatch(r"/learners/found/[^/]+", entry.headers["location"])
