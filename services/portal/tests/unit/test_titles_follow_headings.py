"""A page's <title> says what its heading says (the first thing a screen reader reads, and the tab's and history's
name): each step of erasing a learner and of resetting a Sandpit, and a challenge, named by what it is about."""

from __future__ import annotations

import re

import httpx
from services.portal.tests.unit.stubbed_portal import form, shown_after, stubbed_portal
from services.portal.tests.unit.test_batch_pages import page
from services.portal.tests.unit.test_challenge_pages import CHALLENGE_ID, challenge, with_a_challenge

from portal.accounts import Role

SUFFIX = " \u2013 LRS Organisation Portal"


def title(html: str) -> str:
    found = re.search(r"<title>(.*?)</title>", html, re.DOTALL)
    assert found is not None
    return found.group(1).replace("&#39;", "'")


def heading(html: str) -> str:
    found = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.DOTALL)
    assert found is not None
    return found.group(1)


def test_each_step_of_erasing_a_learner_is_titled_as_its_heading() -> None:
    portal = stubbed_portal()
    portal.on("GET", "validation/v1/admin/erasures", lambda _: httpx.Response(200, json={"erasures": [], "next": None}))
    erasure = {
        "erasure_id": "e1",
        "uln": "1000000043",
        "erased_by": "operator:dpo",
        "erased_at": "2027-05-03T08:15:00Z",
    }
    portal.on("POST", "validation/v1/admin/learners/1000000043/erasure", lambda _: httpx.Response(201, json=erasure))
    merged_with = {"1000000043": [], "4751158642": ["5449721047"]}

    def reach(request: httpx.Request) -> httpx.Response:
        uln = request.url.path.split("/")[-2]
        return httpx.Response(200, json={"uln": uln, "erased_with": merged_with[uln], "erased": False, "erasure": None})

    for uln in merged_with:
        portal.on("GET", f"validation/v1/admin/learners/{uln}/erasure", reach)
    client, operator = portal.signed_in(Role.OPERATOR)

    confirming = client.post("/ops/erasures/check", data=form(operator, uln="1000000043", reason="created in error"))
    merged = client.post("/ops/erasures/check", data=form(operator, uln="4751158642", reason="duplicate"))
    done = shown_after(client, client.post("/ops/erasures", data=form(operator, uln="1000000043", reason="x")))

    assert title(confirming.text) == f"Erase learner 1000000043?{SUFFIX}" == f"{heading(confirming.text)}{SUFFIX}"
    said = f"Erase learner 4751158642 and the ULN merged with them?{SUFFIX}"
    assert title(merged.text) == said == f"{heading(merged.text)}{SUFFIX}"
    assert title(done.text) == f"Learner 1000000043 is erased{SUFFIX}" == f"{heading(done.text)}{SUFFIX}"


def test_each_step_of_resetting_a_sandpit_is_titled_as_its_heading() -> None:
    portal = stubbed_portal()
    _, user = portal.signed_in()
    sandpit = {"sandpit": True, "base": "/sandpit", "current_path": "/sandpit/reset", "user": user}
    reset = {"reset_id": "r1", "ao_id": "RN9093", "status": "running"}

    asking = page("sandpit_reset.html", reset=None, **sandpit)
    resetting = page("sandpit_reset.html", reset=reset, done=False, **sandpit)
    done = page("sandpit_reset.html", reset={**reset, "status": "done"}, done=True, **sandpit)

    for shown, said in (
        (asking, "Reset your Sandpit?"),
        (resetting, "Resetting your Sandpit"),
        (done, "Your Sandpit is empty"),
    ):
        assert title(shown) == f"SANDPIT: {said}{SUFFIX}" and heading(shown) == said


def test_a_challenge_page_is_titled_by_what_the_challenge_is_about() -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in()
    with_a_challenge(portal, challenge())

    shown = client.get(f"/challenges/{CHALLENGE_ID}").text

    # the title, kept in browser history, shows the ULN masked as logs do; the heading shows it whole
    assert title(shown) == f"Challenge to an achievement of ULN ******0043 (600/1166/X){SUFFIX}"  # which one
    assert heading(shown) == "Challenge to an achievement of ULN 1000000043"
