"""What a person does in the portal, step by step, for the browser tests."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from bench.processes import ROOT
from playwright.async_api import FilePayload, Page, expect

SAMPLES = ROOT / "samples"


@dataclass(frozen=True)
class Upload:
    batch_id: str
    checked_total: str
    checked_rejected: str


async def upload(page: Page, portal_url: str, sample: Path) -> Upload:
    """Check, then submit: returns the batch's id once its page shows it decided."""
    await page.goto(f"{portal_url}/batches/new")
    await page.get_by_label("Batch file").set_input_files(sample)
    await page.get_by_role("button", name="Check the file").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(sample.name)
    checked_total = await page.locator("[data-count=total]").inner_text()
    checked_rejected = await page.locator("[data-count=rejected]").inner_text()
    await page.get_by_role("button", name="Submit this batch").click()
    await page.wait_for_url(re.compile(r".*/batches/[0-9a-f-]{36}.*"))
    batch_id = re.search(r"/batches/([0-9a-f-]{36})", page.url).group(1)  # type: ignore[union-attr]
    await wait_decided(page)
    return Upload(batch_id, checked_total, checked_rejected)


async def checked(page: Page, base: str, payload: FilePayload) -> str:
    """The words of the check page for the file `payload`, checked from the upload page (not submitted)."""
    await page.goto(f"{base}/batches/new")
    await page.get_by_label("Batch file").set_input_files(payload)
    await page.get_by_role("button", name="Check the file").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(payload["name"])
    return " ".join((await page.locator("main").inner_text()).split())


async def wait_decided(page: Page) -> str:
    """The batch page follows the status by itself and reloads once it is final (rendered by the server)."""
    await expect(page.locator("#batch-status")).to_have_attribute("data-decided", "true", timeout=90_000)
    return await page.locator("#batch-status [data-status]").get_attribute("data-status") or ""


async def counts(page: Page) -> dict[str, str]:
    return {
        name: (await page.locator(f"dd[data-count={name}]").inner_text()).strip()
        for name in ("total", "accepted", "rejected", "no_ops")
    }


@dataclass(frozen=True)
class Learner:
    uln: str
    given_name: str
    family_name: str
    date_of_birth: str


async def enter_achievement(
    page: Page, learner: Learner, *, action: str, qualification_number: str, award_date: str, grade: str = ""
) -> None:
    """Fills what the form does not already hold (a Withdraw link pre-fills the achievement), then sends it."""
    await page.get_by_label("Action", exact=True).select_option(action)
    await page.get_by_label("Unique Learner Number (ULN)").fill(learner.uln)
    await page.get_by_label("Given name", exact=True).fill(learner.given_name)
    await page.get_by_label("Family name", exact=True).fill(learner.family_name)
    await page.get_by_label("Date of birth (optional)").fill(learner.date_of_birth)
    await page.get_by_label("Qualification number (QAN)").fill(qualification_number)
    await page.get_by_label("Award date", exact=True).fill(award_date)
    await page.get_by_label("Grade", exact=True).fill(grade)
    await page.get_by_role("button", name="Send this achievement").click()
    await page.wait_for_url(re.compile(r".*/batches/[0-9a-f-]{36}.*"))


async def find_learner(page: Page, portal_url: str, uln: str, *, showing: str, within_ms: float = 30_000) -> None:
    """Searches for the learner until the page shows `showing` (a selector): the PLR is projected from the
    log a moment after the batch completes, so each try is a new search."""
    deadline = time.monotonic() + within_ms / 1000
    while True:
        await page.goto(f"{portal_url}/learners")
        await page.get_by_label("Unique Learner Number (ULN)").fill(uln)
        await page.get_by_role("button", name="Find achievements").click()
        try:
            await expect(page.locator(showing).first).to_be_visible(timeout=1_000)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
