"""The failure page in a real browser (the incident walk, finding 5): a service the portal cannot reach is the "try
again" page, which names the request's id (its `X-Request-Id`, on the portal's log lines and the services' called for
it) as a reference to quote to the LRS service desk; readable at a phone's width, with no serious accessibility
violation. A second portal, on the same database, is told an ingest address nothing answers at: the system's own
services run on, for the other tests."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from bench.processes import free_port
from playwright.async_api import Browser, expect
from tests.portal.conftest import PortalProcess, PortalSystem, sign_in
from tests.portal.test_portal_in_a_browser import serious_violations

pytestmark = pytest.mark.integration


@pytest.fixture
async def portal_without_ingest(portal_system: PortalSystem) -> AsyncIterator[PortalSystem]:
    port, nothing_there = free_port(), f"http://127.0.0.1:{free_port()}"
    env = {**portal_system.portal.env, "PORTAL_PORT": str(port)}
    env |= {"PORTAL_INGEST_URL": nothing_there, "LRS_INGEST_URL": nothing_there}
    portal = PortalProcess("portal", port, env, portal_system.portal.log_path.with_name("portal-without-ingest.log"))
    portal.start()
    try:
        await portal.wait_ready()
        yield PortalSystem(
            portal_system.processes,
            portal,
            portal_system.database_url,
            portal_system.mailbox,
            passwords=portal_system.passwords,
        )
    finally:
        portal.stop()


async def test_a_service_away_is_the_try_again_page_with_a_reference_for_the_desk(
    browser: Browser, portal_without_ingest: PortalSystem
) -> None:
    context = await browser.new_context(bypass_csp=True)  # CSP bypassed only for axe-core
    page = await context.new_page()
    try:
        await sign_in(page, portal_without_ingest, "ao.user")

        answer = await page.goto(f"{portal_without_ingest.url}/batches")

        assert answer is not None and answer.status == 503
        await expect(page.get_by_role("heading", level=1)).to_have_text("Sorry, there is a problem with the service")
        reference = await page.locator("[data-reference]").inner_text()
        assert re.fullmatch(
            r"If you contact the LRS service desk about this, give them this reference: [0-9a-f]{32}", reference
        )
        assert reference.endswith(answer.headers["x-request-id"])
        assert await serious_violations(page) == []
        await page.set_viewport_size({"width": 320, "height": 640})
        scroll, client = await page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert scroll <= client, f"the page is {scroll} px wide on a {client} px screen"
    finally:
        await context.close()
