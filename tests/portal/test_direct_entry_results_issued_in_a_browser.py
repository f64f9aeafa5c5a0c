"""The direct-entry form's "Date the results were issued to the learner", in a real browser against the whole system:
a date a file's header could not hold (years ahead) is told as it is typed, in the words of the header's check
(RS001); a good one goes into the
one-record batch's header, so the batch's page says when its results were issued, as for an uploaded file, and
timeliness MI measures the entry (parity walk, finding 8)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.async_api import Page, expect
from tests.portal.conftest import PortalSystem
from tests.portal.flows import Learner, enter_achievement, wait_decided
from tests.portal.test_portal_in_a_browser import serious_violations

from lrs_platform.clock import today_in_england

pytestmark = pytest.mark.integration

LILY = Learner("1000000043", "Lily", "McCarthy", "1999-11-27")
ISSUED = "Date the results were issued to the learner (optional)"


async def test_a_direct_entrys_results_issued_date_is_checked_as_typed_and_kept_in_its_batch(
    ao_page: Page, portal_system: PortalSystem
) -> None:
    await ao_page.goto(f"{portal_system.url}/direct-entry")
    issued = ao_page.get_by_label(ISSUED)
    error = ao_page.locator("#results_issued_date-error")
    await expect(issued).to_have_attribute("aria-describedby", "results_issued_date-hint")
    await expect(ao_page.locator("#results_issued_date-hint")).to_contain_text("left empty, this entry is not measured")

    await issued.fill((today_in_england() + timedelta(days=3 * 366)).isoformat())
    await issued.press("Tab")
    await expect(error).to_be_visible()
    await expect(error).to_contain_text("RS001: Date the results were issued is ")
    await expect(issued).to_have_attribute("aria-describedby", "results_issued_date-hint results_issued_date-error")
    assert not await serious_violations(ao_page)

    await issued.fill("2021-08-12")
    await issued.press("Tab")
    await expect(error).to_be_hidden()
    await enter_achievement(
        ao_page, LILY, action="Create", qualification_number="500/0002/0", award_date="2021-08-11", grade="Merit"
    )
    await wait_decided(ao_page)
    await expect(ao_page.locator("[data-results-issued]")).to_contain_text("12 August 2021")
