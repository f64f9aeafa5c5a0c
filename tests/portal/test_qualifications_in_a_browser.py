"""Your qualifications in a real browser, live and in the Sandpit (onboarding walk, finding 5): reached from the menu,
the AO's own rows only, with no serious accessibility violation; and a grade and pathway copied from the page pass
the upload check, which judges with the same catalogue, while the same grade spelt otherwise is RV009."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, FilePayload, Page, expect
from tests.portal.conftest import SAMPLE_AO, PortalSystem, sign_in
from tests.portal.test_portal_in_a_browser import serious_violations

pytestmark = pytest.mark.integration

SPORT = "10050061"  # a Pearson (SAMPLE_AO) qualification with two pathways in the shipped catalogue
ANOTHER_AOS = "60331689"  # NCTJ Training's (RN9081)


@pytest.fixture
async def qualifications_page(browser: Browser, sandpit_portal_system: PortalSystem) -> AsyncIterator[Page]:
    context = await browser.new_context(bypass_csp=True)  # CSP bypassed only so axe-core can be injected
    page = await context.new_page()
    await sign_in(page, sandpit_portal_system, "ao.user")
    try:
        yield page
    finally:
        await context.close()


def one_record(pathway: str, grade: str) -> FilePayload:
    lines = [
        "FileVersion,AwardingOrganisation,JobType,NotificationEmail,BatchReference,ResultsIssuedDate",
        f"1.0,{SAMPLE_AO},Final,results@ao.example,QUALIFICATIONS-PAGE,2024-08-22",
        "Action,MISIdentifier,ULN,GivenName,FamilyName,DateOfBirth,Gender,QualificationNumber,Pathway,AwardDate,"
        "Grade,CentreUKPRN,LanguageForAssessment,Credits",
        f"Create,QP-1,1000000043,Lily,McCarthy,1999-11-27,2,100/5006/1,{pathway},2024-07-02,{grade},10007890,English,",
    ]
    return {"name": "qualifications-page.csv", "mimeType": "text/csv", "buffer": "\r\n".join(lines).encode()}


async def test_your_qualifications_live_and_in_the_sandpit_agrees_with_the_check(
    qualifications_page: Page, sandpit_portal_system: PortalSystem
) -> None:
    page, url = qualifications_page, sandpit_portal_system.url
    found: list[str] = []

    for home, base in (("/", ""), ("/sandpit", "/sandpit")):
        await page.goto(f"{url}{home}")
        await page.get_by_role("navigation", name="Menu").get_by_role("link", name="Qualifications").click()
        await expect(page).to_have_url(f"{url}{base}/qualifications")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Your qualifications")
        sport = page.locator(f"tr[data-qualification='{SPORT}']")
        await expect(sport.locator("[data-number]")).to_have_text(f"100/5006/1 or {SPORT}")
        await expect(sport.locator("[data-pathways]")).to_contain_text("Sports Development")
        await expect(sport.locator("[data-grade]")).to_have_text(
            ["Pass", "Merit", "Distinction", "Distinction*", "Fail"]
        )
        assert await page.locator(f"tr[data-qualification='{ANOTHER_AOS}']").count() == 0
        found += await serious_violations(page)
    assert found == []

    pathway = (await page.locator(f"tr[data-qualification='{SPORT}'] [data-pathways] code").all_inner_texts())[-1]
    grade = (await page.locator(f"tr[data-qualification='{SPORT}'] [data-grade]").all_inner_texts())[3]
    for spelt, rejected in ((grade, False), (grade.upper(), True)):
        await page.goto(f"{url}/sandpit/batches/new")
        await page.get_by_label("Batch file").set_input_files(one_record(pathway, spelt))
        await page.get_by_role("button", name="Check the file").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("qualifications-page.csv")
        main = await page.locator("main").inner_text()
        assert ("RV009" in main) is rejected, main
        assert "RV005" not in main and "RV022" not in main, main
