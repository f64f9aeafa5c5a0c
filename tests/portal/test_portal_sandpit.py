"""The portal's Sandpit in a real browser (decision 0060): an AO user switches to it, every page says
SANDPIT, an upload there is judged by the Sandpit's services and never reaches live, and "Reset my
Sandpit" empties it after a confirmation."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable

import asyncpg
import pytest
from playwright.async_api import Browser, Page, expect
from tests.portal.conftest import SAMPLE_AO, PortalSystem, sign_in
from tests.portal.flows import SAMPLES, counts, find_learner, upload
from tests.portal.test_portal_in_a_browser import serious_violations
from tests.support.waiting import eventually

from lrs_contracts.batch import BatchFormat
from lrs_domain.formats import parse_batch

pytestmark = pytest.mark.integration

SAMPLE = SAMPLES / "sample-100.csv"


@pytest.fixture
async def sandpit_page(browser: Browser, sandpit_portal_system: PortalSystem) -> AsyncIterator[Page]:
    context = await browser.new_context(bypass_csp=True, accept_downloads=True)
    page = await context.new_page()
    await sign_in(page, sandpit_portal_system, "ao.user")
    try:
        yield page
    finally:
        await context.close()


async def registry_copied(system: PortalSystem) -> None:
    """The Sandpit decides against its read-only copy of the live registry: wait until it holds the sample's learners."""
    ulns = [record.uln for record in parse_batch(SAMPLE.read_bytes(), BatchFormat.CSV).records]
    assert system.sandpit_database_url is not None

    async def copied() -> bool:
        connection = await asyncpg.connect(system.sandpit_database_url)
        try:
            held = await connection.fetchval("SELECT count(*) FROM validation.learners WHERE uln = ANY($1)", ulns)
        finally:
            await connection.close()
        return bool(held == len(set(ulns)))

    await eventually(copied, within=60, what="the Sandpit's copy of the registry")


async def test_an_ao_user_rehearses_in_the_sandpit_and_live_never_sees_it(
    sandpit_page: Page, sandpit_portal_system: PortalSystem
) -> None:
    page, url = sandpit_page, sandpit_portal_system.url
    await registry_copied(sandpit_portal_system)
    await page.goto(url)
    await page.get_by_role("link", name="Practise in the Sandpit").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"{SAMPLE_AO} Sandpit")
    await expect(page.get_by_role("region", name="SANDPIT", exact=True)).to_be_visible()

    rehearsal = await upload(page, f"{url}/sandpit", SAMPLE)

    assert page.url.startswith(f"{url}/sandpit/batches/{rehearsal.batch_id}")
    await expect(page.get_by_role("region", name="SANDPIT", exact=True)).to_be_visible()
    assert await counts(page) == {"total": "100", "accepted": "100", "rejected": "0", "no_ops": "0"}
    async with await sandpit_portal_system.client("ingest", f"ao:{SAMPLE_AO}") as live_ingest:
        assert (await live_ingest.get(f"/v1/batches/{rehearsal.batch_id}")).status_code == 404
        assert (await live_ingest.get("/v1/batches")).json()["items"] == []
    await page.goto(f"{url}/batches/{rehearsal.batch_id}")
    await expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    assert await page.get_by_role("region", name="SANDPIT", exact=True).count() == 0

    uln = parse_batch(SAMPLE.read_bytes(), BatchFormat.CSV).records[0].uln
    assert uln is not None
    await find_learner(page, f"{url}/sandpit", uln, showing="[data-achievement]")
    await expect(page.get_by_role("region", name="SANDPIT", exact=True)).to_be_visible()
    await page.locator("[data-achievement]").first.get_by_role("button", name=re.compile("^Update")).click()
    await expect(page).to_have_url(f"{url}/sandpit/direct-entry")  # the learner posted, not in the address
    await expect(page.get_by_role("region", name="SANDPIT", exact=True)).to_be_visible()
    await expect(page.get_by_label("Action", exact=True)).to_have_value("Update")
    await expect(page.get_by_label("Unique Learner Number (ULN)")).to_have_value(uln)
    await find_learner(page, url, uln, showing="[data-empty]")


async def test_reset_my_sandpit_asks_first_then_empties_it(
    sandpit_page: Page, sandpit_portal_system: PortalSystem
) -> None:
    page, url = sandpit_page, sandpit_portal_system.url
    await registry_copied(sandpit_portal_system)
    await upload(page, f"{url}/sandpit", SAMPLES / "sample-100.json")
    await page.goto(f"{url}/sandpit")
    await page.get_by_role("button", name="Reset my Sandpit").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Reset your Sandpit?")
    await page.get_by_role("link", name="No, keep it").click()
    await expect(page.locator("table[data-table] tbody tr a").first).to_be_visible()

    await page.goto(f"{url}/sandpit/reset")
    await page.get_by_role("button", name="Yes, reset my Sandpit").click()

    await page.wait_for_url(re.compile(r".*/sandpit/resets/[0-9a-f-]{36}.*"))
    while await page.locator("[data-reset-status=pending]").count():
        await page.get_by_role("link", name="Check again").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your Sandpit is empty")
    await page.goto(f"{url}/sandpit/batches")
    await expect(page.get_by_text("No batches yet.")).to_be_visible()


async def test_a_sandpit_batch_page_does_not_scroll_sideways_on_a_phone(
    sandpit_page: Page, sandpit_portal_system: PortalSystem
) -> None:
    """WCAG 1.4.10 (reflow), as on live: the Code filter, whose options name codes in words, once made the page
    570 px wide at 320."""
    page, url = sandpit_page, sandpit_portal_system.url
    await registry_copied(sandpit_portal_system)
    showcase = await upload(page, f"{url}/sandpit", SAMPLES / "rules-showcase.csv")
    wide: list[str] = []
    for width in (320, 640):
        await page.set_viewport_size({"width": width, "height": 640})
        await page.goto(f"{url}/sandpit/batches/{showcase.batch_id}")
        assert await page.locator("select#code option").count() > 1
        scroll, client = await page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        if scroll > client:
            wide.append(f"at {width} px: {scroll} px wide")
    assert wide == []


async def test_the_sandpit_pages_have_no_serious_accessibility_violation_and_operators_are_told_why_they_have_none(
    sandpit_page: Page, browser: Browser, sandpit_portal_system: PortalSystem
) -> None:
    url = sandpit_portal_system.url
    found: list[str] = []
    for path in (
        "/",
        "/sandpit",
        "/sandpit/batches",
        "/sandpit/batches/new",
        "/sandpit/direct-entry",
        "/sandpit/learners",
        "/sandpit/reset",
    ):
        await sandpit_page.goto(f"{url}{path}")
        found += await serious_violations(sandpit_page)
    assert found == []

    context = await browser.new_context()
    operator = await context.new_page()
    await sign_in(operator, sandpit_portal_system, "operator.user")
    for path in ("/sandpit", "/sandpit/batches", "/sandpit/reset"):
        response = await operator.goto(f"{url}{path}")
        assert response is not None and response.status == 403
        await expect(operator.get_by_role("heading", level=1)).to_have_text("You cannot see this page")
        await expect(operator.locator("main")).to_contain_text("The Sandpit pages are for awarding organisation users")
        await expect(operator.locator("main")).to_contain_text("lrs --sandpit batch list")
    await context.close()


async def test_the_sandpit_key_of_a_session_is_issued_in_the_sandpit_and_revoked_at_sign_out(
    sandpit_page: Page, sandpit_portal_system: PortalSystem
) -> None:
    """The portal issues the person's sandpit key in the Sandpit's own store at their first Sandpit page."""
    url = sandpit_portal_system.url
    connection = await asyncpg.connect(sandpit_portal_system.sandpit_database_url)

    async def unrevoked() -> int:
        found: int = await connection.fetchval(
            "SELECT count(*) FROM identity.credentials WHERE principal = $1 AND revoked_at IS NULL"
            " AND key_id IS NOT NULL AND label = 'portal session: ao.user'",
            f"ao:{SAMPLE_AO}",
        )
        return found

    try:
        before = await unrevoked()
        await sandpit_page.goto(f"{url}/sandpit/batches")
        await sandpit_page.goto(f"{url}/sandpit/learners")
        assert await unrevoked() == before + 1

        await sandpit_page.get_by_role("button", name="Sign out").click()

        await eventually(lambda: _equals(unrevoked(), before), within=10, what="the sandpit key revoked")
    finally:
        await connection.close()


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def test_the_sandpit_banners_title_bar_is_orange_with_black_text(
    sandpit_page: Page, sandpit_portal_system: PortalSystem
) -> None:
    """govuk-frontend 6 paints the title bar from its own variable: the banner's `background-color` left it blue."""
    await sandpit_page.goto(f"{sandpit_portal_system.url}/sandpit")
    banner = sandpit_page.get_by_role("region", name="SANDPIT", exact=True)
    header = banner.locator(".govuk-notification-banner__header")
    title = banner.get_by_role("heading", name="SANDPIT")

    assert await header.evaluate("found => getComputedStyle(found).backgroundColor") == "rgb(244, 119, 56)"
    assert await title.evaluate("found => getComputedStyle(found).color") == "rgb(11, 12, 12)"  # 7:1 on the orange
    assert await banner.evaluate("found => getComputedStyle(found).borderTopColor") == "rgb(244, 119, 56)"
