"""An erased learner's results can no longer be changed or withdrawn (every record for them is refused RV004): the
learner page offers no Update, Withdraw or Reinstate for them, and says why."""

from __future__ import annotations

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import form, stubbed_portal
from services.portal.tests.unit.test_learner_update_link import ACHIEVEMENT, ULN, buttons

from portal.accounts import Role

SAID = "This learner's record was erased, so their results can no longer be changed or withdrawn"


def _learner_page(*, erased: bool, withdrawn: bool) -> str:
    portal = stubbed_portal()
    client, person = portal.signed_in(Role.AO)
    plr = {
        "uln": ULN,
        "master_uln": None,
        "ulns": [ULN],
        "learner_erased": erased,
        "learning_events": [{**ACHIEVEMENT, "withdrawn": withdrawn}],
    }
    portal.on("GET", "plr-projector/v1/ao/achievements", lambda _: httpx.Response(200, json=plr))
    portal.on("GET", "challenges/v1/challenges", lambda _: httpx.Response(200, json={"items": [], "next": None}))
    page = client.post("/learners", data=form(person, uln=ULN), follow_redirects=True)
    assert page.status_code == 200
    text: str = page.text
    return text


@pytest.mark.parametrize("withdrawn", [False, True], ids=["live", "withdrawn"])
def test_an_erased_learners_achievements_have_no_buttons_and_the_page_says_why(withdrawn: bool) -> None:
    page = _learner_page(erased=True, withdrawn=withdrawn)

    assert buttons(page) == {}
    assert SAID in page
    assert "at their request" not in page  # operators erase test learners and records made in error too
    assert "60190541" in page  # the achievement itself is still shown


def test_a_learner_not_erased_keeps_their_buttons() -> None:
    page = _learner_page(erased=False, withdrawn=False)

    assert set(buttons(page)) == {"Update", "Withdraw"}
    assert SAID not in page
