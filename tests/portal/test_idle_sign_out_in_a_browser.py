"""A tab left open is signed out when its session has been idle for the idle limit (decision 0040, later note of
2026-12-07, session 60), here a portal of one minute's idle limit beside the module's own, on its database, and the
page's own clock, nothing of the session touched by hand. The tab is left on a batch page that follows a batch still
waiting (a maintenance pause, say): its following keeps nothing, so at the end of the minute the page goes to the
sign-in page, and stays there: its "signed out" comes once the session has ended, and asks nothing that keeps it.
(Before, the page said the time left rounded down and went a moment early; the sign-in page found the session live,
kept it and sent the page back, and every poll of the status kept the session too: signed in for 12 hours.)"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import AsyncIterator

import pytest
from bench.processes import free_port
from playwright.async_api import Browser, Request, Route, expect
from tests.portal.conftest import PortalProcess, PortalSystem, sign_in
from tests.portal.flows import SAMPLES, upload

pytestmark = pytest.mark.integration

IDLE_MINUTES = 1


@pytest.fixture(scope="module")
async def short_idle(portal_system: PortalSystem) -> AsyncIterator[PortalSystem]:
    """The module's system seen through a second portal whose sessions end after a minute without a request."""
    port = free_port()
    env = {
        **portal_system.portal.env,
        "PORTAL_PORT": str(port),
        "PORTAL_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PORTAL_SESSION_IDLE_MINUTES": str(IDLE_MINUTES),
    }
    portal = PortalProcess("portal", port, env, portal_system.portal.log_path.with_name("portal-short-idle.log"))
    portal.start()
    try:
        await portal.wait_ready()
        yield dataclasses.replace(portal_system, portal=portal)
    finally:
        portal.stop()


async def test_a_batch_page_left_open_signs_out_after_the_idle_limit(
    browser: Browser, short_idle: PortalSystem
) -> None:
    url = short_idle.url
    context = await browser.new_context()
    page = await context.new_page()
    await sign_in(page, short_idle, "ao.user")
    batch_id = (await upload(page, url, SAMPLES / "sample-100.csv")).batch_id
    polls: list[Request] = []

    async def drawn_waiting(route: Route) -> None:
        """The batch page as the portal draws it while the batch waits for its decision."""
        answer = await route.fetch(max_redirects=0)
        body = (await answer.text()).replace('data-decided="true"', 'data-decided="false"')
        await route.fulfill(response=answer, body=body)

    async def still_waiting(route: Route) -> None:
        """Each poll reaches the portal as it would; its answer says the batch still waits."""
        polls.append(route.request)
        answer = await route.fetch(max_redirects=0)
        if answer.status != 200:
            await route.fulfill(response=answer)
            return
        await route.fulfill(response=answer, body=json.dumps({"status": "received", "decided": False}))

    await page.route(f"{url}/batches/{batch_id}", drawn_waiting)
    await page.route(f"{url}/batches/{batch_id}/status.json", still_waiting)
    await page.goto(f"{url}/batches/{batch_id}")
    await expect(page.locator("#batch-status")).to_have_attribute("data-decided", "false")

    # the minute, and the page's margin, pass: the page goes to sign in, not back to the batch
    signed_out = re.compile(rf"/sign-in\?ended=page&next=%2Fbatches%2F{batch_id}$")
    await expect(page).to_have_url(signed_out, timeout=(IDLE_MINUTES * 60 + 30) * 1000)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to the Organisation Portal")
    assert len(polls) >= 10  # the page followed the batch all along
    after = await page.request.get(f"{url}/batches", max_redirects=0)
    assert after.status == 303 and after.headers["location"].startswith("/sign-in")  # the session has ended
    await context.close()
