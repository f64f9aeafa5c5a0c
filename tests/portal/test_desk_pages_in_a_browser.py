"""The service desk's portal pages in a real browser against the whole system: an operator with the `support` duty
alone finds a learner's record (each version with the batch that made it, linked to the operators' batch page) and
the challenge the learner raised, with its notice to the AO held for want of a challenge contact: what tickets had
to ask of `lrs plr show --history`, `lrs challenges list --ao` and `lrs challenges waiting`."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect
from tests.portal.conftest import SAMPLE_AO, PortalSystem
from tests.portal.test_portal_in_a_browser import serious_violations
from tests.support.learners import json_batch, json_record, learners_csv, new_learner
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

QAN = "100/5005/X"  # Pearson BTEC Level 3 National Diploma in Business: NQF, so it may be Provisional
DESK = "desk.agent"


async def _decided(system: PortalSystem, batch: dict[str, Any]) -> str:
    async with await system.client("ingest", f"ao:{SAMPLE_AO}") as ingest:
        response = await ingest.post("/v1/batches", json=batch)
        assert response.status_code == 202, response.text
        batch_id: str = response.json()["batch_id"]

        async def view() -> dict[str, Any] | None:
            shown: dict[str, Any] = (await ingest.get(f"/v1/batches/{batch_id}")).json()
            return shown if shown["status"] in ("completed", "failed", "abandoned") else None

        decided = await eventually(view, within=120, what=f"batch {batch_id} decided")
    assert (decided["status"], decided["counts"]["accepted"]) == ("completed", 1), decided
    return batch_id


async def _learner_with_a_challenged_final(system: PortalSystem) -> tuple[str, str, str, str]:
    """A learner whose Provisional a Final superseded, who challenged it: (ULN, the two batches, the challenge)."""
    learner = new_learner()
    async with await system.client("validation", "operator:tests") as validation:
        imported = await validation.post(
            "/v1/learners/import", content=learners_csv([learner]), headers={"Content-Type": "text/csv"}
        )
        assert imported.status_code == 201, imported.text
    provisional = await _decided(system, json_batch(SAMPLE_AO, [json_record(learner, QAN, "Merit")], "Provisional"))
    final = await _decided(system, json_batch(SAMPLE_AO, [json_record(learner, QAN, "Distinction")]))
    uln = learner["uln"]
    async with await system.client("plr-projector", "operator:tests") as projector:

        async def superseded() -> str | None:
            read = await projector.get(f"/v1/learners/{uln}/plr", params={"include_history": "true"})
            events = read.json()["learning_events"] if read.status_code == 200 else []
            return str(events[0]["id"]) if events and len(events[0].get("history") or ()) == 2 else None

        achievement_id = await eventually(superseded, within=60, what="the Final on the PLR")
    async with await system.client("challenges", f"learner:{uln}") as challenges:

        async def raised() -> str | None:
            answer = await challenges.post(
                "/v1/challenges", json={"achievement_id": achievement_id, "reason": "My grade was a Merit."}
            )
            return str(answer.json()["challenge_id"]) if answer.status_code == 201 else None

        challenge_id = await eventually(raised, within=60, what="the challenge raised")
    async with await system.client("plr-projector", "operator:tests") as projector:

        async def flagged() -> bool | None:
            read = (await projector.get(f"/v1/learners/{uln}/plr")).json()
            return read["learning_events"][0]["under_data_challenge"] == "Y" or None

        await eventually(flagged, within=60, what="the achievement flagged as challenged on the PLR")
    return uln, provisional, final, challenge_id


@pytest.fixture
async def desk_page(browser: Browser, portal_system: PortalSystem) -> AsyncIterator[Page]:
    """The service desk: an operator whose only duty is `support`."""
    if DESK not in portal_system.passwords:
        async with await portal_system.client("portal", "operator:tests") as accounts:
            body = {"username": DESK, "display_name": "Desk Agent", "role": "operator", "scopes": ["support"]}
            response = await accounts.post("/v1/admin/users", json=body)
            response.raise_for_status()
            portal_system.passwords[DESK] = response.json()["password"]
    context = await browser.new_context(bypass_csp=True)
    page = await context.new_page()
    await page.goto(f"{portal_system.url}/sign-in")
    await page.get_by_label("Username").fill(DESK)
    await page.get_by_label("Password", exact=True).fill(portal_system.passwords[DESK])
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(r".*/ops/batches$"))  # the first page the support duty reaches
    try:
        yield page
    finally:
        await context.close()


async def test_the_desk_finds_a_learners_versions_their_batches_and_a_held_challenge_notice(
    desk_page: Page, portal_system: PortalSystem
) -> None:
    url = portal_system.url
    uln, provisional, final, challenge_id = await _learner_with_a_challenged_final(portal_system)
    page = desk_page
    menu = page.get_by_role("navigation", name="Menu")
    await expect(menu.get_by_role("link", name="Learners", exact=True)).to_be_visible()
    await expect(menu.get_by_role("link", name="Challenges", exact=True)).to_be_visible()

    await menu.get_by_role("link", name="Learners", exact=True).click()
    await page.get_by_label("Unique Learner Number (ULN)").fill(uln)
    await page.get_by_role("button", name="Find the learner's record").click()
    await expect(page).to_have_url(re.compile(r"/ops/learners/found/[A-Za-z0-9_-]+$"))
    assert uln not in page.url
    achievement = page.locator(f'[data-qan="{QAN}"]')
    await expect(achievement.locator("[data-status]")).to_contain_text("Final")
    await expect(achievement.locator("[data-challenged]")).to_be_visible()
    await expect(achievement.locator("[data-grade]")).to_have_text("Distinction")
    await achievement.locator("details summary").click()
    first, second = achievement.locator('[data-version="1"]'), achievement.locator('[data-version="2"]')
    await expect(first).to_contain_text("recorded")
    await expect(first).to_contain_text("Provisional")
    await expect(second).to_contain_text("superseded")
    await expect(first.get_by_role("link")).to_have_attribute("href", f"/ops/batches/{provisional}")
    await expect(second.get_by_role("link")).to_have_attribute("href", f"/ops/batches/{final}")
    assert await serious_violations(page) == []
    await second.get_by_role("link").click()
    await expect(page).to_have_url(f"{url}/ops/batches/{final}")
    await expect(page.locator("#batch-status [data-status]")).to_have_attribute("data-status", "completed")

    # the challenge, its notice to the AO held: the AO has no challenge contact (the notifier takes a moment)
    async def held() -> bool | None:
        await page.goto(f"{url}/ops/challenges?ao={SAMPLE_AO.lower()}&state=open")
        notice = page.locator(f'[data-challenge="{challenge_id}"] [data-notice]')
        return await notice.get_attribute("data-notice") == "held" or None

    await eventually(held, within=60, what="the challenge's notice held")
    row = page.locator(f'[data-challenge="{challenge_id}"]')
    await expect(row.locator("[data-days]")).to_have_attribute("data-days", "0")
    await expect(page.locator(f'[data-held-ao="{SAMPLE_AO}"]')).to_contain_text("No challenge contact")
    await expect(page.locator(f'[data-contact-of="{SAMPLE_AO}"]')).to_have_attribute("data-contact-state", "none")
    assert await serious_violations(page) == []
    # from the challenge to the learner's record, the ULN posted, never in an address
    await row.get_by_role("button").click()
    await expect(page).to_have_url(re.compile(r"/ops/learners/found/[A-Za-z0-9_-]+$"))
    await expect(page.locator(f'h2[data-uln="{uln}"]')).to_be_visible()
