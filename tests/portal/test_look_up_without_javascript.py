"""A learner looked up in a browser without JavaScript: the look-up's POST is answered with a redirect to a page asked
by GET (Post/Redirect/Get), so that Reload, Back to the learner and Back to the form each ask a GET, never the
browser's "Confirm form resubmission" sending the ULN again, and no address the browser keeps names the learner."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, Request, expect
from tests.portal.conftest import SAMPLE_AO, PortalSystem, sign_in

pytestmark = pytest.mark.integration

ULN = "1000000043"  # a sample learner (reference/sample-learners.csv), registered by the portal system


@pytest.fixture
async def page_without_script(browser: Browser, portal_system: PortalSystem) -> AsyncIterator[Page]:
    context = await browser.new_context(java_script_enabled=False)
    page = await context.new_page()
    await sign_in(page, portal_system, "ao.user")
    try:
        yield page
    finally:
        await context.close()


async def test_reload_and_back_after_a_look_up_send_no_form_again(
    page_without_script: Page, portal_system: PortalSystem
) -> None:
    page, url = page_without_script, portal_system.url
    asked: list[tuple[str, str]] = []

    def seen(request: Request) -> None:
        if request.is_navigation_request():
            asked.append((request.method, request.url))

    page.on("request", seen)
    learner = page.get_by_role("heading", level=2, name=f"ULN {ULN}")
    form_heading = page.get_by_role("heading", level=1, name=f"A learner's achievements from {SAMPLE_AO}")
    await page.goto(f"{url}/learners")
    await page.get_by_label("Unique Learner Number (ULN)").fill(ULN)
    await page.get_by_label("Given name (optional)").fill("Lily")
    await page.get_by_role("button", name="Find achievements").click()
    await expect(learner).to_be_visible()
    found, looked_up = page.url, [method for method, _ in asked]
    asked.clear()

    await page.reload(timeout=15_000)
    await expect(learner).to_be_visible()
    assert asked == [("GET", found)]  # read again by GET: no form sent again
    assert ULN not in found and found.startswith(f"{url}/learners/found/")
    assert looked_up == ["GET", "POST", "GET"]  # the form, the look-up, its answer
    asked.clear()

    await page.goto(f"{url}/batches")  # on, then Back to the learner
    await page.go_back(timeout=15_000)  # without the redirect: net::ERR_CACHE_MISS, "Confirm form resubmission"
    await expect(learner).to_be_visible()
    assert page.url == found
    await page.go_back(timeout=15_000)  # Back again: the form
    await expect(form_heading).to_be_visible()
    await expect(learner).to_have_count(0)
    # autocomplete="off": the browser does not fill in again what was typed, for anyone to see on a shared screen
    await expect(page.get_by_label("Unique Learner Number (ULN)")).to_have_value("")
    await expect(page.get_by_label("Given name (optional)")).to_have_value("")
    assert all(method == "GET" for method, _ in asked), asked
    assert not [address for _, address in asked if ULN in address]
