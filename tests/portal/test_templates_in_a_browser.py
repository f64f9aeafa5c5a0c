"""The batch file templates in a real browser, in the Sandpit (onboarding walk, findings 1, 2 and 6): the AO's CSV
template, downloaded from Batch file formats with only its email and batch reference filled in, passes the check and
is decided without a rejection; a file whose ResultsIssuedDate is before its award dates, with 3 of its 10 records
rejected, is warned of both ways on the check page (which has no serious accessibility violation)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from playwright.async_api import Browser, FilePayload, Page, expect
from tests.portal.conftest import SAMPLE_AO, PortalSystem, sign_in
from tests.portal.flows import checked, counts, wait_decided
from tests.portal.test_portal_in_a_browser import serious_violations
from tests.portal.test_portal_sandpit import registry_copied

from lrs_platform.clock import today_in_england

pytestmark = pytest.mark.integration


@pytest.fixture
async def templates_page(browser: Browser, sandpit_portal_system: PortalSystem) -> AsyncIterator[Page]:
    context = await browser.new_context(bypass_csp=True, accept_downloads=True)  # CSP bypassed only for axe-core
    page = await context.new_page()
    await sign_in(page, sandpit_portal_system, "ao.user")
    try:
        yield page
    finally:
        await context.close()


async def test_the_aos_template_passes_the_sandpit_and_the_check_warns_of_a_late_date_and_the_threshold(
    templates_page: Page, sandpit_portal_system: PortalSystem
) -> None:
    page, url = templates_page, sandpit_portal_system.url
    await registry_copied(sandpit_portal_system)  # the template's learner is a sample learner
    await page.goto(f"{url}/sandpit/help/batch-files")
    words = " ".join((await page.locator("[data-template-words]").inner_text()).split())
    assert f"a batch of one record for {SAMPLE_AO}, of one of your qualifications" in words
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download the CSV template").click()
    template = (await (await download_info.value).path()).read_bytes()
    assert SAMPLE_AO.encode() in template and b"YOUR-AO-ID" not in template
    filled_in = template.replace(b"results@your-organisation.example", b"results@ao.example").replace(
        b"YOUR-BATCH-REFERENCE", b"TEMPLATE-IN-THE-SANDPIT"
    )

    shown = await checked(
        page, f"{url}/sandpit", {"name": "batch-template.csv", "mimeType": "text/csv", "buffer": filled_in}
    )

    assert "The check found nothing that would fail the whole batch." in shown
    assert "Warnings 0" in shown and "Would be rejected 0" in shown and "placeholder" not in shown
    await page.get_by_role("button", name="Submit this batch").click()
    await page.wait_for_url(f"{url}/sandpit/batches/*")
    assert await wait_decided(page) == "completed"
    assert (await counts(page))["rejected"] == "0"

    # the template's record ten times over (distinct award dates), 3 with a grade spelt wrong, issued long before
    names, values, headings, record = filled_in.decode().splitlines()
    at, fields = headings.split(","), record.split(",")
    lines = [names, ",".join([*values.split(",")[:-1], "2024-08-22"]), headings]
    own_grade = fields[at.index("Grade")]
    for day in range(10):
        fields[at.index("AwardDate")] = (today_in_england() - timedelta(days=20 + day)).isoformat()
        fields[at.index("Grade")] = own_grade.swapcase() if day < 3 else own_grade
        lines.append(",".join(fields))
    payload: FilePayload = {"name": "late.csv", "mimeType": "text/csv", "buffer": "\r\n".join(lines).encode()}

    shown = await checked(page, f"{url}/sandpit", payload)

    assert "The check found nothing that would fail the whole batch." in shown
    assert (
        "But 3 of 10 records would already be rejected: one more rejection among the checks only the LRS can make"
        " once the batch is submitted (RV004, RV012 to RV017, below) would fail the whole batch (RS005)" in shown
    )
    assert "The ResultsIssuedDate in the file's header, 22 August 2024, is before the earliest award date" in shown
    assert "so it will count this batch as late, and sending the records again later does not undo that." in shown
    await expect(page.get_by_role("button", name="Submit this batch")).to_be_visible()  # warnings, not rejections
    assert await serious_violations(page) == []
