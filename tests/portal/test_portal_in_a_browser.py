"""The Organisation Portal in a real browser (Debian's Chromium via Playwright) against the whole system."""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import re
import shutil
import subprocess
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from bench.processes import BIN, ROOT
from playwright.async_api import Browser, FilePayload, Locator, Page, expect
from tests.integration.test_held_batches import decisions_refused_for
from tests.portal.conftest import AXE, SAMPLE_AO, PortalSystem, sign_in
from tests.portal.flows import SAMPLES, Learner, Upload, counts, enter_achievement, find_learner, upload, wait_decided
from tests.support.kafka import send
from tests.support.waiting import eventually

from lrs_contracts.outcomes import BatchValidationStarted
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import BATCH_OUTCOMES
from lrs_domain.reference_files import load_register
from portal.mi import month_label, months_ending, period_of

pytestmark = pytest.mark.integration

SAMPLE_AO_NAME = load_register()[SAMPLE_AO].name  # the dashboard's heading names the AO as the register does

SCREENSHOTS = ROOT / "docs" / "images"


@dataclass(frozen=True)
class Uploaded:
    sample_100: Upload
    showcase: Upload


@pytest.fixture(scope="module")
async def uploaded(browser: Browser, portal_system: PortalSystem) -> Uploaded:
    """The sample batches, uploaded through the portal once for the module (each is one batch)."""
    context = await browser.new_context()
    page = await context.new_page()
    await sign_in(page, portal_system, "ao.user")
    sample_100 = await upload(page, portal_system.url, SAMPLES / "sample-100.csv")
    showcase = await upload(page, portal_system.url, SAMPLES / "rules-showcase.csv")
    await context.close()
    return Uploaded(sample_100, showcase)


def read_file(path: Path | str) -> bytes:
    return Path(path).read_bytes()


def keep_screenshot(path: Path) -> None:
    """Screenshots for the README are refreshed on request: UPDATE_SCREENSHOTS=1 make test."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SCREENSHOTS / path.name)


PASSWORD_CHANGED = "The password of your Organisation Portal account has changed"  # the notice's subject


async def test_sign_in_refuses_a_wrong_password_then_signs_in_and_out(
    browser: Browser, portal_system: PortalSystem
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    missing: list[str] = []  # a favicon.ico the browser asks for by itself, say
    page.on("response", lambda response: missing.append(response.url) if response.status == 404 else None)
    await page.goto(f"{portal_system.url}/batches")
    await expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Fbatches$"))
    # each field's empty error placeholder is out of the page, for screen readers too (no lone "Error:")
    placeholders = page.locator(".govuk-error-message[hidden]")
    assert await placeholders.count() == 1
    assert await placeholders.evaluate_all("found => found.map(each => getComputedStyle(each).display)") == ["none"]
    await page.get_by_label("Username").fill("ao.user")
    await page.get_by_label("Password", exact=True).fill("not-the-password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator(".govuk-error-summary")).to_contain_text("The username or password is not right")
    await page.get_by_label("Password", exact=True).fill(portal_system.passwords["ao.user"])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{portal_system.url}/batches")
    cookie = next(c for c in await context.cookies() if c["name"] == "lrs-portal")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"  # a link from an email arrives signed in (0040)
    form_cookie = next(c for c in await context.cookies() if c["name"] == "lrs-portal-form")
    assert form_cookie["httpOnly"] and form_cookie["sameSite"] == "Strict"
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("You have signed out")
    await page.goto(f"{portal_system.url}/batches")
    await expect(page).to_have_url(re.compile(r"/sign-in"))
    assert missing == []
    await context.close()


async def test_the_sample_csv_is_checked_then_completes_with_the_right_counts(
    ao_page: Page, portal_system: PortalSystem, uploaded: Uploaded
) -> None:
    assert (uploaded.sample_100.checked_total, uploaded.sample_100.checked_rejected) == ("100", "0")
    await ao_page.goto(f"{portal_system.url}/batches/{uploaded.sample_100.batch_id}")
    assert await wait_decided(ao_page) == "completed"
    assert await counts(ao_page) == {"total": "100", "accepted": "100", "rejected": "0", "no_ops": "0"}
    await expect(ao_page.locator("table[data-table=records] caption")).to_contain_text("100 records")


async def test_a_rejected_record_shows_its_code_and_what_to_do(
    ao_page: Page, portal_system: PortalSystem, uploaded: Uploaded, tmp_path: Path
) -> None:
    from portal.explanations import explain

    await ao_page.goto(f"{portal_system.url}/batches/{uploaded.showcase.batch_id}?status=rejected")
    assert await wait_decided(ao_page) == "completed"
    # what to do next, as the batch's email says it (onboarding walk, finding 14)
    await expect(ao_page.locator("[data-explains=rejected]")).to_contain_text("and send them in a new batch")
    await expect(ao_page.locator("[data-explains=rejected] [data-sent-again]")).to_contain_text("“unchanged”")
    screenshot = tmp_path / "portal-batch.png"
    await ao_page.screenshot(path=screenshot, full_page=True)
    keep_screenshot(screenshot)
    await ao_page.get_by_label("Result").select_option("rejected")
    await ao_page.get_by_label("Code").select_option("RV001")
    await ao_page.get_by_role("button", name="Show records").click()
    rows = ao_page.locator("table[data-table=records] tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("rejected")
    await rows.first.get_by_role("link").click()
    finding = ao_page.locator(".portal-finding[data-code=RV001]")
    await expect(finding.get_by_role("heading")).to_have_text(f"RV001: {explain('RV001').title}")
    await expect(finding.locator("[data-advice]")).to_contain_text(explain("RV001").advice)
    await expect(ao_page.locator("[data-status]")).to_have_text("rejected")


async def test_the_downloaded_results_csv_is_the_apis(
    ao_page: Page, portal_system: PortalSystem, uploaded: Uploaded
) -> None:
    batch_id = uploaded.showcase.batch_id
    await ao_page.goto(f"{portal_system.url}/batches/{batch_id}")
    async with ao_page.expect_download() as download_info:
        await ao_page.get_by_role("link", name="Download every record's result as CSV").click()
    download = await download_info.value
    downloaded = read_file(await download.path())
    async with await portal_system.client("ingest", f"ao:{SAMPLE_AO}") as ingest:
        from_api = (await ingest.get(f"/v1/batches/{batch_id}/records.csv")).content
    assert downloaded == from_api
    assert len(list(csv.reader(io.StringIO(downloaded.decode())))) == 1 + 77


LILY = Learner("1000000043", "Lily", "McCarthy", "1999-11-27")


async def test_direct_entry_of_a_create_then_a_withdraw_shows_both_on_the_learner_page(
    ao_page: Page, portal_system: PortalSystem, uploaded: Uploaded
) -> None:
    achievement = '[data-qan="500/0002/0"]:has-text("30 June 2021")'
    await ao_page.goto(f"{portal_system.url}/direct-entry")
    await enter_achievement(
        ao_page, LILY, action="Create", qualification_number="500/0002/0", award_date="2021-06-30", grade="Distinction"
    )
    assert await wait_decided(ao_page) == "completed"
    assert (await counts(ao_page))["accepted"] == "1"

    await find_learner(ao_page, portal_system.url, LILY.uln, showing=f"{achievement}[data-withdrawn=false]")
    await ao_page.locator(achievement).get_by_role("button", name=re.compile("^Withdraw")).click()
    await expect(ao_page.get_by_label("Action", exact=True)).to_have_value("Withdraw")
    await expect(ao_page.get_by_label("Unique Learner Number (ULN)")).to_have_value(LILY.uln)
    await expect(ao_page).to_have_url(f"{portal_system.url}/direct-entry")  # no learner in the address
    await expect(ao_page.get_by_label("Award date", exact=True)).to_have_value("2021-06-30")
    await enter_achievement(
        ao_page, LILY, action="Withdraw", qualification_number="500/0002/0", award_date="2021-06-30"
    )
    assert await wait_decided(ao_page) == "completed"
    assert (await counts(ao_page))["accepted"] == "1"

    await find_learner(ao_page, portal_system.url, LILY.uln, showing=f"{achievement}[data-withdrawn=true]")
    history = ao_page.locator(achievement).locator("tr[data-change]")
    await expect(history).to_have_count(2)
    changes = [await row.get_attribute("data-change") or "" for row in await history.all()]
    assert changes[0].startswith("record") and changes[1].startswith("withdraw"), changes


async def test_an_update_typed_by_hand_fills_in_the_recorded_credits_and_is_accepted(
    ao_page: Page, portal_system: PortalSystem
) -> None:
    """The walk-through's trap: an Update with Credits left empty is RV013. Filled in as recorded, it is accepted."""
    key = {"qualification_number": "500/0002/0", "award_date": "2021-07-14"}
    await ao_page.goto(f"{portal_system.url}/direct-entry")
    await ao_page.get_by_label("Credits (optional)").fill("17")
    await enter_achievement(ao_page, LILY, action="Create", grade="Distinction", **key)
    assert await wait_decided(ao_page) == "completed"
    await find_learner(ao_page, portal_system.url, LILY.uln, showing='[data-qan="500/0002/0"]:has-text("14 July 2021")')

    await ao_page.goto(f"{portal_system.url}/direct-entry")
    await ao_page.get_by_label("Action", exact=True).select_option("Update")
    await ao_page.get_by_label("Unique Learner Number (ULN)").fill(LILY.uln)
    await ao_page.get_by_label("Qualification number (QAN)").fill(key["qualification_number"])
    await ao_page.get_by_label("Award date", exact=True).fill(key["award_date"])
    await ao_page.get_by_label("Grade", exact=True).fill("Merit")
    await ao_page.get_by_role("button", name="Fill in the recorded achievement").click()
    await expect(ao_page.locator("[data-filled]")).to_contain_text("Filled in as recorded: the credits")
    await expect(ao_page.get_by_label("Credits (optional)")).to_have_value("17")
    await expect(ao_page.get_by_label("Grade", exact=True)).to_have_value("Merit")
    await enter_achievement(ao_page, LILY, action="Update", grade="Merit", **key)
    assert await wait_decided(ao_page) == "completed"
    assert (await counts(ao_page))["accepted"] == "1"


async def _achievement_of_line(system: PortalSystem, batch_id: str, line: int) -> str:
    async with await system.client("ingest", f"ao:{SAMPLE_AO}") as ingest:
        records = (await ingest.get(f"/v1/batches/{batch_id}/records", params={"page_size": 1000})).json()["records"]
    return next(str(record["achievement_id"]) for record in records if record["line"] == line)


async def _raise_challenge(system: PortalSystem, achievement_id: str, reason: str) -> str:
    async with await system.client("challenges", f"learner:{LILY.uln}") as challenges:
        response = await challenges.post(
            "/v1/challenges", json={"achievement_id": achievement_id, "ao_id": SAMPLE_AO, "reason": reason}
        )
    assert response.status_code == 201, response.text
    return str(response.json()["challenge_id"])


async def test_a_challenge_raised_through_the_api_is_acknowledged_and_resolved_in_the_portal(
    ao_page: Page, portal_system: PortalSystem, uploaded: Uploaded
) -> None:
    achievement_id = await _achievement_of_line(portal_system, uploaded.sample_100.batch_id, 4)
    challenge_id = await _raise_challenge(portal_system, achievement_id, "The award date is a year out.")

    await ao_page.goto(f"{portal_system.url}/challenges")
    row = ao_page.locator(f"table[data-table=open] tr[data-challenge='{challenge_id}']")
    await expect(row).to_contain_text("The award date is a year out.")
    await row.get_by_role("link").click()
    await ao_page.get_by_role("button", name="Acknowledge").click()
    await expect(ao_page.locator("[data-state]")).to_have_text("acknowledged")
    # the AO's own person who acted, by their username (walk "leaver", finding 5)
    await expect(ao_page.locator("[data-answered=acknowledged]")).to_contain_text(", by ao.user, in the portal")
    await ao_page.get_by_label("Rejected: not a data error (an appeal, say)").check()
    await ao_page.get_by_label("Reason (needed when nothing was changed)").fill("The date matches the certificate.")
    await ao_page.get_by_role("button", name="Resolve the challenge").click()
    await expect(ao_page.locator("[data-state]")).to_have_text("resolved")
    await expect(ao_page.locator("[data-resolution=rejected]")).to_have_text("Rejected: not a data error")
    await expect(ao_page.locator("[data-answered=resolved]")).to_contain_text("(resolved by ao.user, in the portal)")

    async with await portal_system.client("challenges", f"ao:{SAMPLE_AO}") as challenges:
        stored = (await challenges.get(f"/v1/challenges/{challenge_id}")).json()
    assert (stored["state"], stored["resolution"], stored["note"]) == (
        "resolved",
        "rejected",
        "The date matches the certificate.",
    )


async def test_a_challenge_answered_with_the_aos_api_key_and_by_an_operator_names_the_key_and_no_operator(
    ao_page: Page, portal_system: PortalSystem, uploaded: Uploaded
) -> None:
    """The AO's challenge page names its own API key by its label ("tests", as the test keys are labelled); an LRS
    operator's resolution stays "an LRS operator" (decision 0169)."""
    line = 14  # Grace Davies's: challenged by no other test
    uln = (SAMPLES / "sample-100.csv").read_text().splitlines()[line - 1].split(",")[2]
    achievement_id = await _achievement_of_line(portal_system, uploaded.sample_100.batch_id, line)
    async with await portal_system.client("challenges", f"learner:{uln}") as challenges:
        raised = await challenges.post(
            "/v1/challenges", json={"achievement_id": achievement_id, "ao_id": SAMPLE_AO, "reason": "Wrong grade."}
        )
    assert raised.status_code == 201, raised.text
    challenge_id = raised.json()["challenge_id"]
    async with await portal_system.client("challenges", f"ao:{SAMPLE_AO}") as challenges:
        acknowledged = await challenges.post(f"/v1/challenges/{challenge_id}/acknowledge")
    assert acknowledged.status_code == 200, acknowledged.text
    async with await portal_system.client("challenges", "operator:tests") as challenges:
        resolved = await challenges.post(
            f"/v1/challenges/{challenge_id}/resolve", json={"resolution": "upheld", "note": "Checked: a Pass."}
        )
    assert resolved.status_code == 200, resolved.text

    await ao_page.goto(f"{portal_system.url}/challenges/{challenge_id}")
    await expect(ao_page.locator("[data-answered=acknowledged]")).to_contain_text(", with your API key “tests”")
    await expect(ao_page.locator("[data-answered=resolved]")).to_contain_text("(resolved by an LRS operator)")
    assert "operator:tests" not in await ao_page.content()


async def test_a_changed_challenge_contact_gets_the_next_challenge_email(
    ao_page: Page, portal_system: PortalSystem, uploaded: Uploaded
) -> None:
    address = f"challenges-{uuid.uuid4().hex[:8]}@ao.example"
    await ao_page.goto(f"{portal_system.url}/contact")
    await ao_page.get_by_label("Given name").fill("Sam")
    await ao_page.get_by_label("Family name").fill("Contact")
    await ao_page.get_by_label("Telephone").fill("01632 960 001")
    await ao_page.get_by_label("Email address").fill(address)
    await ao_page.get_by_role("button", name="Save the contact").click()
    await expect(ao_page.locator(".govuk-notification-banner--success")).to_contain_text(address)

    achievement_id = await _achievement_of_line(portal_system, uploaded.sample_100.batch_id, 5)
    await _raise_challenge(portal_system, achievement_id, "The grade should be Distinction.")

    async def delivered() -> list[EmailMessage]:
        return portal_system.mailbox.to(address)

    messages = await eventually(delivered, within=60, what=f"a challenge email to {address}")
    assert "challenge" in str(messages[0]["Subject"]).lower()


async def test_a_new_aos_dashboard_says_what_to_do_first_and_that_nobody_is_emailed_until_it_has_a_contact(
    browser: Browser, portal_system: PortalSystem
) -> None:
    """An AO that has just joined (the onboarding walk): no batch, no challenge contact. Its dashboard names it, lists
    the first steps and says nobody is emailed about challenges, as its inbox does, until it saves a contact; the menu
    leads to Batch file formats. An AO of the register no other test uses: nothing else sends it a batch."""
    ao_id, name = "RN9021", load_register()["RN9021"].name
    username = f"first.{uuid.uuid4().hex[:6]}"
    async with await portal_system.client("portal", "operator:tests") as accounts:
        body = {"username": username, "display_name": "Priya Shah", "role": "ao", "ao_id": ao_id}
        made = await accounts.post("/v1/admin/users", json={**body, "email": f"{username}@ao.example"})
        made.raise_for_status()
    portal_system.passwords[username] = made.json()["password"]
    context = await browser.new_context(bypass_csp=True)  # only so that axe-core can be injected
    page = await context.new_page()
    try:
        await sign_in(page, portal_system, username)
        violations = await serious_violations(page)  # the notice and the first steps, on the dashboard
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"{ao_id} {name} dashboard")
        await expect(page.locator(".portal-account-bar__who")).to_have_text(
            f"Signed in as Priya Shah for {ao_id} {name}"
        )
        notice = page.locator("[data-no-challenge-contact]")
        await expect(notice).to_contain_text("Nobody is emailed when a learner challenges your results")
        first_steps = page.locator("[data-getting-started]")
        await expect(first_steps.get_by_role("heading")).to_have_text("Getting started")
        await expect(first_steps.locator("[data-step=contact] a")).to_have_attribute("href", "/contact")
        await expect(first_steps.locator("[data-step=formats] a")).to_have_attribute("href", "/help/batch-files")
        await expect(first_steps.locator("[data-step=live] a")).to_have_attribute("href", "/batches/new")

        await page.get_by_role("navigation", name="Menu").get_by_role("link", name="File formats").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Batch file formats")

        await page.goto(f"{portal_system.url}/challenges")
        await expect(notice).to_contain_text("Nobody is emailed when a learner challenges your results")
        await expect(page.get_by_text("are emailed to your challenge contact")).to_have_count(0)
        violations += await serious_violations(page)
        assert violations == []
        await notice.get_by_role("link", name="set your challenge contact").click()
        await page.get_by_label("Given name").fill("Priya")
        await page.get_by_label("Family name").fill("Shah")
        await page.get_by_label("Telephone").fill("01632 960 002")
        await page.get_by_label("Email address").fill(f"{username}@ao.example")
        await page.get_by_role("button", name="Save the contact").click()
        await expect(page.locator(".govuk-notification-banner--success")).to_contain_text("is saved")

        await page.goto(f"{portal_system.url}/challenges")
        await expect(page.get_by_text("Learners' challenges are emailed to your challenge contact.")).to_be_visible()
        await expect(notice).to_have_count(0)
        await page.goto(f"{portal_system.url}/")
        await expect(first_steps.locator("[data-step=formats]")).to_be_visible()  # still no batch
        await expect(first_steps.locator("[data-step=contact]")).to_have_count(0)
        await expect(notice).to_have_count(0)
    finally:
        await context.close()


async def _bar(page: Page, chart: str, series: str, category: str) -> float:
    value = await page.locator(f'svg#{chart} rect[data-series="{series}"][data-category="{category}"]').get_attribute(
        "data-value"
    )
    return float(value or "nan")


async def _bars_of(page: Page, chart: str, category: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for rect in await page.locator(f'svg#{chart} rect[data-category="{category}"]').all():
        found[await rect.get_attribute("data-series") or ""] = float(await rect.get_attribute("data-value") or "nan")
    return found


def _uk_months(count: int = 6) -> list[str]:
    """The `count` months up to this one in the UK (yyyy-mm), as the MI page reads them when drawn (6: its default)."""
    return months_ending(datetime.now(ZoneInfo("Europe/London")).date(), count)


async def _mi_months_drawn(page: Page) -> list[str]:
    """The months the MI page was drawn for (yyyy-mm), oldest first, as its table of batches lists them."""
    labels = await page.locator('table[data-table="batches"] tbody th').all_inner_texts()
    return [period_of(label.strip()) for label in labels]


async def _dashboard_month_drawn(page: Page) -> str:
    """The month the dashboard's timeliness card counts (yyyy-mm), as its heading names it."""
    heading = await page.get_by_role("heading", name="On learners' records within 10 working days").inner_text()
    found = re.search(r"\(([A-Z][a-z]+) ([0-9]{4})\)", heading)  # "(December 2026)"
    assert found, heading
    return period_of(f"{found.group(1)[:3]} {found.group(2)}")


def _monthly(items: list[dict[str, Any]], name: str) -> int:
    """A figure of one month's report: the AO's row, 0 in a month without one."""
    return sum(int(row[name]) for row in items)


async def test_the_mi_charts_show_the_mi_apis_numbers(
    ao_page: Page, portal_system: PortalSystem, uploaded: Uploaded, tmp_path: Path
) -> None:
    """Every month the page was drawn for is checked against the API's numbers for it. The months are read from the
    clock before the page is drawn and checked against the page after: a run across UK midnight at a month's end reads
    the reports again for the page's months (the sample batches' month is among them either side of the midnight)."""
    # Line 4 is Lily's: its earlier challenge (if that test ran first) is resolved, so another may be raised.
    achievement_id = await _achievement_of_line(portal_system, uploaded.sample_100.batch_id, 4)
    await _raise_challenge(portal_system, achievement_id, "The level is wrong.")

    async with await portal_system.client("reporting", f"ao:{SAMPLE_AO}") as reporting:

        async def reports(span: list[str]) -> dict[str, Any]:
            found: dict[str, Any] = {}
            for name in ("submissions", "timeliness"):
                found[name] = {
                    period: (await reporting.get(f"/v1/reports/{name}", params={"period": period})).json()["items"]
                    for period in span
                }
            for name in ("plr-timeliness", "rejections", "challenges"):
                params = {"from": span[0], "to": span[-1]}
                found[name] = (await reporting.get(f"/v1/reports/{name}", params=params)).json()["items"]
            return found

        def complete(found: dict[str, Any]) -> bool:
            # The sample batches (completed, one with rejections, one with a results-issued date) are counted,
            # their results are on the PLR, and the challenge just raised is counted.
            return bool(
                sum(_monthly(items, "batches_completed") for items in found["submissions"].values()) >= 2
                and sum(_monthly(items, "batches_measured") for items in found["timeliness"].values())
                and sum(row["batches_measured"] for row in found["plr-timeliness"])
                and found["rejections"]
                and sum(row["raised"] for row in found["challenges"])
            )

        async def drawn_while_unchanged(path: str) -> tuple[list[str], dict[str, Any]] | None:
            span = _uk_months()
            before = await reports(span)
            if not complete(before):
                return None
            await ao_page.goto(f"{portal_system.url}{path}")
            if await _mi_months_drawn(ao_page) != span:
                return None  # drawn after UK midnight at a month's end: read again, for the page's months
            # Compare with what the API says after the page was drawn: a batch counted in between would differ.
            return (span, before) if await reports(span) == before else None

        span, shown = await eventually(
            lambda: drawn_while_unchanged("/mi"), within=90, what="the MI of the sample batches"
        )

    within = "Within 10 working days"
    submitted, timely = shown["submissions"], shown["timeliness"]
    for period in span:
        month = month_label(period)  # as the charts and tables say it ("Dec 2026"); the CSV says `period`
        for series, name in (("Completed", "batches_completed"), ("Failed", "batches_failed")):
            assert await _bar(ao_page, "chart-batches", series, month) == _monthly(submitted[period], name), month
        for series, name in (
            ("Accepted", "records_accepted"),
            ("Rejected", "records_rejected"),
            ("Unchanged", "records_unchanged"),
        ):
            assert await _bar(ao_page, "chart-records", series, month) == _monthly(submitted[period], name), month
        # the rest of the month's records: those of failed batches that passed their checks, which were not added
        told = ("records_accepted", "records_rejected", "records_unchanged")
        not_added = _monthly(submitted[period], "records_total") - sum(_monthly(submitted[period], n) for n in told)
        assert await _bar(ao_page, "chart-records", "Not added (failed batches)", month) == not_added, month
        for series, name in (("Batches measured", "batches_measured"), (within, "batches_within_10_working_days")):
            assert await _bar(ao_page, "chart-timeliness", series, month) == _monthly(timely[period], name), month

    by_code: Counter[str] = Counter()  # over the months shown
    for items in submitted.values():
        for row in items:
            by_code.update(row["rejections_by_code"])
    for code, count in by_code.items():
        assert await _bar(ao_page, "chart-rejections", "Number", code) == count
    assert await ao_page.locator("svg#chart-rejections rect").count() == len(by_code)

    # record codes only: a batch code's records are those of the batches it failed (decision 0151)
    record_codes = {
        row["period"]: Counter(
            {part["code"]: part["records"] for part in row["by_code"] if not part["code"].startswith("RS")}
        )
        for row in shown["rejections"]
    }
    totals: Counter[str] = sum(record_codes.values(), Counter())
    charted = set(totals) if len(totals) <= 5 else {*sorted(totals, key=lambda c: (-totals[c], c))[:5], "Other codes"}
    for period in span:
        month_bars = await _bars_of(ao_page, "chart-rejections-by-month", month_label(period))
        in_month = record_codes.get(period, Counter())
        assert set(month_bars) == charted
        assert sum(month_bars.values()) == sum(in_month.values())
        assert all(in_month[code] == value for code, value in month_bars.items() if code != "Other codes")

    plr_timely = shown["plr-timeliness"]
    all_types = await _bars_of(ao_page, "chart-plr-timeliness", "All types")
    assert all_types == {
        "Batches measured": sum(row["batches_measured"] for row in plr_timely),
        within: sum(row["batches_within_10_working_days"] for row in plr_timely),
    }
    types = {part["qualification_type"] for row in plr_timely for part in row["by_qualification_type"]}
    for qualification_type in types:
        parts = [
            part
            for row in plr_timely
            for part in row["by_qualification_type"]
            if part["qualification_type"] == qualification_type
        ]
        assert await _bars_of(ao_page, "chart-plr-timeliness", qualification_type) == {
            "Batches measured": sum(part["batches_measured"] for part in parts),
            within: sum(part["batches_within_10_working_days"] for part in parts),
        }

    for period in span:
        month = month_label(period)
        challenged = [row for row in shown["challenges"] if row["period"] == period]
        withdrawn = sum(int(row["resolutions"].get("withdrawn", 0)) for row in challenged)
        by_desk = _monthly(challenged, "resolved_by_service_desk")
        assert await _bars_of(ao_page, "chart-challenges", month) == {
            "Raised": _monthly(challenged, "raised"),
            "Resolved by the AO": _monthly(challenged, "resolved") - withdrawn - by_desk,
            "Resolved by the LRS service desk": by_desk,
            "Withdrawn by the learner": withdrawn,
            "Still open": _monthly(challenged, "still_open"),
        }, month
        days = await _bars_of(ao_page, "chart-challenge-days", month)
        resolved_by_the_ao = _monthly(challenged, "resolved") - withdrawn - by_desk
        # nothing measured where the AO resolved none: a bar with no value (NaN here), never 0
        assert {series: None if math.isnan(value) else value for series, value in days.items()} == {
            "Median": max(row["median_working_days_to_resolve"] for row in challenged) if resolved_by_the_ao else None,
            "Slowest": max(row["worst_working_days_to_resolve"] for row in challenged) if resolved_by_the_ao else None,
        }, month

    async with ao_page.expect_download() as download_info:
        await ao_page.get_by_role("link", name="Download “Records per month” as CSV").click()
    rows = list(csv.reader(io.StringIO(read_file(await (await download_info.value).path()).decode())))
    assert rows[0] == ["Month", "Accepted", "Rejected", "Unchanged", "Not added (failed batches)"]
    # the download reads the clock again: every month but the page's first is in it, midnight or not
    for period in span[1:]:
        accepted, rejected = (_monthly(submitted[period], name) for name in ("records_accepted", "records_rejected"))
        assert [period, str(accepted), str(rejected)] in [row[:3] for row in rows]
    screenshot = tmp_path / "portal-mi.png"
    await ao_page.screenshot(path=screenshot, full_page=True)
    keep_screenshot(screenshot)

    async with await portal_system.client("reporting", f"ao:{SAMPLE_AO}") as reporting:

        async def card_while_unchanged() -> tuple[dict[str, Any] | None] | None:
            (counted,) = _uk_months(1)
            params = {"from": counted, "to": counted}
            before = (await reporting.get("/v1/reports/plr-timeliness", params=params)).json()["items"]
            await ao_page.goto(f"{portal_system.url}/")
            if await _dashboard_month_drawn(ao_page) != counted:
                return None  # drawn in the next month: read again, for the card's month
            after = (await reporting.get("/v1/reports/plr-timeliness", params=params)).json()["items"]
            return (before[0] if before else None,) if before == after else None

        (on_record,) = await eventually(card_while_unchanged, within=30, what="the dashboard's timeliness card")
    if on_record and on_record["batches_measured"]:
        await expect(ao_page.locator("[data-figure=timeliness]")).to_have_text(
            f"{on_record['batches_within_10_working_days']} of {on_record['batches_measured']}"
        )
    else:  # the sample batches were decided last month: midnight at a month's end passed since
        await expect(ao_page.get_by_text("No batch decided this month with a results-issued date")).to_be_visible()
    await expect(ao_page.get_by_role("heading", name="On learners' records within 10 working days")).to_be_visible()


async def test_an_ao_user_cannot_open_another_aos_batch_by_its_address(
    ao_page: Page, portal_system: PortalSystem
) -> None:
    other_ao = "RN5133"
    content = (SAMPLES / "sample-100.csv").read_text().replace(f",{SAMPLE_AO},", f",{other_ao},", 1)
    async with await portal_system.client("ingest", f"ao:{other_ao}") as ingest:
        response = await ingest.post("/v1/batches", content=content.encode(), headers={"Content-Type": "text/csv"})
    assert response.status_code == 202, response.text
    other_batch = response.json()["batch_id"]
    for path in (f"/batches/{other_batch}", f"/batches/{other_batch}/records.csv", f"/batches/{other_batch}/records/4"):
        answer = await ao_page.goto(f"{portal_system.url}{path}")
        assert answer is not None and answer.status == 404, path
    await expect(ao_page.get_by_role("heading", level=1)).to_have_text("Page not found")


async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    ao_page: Page, portal_system: PortalSystem
) -> None:
    form = {"given_name": "Mallory", "family_name": "Forged", "telephone": "01632 960 999", "email": "m@forged.example"}
    for token in ({}, {"csrf_token": "not-this-sessions-token"}):
        answer = await ao_page.request.post(f"{portal_system.url}/contact", form={**form, **token}, max_redirects=0)
        assert answer.status == 403
        assert "The form could not be accepted" in await answer.text()
    async with await portal_system.client("notifier", f"ao:{SAMPLE_AO}") as notifier:
        contact = await notifier.get(f"/v1/ao/{SAMPLE_AO}/challenge-contact")
    assert contact.status_code == 404 or contact.json()["email"] != form["email"]


AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


async def serious_violations(page: Page) -> list[str]:
    await page.add_script_tag(path=AXE)
    violations = await page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations", AXE_TAGS
    )
    return [
        f"{page.url}: {violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(str(node["target"]) for node in violation["nodes"][:3])
        for violation in violations
        if violation["impact"] in ("serious", "critical")
    ]


async def test_no_page_has_a_serious_accessibility_violation(
    browser: Browser, ao_page: Page, operator_page: Page, portal_system: PortalSystem, uploaded: Uploaded
) -> None:
    found: list[str] = []
    url = portal_system.url
    anonymous = await browser.new_context(bypass_csp=True)
    page = await anonymous.new_page()
    await page.goto(f"{url}/sign-in")
    found += await serious_violations(page)
    await page.get_by_role("button", name="Sign in").click()  # the error summary
    found += await serious_violations(page)
    await page.goto(f"{url}/sign-in?next=%2Fbatches%2Fnew&ended=form")  # signed out by the session's end
    found += await serious_violations(page)
    for help_page in ("/help/accessibility", "/help/privacy", "/help/contact"):  # for someone who cannot sign in
        await page.goto(f"{url}{help_page}")
        found += await serious_violations(page)
    await anonymous.close()

    for path in (
        "/",
        "/batches",
        "/batches/new",
        f"/batches/{uploaded.showcase.batch_id}",
        f"/batches/{uploaded.showcase.batch_id}?status=rejected",
        f"/batches/{uploaded.showcase.batch_id}/records/4",
        "/direct-entry",
        "/learners",
        "/challenges",
        "/challenges/resolved",
        "/contact",
        "/mi",
        "/mi?months=24",
        "/account/password",
        "/account/email",
        "/help/batch-files",
        "/no-such-page",
    ):
        await ao_page.goto(f"{url}{path}")
        found += await serious_violations(ao_page)

    await ao_page.goto(f"{url}/batches/new")
    await ao_page.get_by_label("Batch file").set_input_files(SAMPLES / "rules-showcase.csv")
    await ao_page.get_by_role("button", name="Check the file").click()
    found += await serious_violations(ao_page)
    await ao_page.goto(f"{url}/direct-entry")
    await ao_page.get_by_role("button", name="Send this achievement").click()
    found += await serious_violations(ao_page)
    await find_learner(ao_page, url, LILY.uln, showing="[data-achievement]")
    found += await serious_violations(ao_page)
    await ao_page.goto(f"{url}/challenges")
    challenge_links = ao_page.locator("table[data-table] tr[data-challenge] a")
    if await challenge_links.count():
        await challenge_links.first.click()
        found += await serious_violations(ao_page)

    for path in (
        "/ops",
        "/ops/dead-letters",
        "/ops/dead-letters/history",
        "/ops/rebuild",
        "/ops/maintenance",
        "/ops/accounts",
        "/ops/accounts/changes",
        "/ops/accounts/ao.user/email",
        "/ops/accounts/ao.user/reset-password",  # a confirmation step
        "/ops/batches",
        f"/ops/batches/{uploaded.showcase.batch_id}",
        "/ops/challenges?state=any",
        f"/ops/mi?ao={SAMPLE_AO}",
        "/ops/keyring",
        "/ops/erasures",  # last: its form is sent below
    ):
        await operator_page.goto(f"{url}{path}")
        found += await serious_violations(operator_page)
    await operator_page.get_by_role("button", name="Erase this learner").click()  # the error summary
    found += await serious_violations(operator_page)
    await operator_page.get_by_label("ULN").fill("1000000043")
    await operator_page.get_by_label("Reason").fill("accessibility check: never confirmed")
    await operator_page.get_by_role("button", name="Erase this learner").click()  # the confirmation step
    found += await serious_violations(operator_page)
    await operator_page.goto(f"{url}/ops/maintenance")
    await operator_page.get_by_role("button", name="Schedule the window").click()  # the error summary
    found += await serious_violations(operator_page)
    await operator_page.goto(f"{url}/ops/accounts")
    keys = operator_page.locator("form[action='/ops/keys']")
    await keys.get_by_label("AO recognition number").fill(SAMPLE_AO)
    await keys.get_by_label("Label (optional)").fill("accessibility check")
    await keys.get_by_role("button", name="Issue a key").click()  # the key, shown once: readable on its panel
    await expect(operator_page.locator("[data-secret]")).to_be_visible()
    found += await serious_violations(operator_page)
    assert found == []


async def test_every_part_of_a_page_is_in_a_landmark(ao_page: Page, portal_system: PortalSystem) -> None:
    """axe's `region` rule (best practice, not a WCAG tag): the account bar is a navigation landmark of its own."""
    await ao_page.goto(f"{portal_system.url}/")
    await expect(ao_page.get_by_role("navigation", name="Your account")).to_contain_text("Change your password")
    for path in ("/", "/direct-entry", "/learners", "/batches/new"):
        await ao_page.goto(f"{portal_system.url}{path}")
        await ao_page.add_script_tag(path=AXE)
        outside = await ao_page.evaluate(
            "async () => (await axe.run(document, {runOnly: {type: 'rule', values: ['region']}})).violations"
            ".flatMap((violation) => violation.nodes.map((node) => node.target.join(' ')))"
        )
        assert outside == [], f"{path}: {outside}"


async def test_sign_in_upload_and_results_work_without_javascript(
    browser: Browser, portal_system: PortalSystem, uploaded: Uploaded, tmp_path: Path
) -> None:
    lines = (SAMPLES / "sample-100.csv").read_text().splitlines()
    header, records = lines[:3], lines[3:6]
    changed = [
        record.replace(",2013-07-02,", ",2022-07-01,").replace(",2010-07-06,", ",2022-07-02,") for record in records
    ]
    changed.append(records[0].replace("1000000043", "0123456789").replace(",2013-07-02,", ",2022-07-03,"))
    batch = tmp_path / "no-script.csv"
    batch.write_text("\r\n".join([*header, *changed]) + "\r\n")

    context = await browser.new_context(java_script_enabled=False)
    page = await context.new_page()
    await sign_in(page, portal_system, "ao.user")
    await page.goto(f"{portal_system.url}/batches/new")
    await page.get_by_label("Batch file").set_input_files(batch)
    await page.get_by_role("button", name="Check the file").click()
    await expect(page.locator("table[data-table=problems]")).to_contain_text("RV001")
    await page.get_by_role("button", name="Submit this batch").click()
    await page.wait_for_url(re.compile(r".*/batches/[0-9a-f-]{36}.*"))
    deadline = 60
    while await page.locator("#batch-status").get_attribute("data-decided") != "true" and deadline > 0:
        deadline -= 1
        await page.get_by_role("link", name="Check again").click()  # waits on the server, up to 20 s
    assert await page.locator("#batch-status [data-status]").get_attribute("data-status") == "completed"
    assert (await counts(page))["rejected"] == "1"
    await page.get_by_label("Result").select_option("rejected")
    await page.get_by_role("button", name="Show records").click()
    await expect(page.locator("table[data-table=records] tbody tr")).to_have_count(1)
    await context.close()


def lrs(system: PortalSystem, operator_key: str, *args: str) -> str:
    """The `lrs` command, as an operator would run it against this system's portal."""
    env = {**os.environ, "LRS_PORTAL_URL": system.url, "LRS_API_KEY": operator_key}
    result = subprocess.run([str(BIN / "lrs"), *args], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def new_ao_user(system: PortalSystem, operator_key: str, username: str, name: str) -> str:
    """A new account of the sample AO's staff, made with `lrs users create`: its password."""
    created = lrs(system, operator_key, "users", "create", username, "--name", name, "--role", "ao", "--ao", SAMPLE_AO)
    return re.search(r"^password: (\S+)$", created, re.M).group(1)  # type: ignore[union-attr]


async def test_repeated_failures_lock_an_account_until_lrs_users_resets_its_password(
    browser: Browser, portal_system: PortalSystem
) -> None:
    operator_key = await portal_system.key_for("operator:tests")
    username = f"locked.{uuid.uuid4().hex[:6]}"
    password = new_ao_user(portal_system, operator_key, username, "Lee Example")
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{portal_system.url}/sign-in")
    for _ in range(5):
        await page.get_by_label("Username").fill(username)
        await page.get_by_label("Password", exact=True).fill("wrong password")
        await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator(".govuk-error-summary")).to_contain_text("locked")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator(".govuk-error-summary")).to_contain_text("locked")

    reset = lrs(portal_system, operator_key, "users", "reset-password", username)
    new_password = re.search(r"^password: (\S+)$", reset, re.M).group(1)  # type: ignore[union-attr]
    portal_system.passwords[username] = new_password
    await sign_in(page, portal_system, username)
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"{SAMPLE_AO} {SAMPLE_AO_NAME} dashboard")

    lrs(portal_system, operator_key, "users", "disable", username)
    await page.goto(f"{portal_system.url}/batches")
    await expect(page).to_have_url(re.compile(r"/sign-in"))
    await context.close()


async def _new_account_form(page: Page, username: str, name: str, role: str) -> Locator:
    """The accounts page's "Create an account" form, filled for `username` (an AO user: of the sample AO)."""
    form = page.locator("form[action='/ops/accounts']")
    await form.get_by_label("Username", exact=True).fill(username)
    await form.get_by_label("Name", exact=True).fill(name)
    await form.get_by_label("Role").select_option(role)
    if role == "ao":
        await form.get_by_label("AO recognition number (AO users)").fill(SAMPLE_AO)
    return form


async def test_an_operator_sees_the_projector_and_creates_an_ao_account_that_can_sign_in(
    browser: Browser, operator_page: Page, portal_system: PortalSystem, uploaded: Uploaded
) -> None:
    url = portal_system.url
    await expect(operator_page.locator("[data-figure=lag]")).to_have_text(re.compile(r"^[0-9]+$"))
    await operator_page.goto(f"{url}/ops/dead-letters")
    await expect(operator_page.get_by_role("heading", name="plr-projector")).to_be_visible()
    answer = await operator_page.goto(f"{url}/batches")
    assert answer is not None and answer.status == 403

    username = f"new.{uuid.uuid4().hex[:6]}"
    await operator_page.goto(f"{url}/ops/accounts")
    form = await _new_account_form(operator_page, username, "Nia Example", "ao")
    await form.get_by_label("Email them a link to choose their password").uncheck()  # shown a password instead
    await form.get_by_role("button", name="Create the account").click()
    await expect(operator_page.locator("[data-issued]")).to_be_focused()
    await expect(operator_page).to_have_title(re.compile(rf"^Account {re.escape(username)} created "))
    portal_system.passwords[username] = (await operator_page.locator("[data-secret]").inner_text()).strip()

    context = await browser.new_context()
    page = await context.new_page()
    await sign_in(page, portal_system, username)
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"{SAMPLE_AO} {SAMPLE_AO_NAME} dashboard")
    await context.close()


async def test_an_operator_issues_an_ao_key_sees_it_listed_and_revokes_it(
    ao_page: Page, operator_page: Page, portal_system: PortalSystem
) -> None:
    url = portal_system.url
    label = f"results system {uuid.uuid4().hex[:6]}"
    await operator_page.goto(f"{url}/ops/accounts")
    form = operator_page.locator("form[action='/ops/keys']")
    await form.get_by_label("AO recognition number").fill(SAMPLE_AO)
    await form.get_by_label("Label (optional)").fill(label)
    await form.get_by_role("button", name="Issue a key").click()
    await expect(operator_page.locator("[data-issued]")).to_be_focused()  # the secret, shown once, said first
    await expect(operator_page).to_have_title(re.compile(rf"^API key issued for {SAMPLE_AO} "))
    token = (await operator_page.locator("[data-secret]").inner_text()).strip()
    key_id = token.split("_")[1]
    keys = operator_page.locator("table[data-table=keys]")
    await expect(keys.locator("tr", has_text=key_id)).to_contain_text(f"ao:{SAMPLE_AO}")
    await expect(keys.locator("tr", has_text=key_id)).to_contain_text(label)
    await expect(keys).not_to_contain_text("portal session:")  # the AO user's session key is the portal's own

    async with httpx.AsyncClient(
        base_url=portal_system.service_url("ingest"), headers={"Authorization": f"Bearer {token}"}
    ) as ingest:
        assert (await ingest.get("/v1/batches")).status_code == 200
        await operator_page.get_by_role("button", name=f"Revoke key {key_id}").click()
        await expect(operator_page.get_by_role("heading", level=1)).to_have_text("Revoke this API key?")
        assert (await ingest.get("/v1/batches")).status_code == 200  # nothing revoked before it is confirmed
        await operator_page.get_by_role("button", name="Yes, revoke this key").click()
        await expect(operator_page).to_have_url(f"{url}/ops/accounts?keys_of={SAMPLE_AO}")  # where it was issued
        await expect(operator_page.locator("[data-key-revoked]")).to_be_visible()
        await expect(keys).not_to_contain_text(key_id)

        async def refused() -> bool:
            return (await ingest.get("/v1/batches")).status_code == 401

        await eventually(refused, within=10, what="the revoked key to be refused")


def failing_by_rs005() -> bytes:
    """A batch of three records, two of them rejected: over the threshold, so the whole batch fails (RS005)."""
    lines = (SAMPLES / "sample-100.csv").read_text().splitlines()
    header, record = lines[:3], lines[3]
    bad = [
        record.replace("1000000043", uln).replace(",2013-07-02,", ",2023-01-09,")
        for uln in ("0123456789", "1000000042")
    ]
    good = record.replace(",2013-07-02,", ",2023-01-10,")
    return ("\r\n".join([*header, good, *bad]) + "\r\n").encode()


async def test_a_batch_failed_by_rs005_is_explained_in_words(ao_page: Page, portal_system: PortalSystem) -> None:
    async with await portal_system.client("ingest", f"ao:{SAMPLE_AO}") as ingest:
        response = await ingest.post("/v1/batches", content=failing_by_rs005(), headers={"Content-Type": "text/csv"})
    assert response.status_code == 202, response.text
    await ao_page.goto(f"{portal_system.url}/batches/{response.json()['batch_id']}?wait=20")
    assert await wait_decided(ao_page) == "failed"
    explanation = ao_page.locator("[data-explains=RS005]")
    await expect(explanation).to_contain_text("2 of the batch's 3 records were rejected (66.7%)")
    await expect(explanation).to_contain_text("nothing from this batch has been added to any learner's record")
    await expect(explanation).to_contain_text("not even the record that passed")
    await expect(explanation.locator("[data-leave-out]")).to_contain_text(
        "can be left out of the file and sent in a later batch"
    )


async def test_a_batch_the_lrs_gives_up_on_shows_abandoned_and_asks_for_the_same_file_again(
    ao_page: Page, portal_system: PortalSystem
) -> None:
    """The page follows the batch from validating to abandoned by itself, says the fault was the LRS's and
    that nothing was recorded, and links to upload the file again; the AO is emailed (decision 0103)."""
    lines = (SAMPLES / "sample-100.csv").read_text().splitlines()
    header, fields = lines[:3], lines[20].split(",")
    fields[9] = "2023-01-11"  # an award date no other test sends: a new achievement, whose state must be stored
    record, uln = ",".join(fields), fields[2]
    reference = f"ABANDONED-{uuid.uuid4().hex[:8]}"
    header[1] = header[1].replace("SAMPLE-100", reference)
    content = "\r\n".join([*header, record]) + "\r\n"
    async with decisions_refused_for(portal_system.database_url, uln):
        async with await portal_system.client("ingest", f"ao:{SAMPLE_AO}") as ingest:
            response = await ingest.post("/v1/batches", content=content.encode(), headers={"Content-Type": "text/csv"})
        assert response.status_code == 202, response.text
        batch_id = response.json()["batch_id"]
        await ao_page.goto(f"{portal_system.url}/batches/{batch_id}")
        assert await wait_decided(ao_page) == "abandoned"
        # the page reloaded itself on the decision: the outcome said in a banner that has the focus, and titled
        decided = ao_page.locator("[data-decided-banner]")
        await expect(decided).to_contain_text("The batch was abandoned: the LRS could not finish checking it")
        await expect(decided).to_be_focused()
        await expect(ao_page).to_have_title(re.compile(rf"^Abandoned: Batch {reference} "))
        await expect(ao_page).to_have_url(f"{portal_system.url}/batches/{batch_id}")  # a reload says it no more

    notice = ao_page.locator(f"[data-abandoned='{batch_id}']")
    await expect(notice).to_contain_text("The LRS could not process this batch")
    await expect(notice).to_contain_text("Nothing from this batch has been added to any learner's record")
    await expect(notice).not_to_contain_text(uln)
    await notice.get_by_role("link", name="upload the same file again").click()
    await expect(ao_page).to_have_url(f"{portal_system.url}/batches/new")
    await ao_page.goto(f"{portal_system.url}/batches")
    await expect(ao_page.locator("strong.govuk-tag--red", has_text="abandoned").first).to_be_visible()

    subject = f"LRS could not process your batch, nothing recorded: {SAMPLE_AO} {reference} (batch {batch_id[:8]})"

    async def emailed() -> list[EmailMessage]:
        # a subject over 78 characters is folded after "Subject:", which Python's parser reads back with a space
        return [m for m in portal_system.mailbox.to("lrs-results@pearson.example") if m["Subject"].strip() == subject]

    [email] = await eventually(emailed, within=60, what="the email of the abandoned batch")
    assert batch_id in email.get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def test_direct_entry_checks_each_field_as_it_is_typed(ao_page: Page, portal_system: PortalSystem) -> None:
    await ao_page.goto(f"{portal_system.url}/direct-entry")
    await ao_page.get_by_label("Unique Learner Number (ULN)").fill("1000000042")
    await ao_page.get_by_label("Unique Learner Number (ULN)").press("Tab")
    await expect(ao_page.locator("#uln-error")).to_be_visible()
    await expect(ao_page.locator("#uln-error")).to_contain_text("RV002")
    await expect(ao_page.get_by_label("Unique Learner Number (ULN)")).to_have_attribute(
        "aria-describedby", re.compile("uln-error")
    )
    await expect(ao_page.locator("#given_name-error")).to_be_hidden()  # untouched fields stay quiet
    # and are not counted by what a screen reader hears: the one error shown
    await expect(ao_page.locator("#entry-check-status")).to_have_text("1 problem found so far.")
    await ao_page.get_by_label("Unique Learner Number (ULN)").fill("1000000043")
    await ao_page.get_by_label("Unique Learner Number (ULN)").press("Tab")
    await expect(ao_page.locator("#uln-error")).to_be_hidden()
    await expect(ao_page.locator("#entry-check-status")).to_have_text("No problems found so far.")


async def test_the_upload_page_says_a_file_is_being_uploaded_and_checked(
    ao_page: Page, portal_system: PortalSystem
) -> None:
    """A large file on a slow line takes a while to send and check: meanwhile the page's status line says so (WCAG
    4.1.3). The form's sending is stopped here after the page's own script has seen it, in place of a slow line: a
    page waiting on its navigation cannot be read."""
    await ao_page.goto(f"{portal_system.url}/batches/new")
    status = ao_page.locator("form[data-upload] [data-upload-status]")
    await expect(status).to_have_attribute("role", "status")
    await expect(status).to_have_text("")
    await ao_page.get_by_label("Batch file").set_input_files(SAMPLES / "rules-showcase.csv")
    await ao_page.evaluate(
        "() => document.querySelector('form[data-upload]').addEventListener('submit', (e) => e.preventDefault())"
    )
    await ao_page.get_by_role("button", name="Check the file").click()
    await expect(status).to_have_text("Uploading and checking rules-showcase.csv\u2026")


@asynccontextmanager
async def maintenance_window(
    operator: httpx.AsyncClient, starts: datetime, lasting: timedelta, reason: str
) -> AsyncIterator[None]:
    """A maintenance window scheduled by an operator for the block, and removed after it."""
    scheduled = await operator.post(
        "/v1/admin/maintenance/windows",
        json={"starts_at": starts.isoformat(), "ends_at": (starts + lasting).isoformat(), "reason": reason},
    )
    assert scheduled.status_code == 201, scheduled.text
    window_id = scheduled.json()["window"]["window"]["window_id"]
    try:
        yield
    finally:
        assert (await operator.delete(f"/v1/admin/maintenance/windows/{window_id}")).is_success


async def test_maintenance_is_announced_on_every_page_and_a_batch_sent_during_a_pause_shows_queued(
    ao_page: Page, portal_system: PortalSystem
) -> None:
    banner = ao_page.locator("#maintenance-banner")
    lines = (SAMPLES / "sample-100.csv").read_text().splitlines()
    during_pause = "\r\n".join([*lines[:3], *lines[10:13]]) + "\r\n"  # records no other test sends alone
    starts = datetime.now(UTC) + timedelta(days=1)
    async with (
        await portal_system.client("ingest", "operator:tests") as ingest,
        maintenance_window(ingest, starts, timedelta(hours=2), "reference data reload"),
    ):
        for path in ("/", "/batches", "/batches/new", "/challenges"):
            await ao_page.goto(f"{portal_system.url}{path}")
            await expect(banner.locator("[data-maintenance=windows]")).to_contain_text("reference data reload")
            await expect(banner.locator("[data-maintenance=active]")).to_have_count(0)

        assert (await ingest.post("/v1/admin/maintenance/pause", json={"reason": "broker incident"})).is_success
        try:
            await eventually(lambda: decider_paused(portal_system), what="the decider told of the pause")
            async with await portal_system.client("ingest", f"ao:{SAMPLE_AO}") as ao:
                sent = await ao.post("/v1/batches", content=during_pause, headers={"Content-Type": "text/csv"})
            assert sent.status_code == 202, sent.text
            await ao_page.goto(f"{portal_system.url}/batches/{sent.json()['batch_id']}")
            await expect(banner.locator("[data-maintenance=active]")).to_contain_text(
                "Processing is paused: broker incident"
            )
            await expect(ao_page.locator("#batch-status [data-status]")).to_have_text("queued")
            await expect(ao_page.locator("[data-maintenance=batch]")).to_contain_text(
                "this batch will be processed when the LRS resumes"
            )
        finally:
            assert (await ingest.post("/v1/admin/maintenance/resume")).is_success
        await wait_decided(ao_page)
    await ao_page.goto(f"{portal_system.url}/")
    await expect(banner).to_have_count(0)


async def decider_paused(system: PortalSystem) -> bool:
    async with httpx.AsyncClient(timeout=10) as client:
        checks = (await client.get(f"{system.service_url('validation')}/readyz")).json()["checks"]
    return "paused for maintenance" in checks["consumer validation.decider"]


async def test_an_operator_schedules_and_cancels_a_window_then_pauses_and_resumes_on_the_maintenance_page(
    operator_page: Page, ao_page: Page, portal_system: PortalSystem
) -> None:
    url, tag = portal_system.url, uuid.uuid4().hex[:6]
    window_reason, pause_reason = f"database upgrade {tag}", f"broker incident {tag}"
    day = datetime.now(ZoneInfo("Europe/London")).date() + timedelta(days=3)
    after = day + timedelta(days=1)
    main = operator_page.locator("main")
    try:
        await operator_page.get_by_role("link", name="Maintenance").click()
        await expect(operator_page.get_by_role("heading", level=1)).to_have_text("Maintenance")
        await operator_page.get_by_role("button", name="Schedule the window").click()
        await expect(operator_page.locator(".govuk-error-summary")).to_contain_text("Enter the date the window starts")

        await operator_page.get_by_label("Start date").fill(day.isoformat())
        await operator_page.get_by_label("Start time").fill("22:00")
        await operator_page.get_by_label("End date").fill(after.isoformat())
        await operator_page.get_by_label("End time").fill("02:00")
        await operator_page.get_by_label("Reason", exact=True).fill(window_reason)
        await operator_page.get_by_role("button", name="Schedule the window").click()
        await expect(main.locator("[data-done]")).to_have_text(re.compile("The maintenance window is scheduled"))
        assert "?" not in operator_page.url  # the message waited in the session, not in the address
        await operator_page.reload()
        await expect(main.locator("[data-done]")).to_have_count(0)  # said once
        listed = main.locator("table[data-table=windows] tr", has_text=window_reason)
        await expect(listed).to_contain_text(f"{day.day} {day:%b %Y}, 22:00")
        await expect(listed).to_contain_text(f"{after.day} {after:%b %Y}, 02:00")
        await expect(listed).to_contain_text("operator:operator.user")
        await ao_page.goto(f"{url}/")
        await expect(ao_page.locator("#maintenance-banner [data-maintenance=windows]")).to_contain_text(window_reason)

        await listed.get_by_role("button", name=re.compile("^Cancel")).click()
        await expect(operator_page.get_by_role("heading", level=1)).to_have_text("Cancel the maintenance window?")
        await operator_page.get_by_role("button", name="Yes, cancel this window").click()
        await expect(main.locator("[data-done]")).to_have_text("The maintenance window is cancelled.")
        await expect(main.locator("table[data-table=windows]")).not_to_contain_text(window_reason)
        cancelled = main.locator("table[data-table=window-history] tr", has_text=window_reason)
        await expect(cancelled.locator("td").last).to_contain_text("by operator:operator.user")

        await operator_page.get_by_label("Reason for pausing").fill(pause_reason)
        # the form sent once before the click, as a double-click's first send or a resubmission is: the click's send
        # is ingest's 409, said as what is so, not "That could not be done" (report idempotency, finding 2)
        await operator_page.evaluate(
            "async () => { const form = document.querySelector('form[action=\"/ops/maintenance/pause\"]');"
            " await fetch(form.action, {method: 'POST', body: new FormData(form)}); }"
        )
        await operator_page.get_by_role("button", name="Pause deciding batches now").click()
        await expect(main.locator("[data-done]")).to_contain_text(
            "Already paused. operator:operator.user paused deciding batches at"
        )
        await expect(operator_page.locator("#maintenance-banner")).to_contain_text(pause_reason)  # read after
        holding = main.locator("[data-section=holding]")
        await expect(holding).to_have_attribute("data-holding", "pause")
        await expect(holding).to_contain_text(pause_reason)
        await expect(holding).to_contain_text("operator:operator.user")
        await eventually(lambda: decider_paused(portal_system), what="the decider told of the pause")

        await operator_page.get_by_role("button", name="Resume deciding batches").click()
        await expect(main.locator("[data-done]")).to_contain_text("Deciding batches has resumed")
        await expect(holding).to_have_attribute("data-holding", "none")
        resumed = main.locator("table[data-table=pause-history] tr", has_text=pause_reason)
        await expect(resumed.locator("td").last).to_contain_text("by operator:operator.user")

        async def deciding() -> bool:
            return not await decider_paused(portal_system)

        await eventually(deciding, what="the decider told of the resumption")
    finally:
        await _clear_maintenance(portal_system, window_reason)


async def _clear_maintenance(system: PortalSystem, window_reason: str) -> None:
    """What a failed maintenance test leaves would hold every batch of the tests after it."""
    async with await system.client("ingest", "operator:tests") as ingest:
        schedule = (await ingest.get("/v1/maintenance")).json()
        for window in schedule["windows"]:
            if window["reason"] == window_reason:
                await ingest.delete(f"/v1/admin/maintenance/windows/{window['window_id']}")
        if schedule["pause"] is not None:
            await ingest.post("/v1/admin/maintenance/resume")


async def _check_a_new_file(ao_page: Page, portal_system: PortalSystem, tmp_path: Path) -> str:
    """Checks sample-100 with one name made unique (a file never sent before); returns the mark."""
    tag = uuid.uuid4().hex[:8]
    marked = tmp_path / f"sample-100-{tag}.csv"
    marked.write_text((SAMPLES / "sample-100.csv").read_text().replace("McCarthy", f"McCarthy{tag}"))
    await ao_page.goto(f"{portal_system.url}/batches/new")
    await ao_page.get_by_label("Batch file").set_input_files(marked)
    await ao_page.get_by_role("button", name="Check the file").click()
    return tag


async def test_a_checked_file_waits_sealed_under_a_key_only_its_check_page_holds(
    ao_page: Page, portal_system: PortalSystem, tmp_path: Path
) -> None:
    tag = await _check_a_new_file(ao_page, portal_system, tmp_path)
    await expect(ao_page.get_by_role("button", name="Submit this batch")).to_be_visible()

    connection = await asyncpg.connect(portal_system.database_url)
    try:
        rows = await connection.fetch("SELECT content FROM portal.uploads WHERE content IS NOT NULL")
        waiting = [bytes(row["content"]) for row in rows]  # submitted ones keep only their batch's id
    finally:
        await connection.close()
    assert waiting
    assert not [content for content in waiting if tag.encode() in content or b"McCarthy" in content]

    key = ao_page.locator("input[name=upload_key]")
    await key.evaluate("field => { field.value = field.value.split('').reverse().join('') }")
    await ao_page.get_by_role("button", name="Submit this batch").click()
    await expect(ao_page.locator("main")).to_contain_text("That upload is no longer here")


async def test_the_submit_form_sent_again_goes_to_the_batch_it_made(
    ao_page: Page, portal_system: PortalSystem, tmp_path: Path
) -> None:
    await _check_a_new_file(ao_page, portal_system, tmp_path)
    submit = ao_page.locator("form", has=ao_page.get_by_role("button", name="Submit this batch"))
    names: list[str] = await submit.locator("input[type=hidden]").evaluate_all("inputs => inputs.map(i => i.name)")
    fields: dict[str, str | float | bool] = {
        name: await submit.locator(f"input[name={name}]").input_value() for name in names
    }
    await ao_page.get_by_role("button", name="Submit this batch").click()
    await ao_page.wait_for_url(re.compile(r"/batches/[0-9a-f-]{36}"))
    made = ao_page.url.split("/batches/", 1)[1].split("?", 1)[0]

    # Back from the batch page: the form to check a file, not "Confirm form resubmission" sending the file again
    await ao_page.go_back()
    await expect(ao_page.get_by_role("heading", level=1)).to_have_text("Upload a batch")
    await ao_page.go_forward()

    # the same form sent again, as the browser's "Confirm form resubmission" after Back would send it
    again = await ao_page.request.post(f"{portal_system.url}/batches/submit", form=fields, max_redirects=0)

    assert again.status == 303, await again.text()
    assert again.headers["location"] == f"/batches/{made}"


async def test_back_from_the_form_a_learners_page_filled_in_leads_to_their_page_and_forward_to_the_empty_form(
    ao_page: Page, portal_system: PortalSystem, uploaded: Uploaded
) -> None:
    """The learner's page is a GET's answer (the look-up's POST is redirected to it), the filled-in form a POST's,
    kept out of the cache: Back and Forward ask each address by GET (the learner's page read again, the empty form),
    not "Confirm form resubmission" sending the ULN and names again."""
    url = portal_system.url
    heading = ao_page.get_by_role("heading", level=1)
    uln = ao_page.get_by_label("Unique Learner Number (ULN)")
    recorded = "[data-achievement][data-withdrawn=false]"
    await find_learner(ao_page, url, LILY.uln, showing=recorded)
    await ao_page.wait_for_load_state("load")  # the page's script has run
    await ao_page.locator(recorded).first.get_by_role("button", name=re.compile("^Update")).click()
    await expect(ao_page.get_by_label("Action", exact=True)).to_have_value("Update")
    await expect(ao_page).to_have_url(f"{url}/direct-entry")
    await ao_page.wait_for_load_state("load")

    await ao_page.go_back()
    await expect(heading).to_have_text(f"A learner's achievements from {SAMPLE_AO}")
    await expect(ao_page).to_have_url(re.compile(rf"^{re.escape(url)}/learners/found/[^/]+$"))
    await expect(ao_page.locator(recorded).first).to_be_visible()
    await ao_page.go_forward()
    await expect(heading).to_have_text("Enter one achievement")
    await expect(uln).to_have_value("")  # the empty form by GET (the browser may restore the Action it had)


async def test_an_operator_erases_a_learner_after_confirming_and_their_challenge_then_shows_erased(
    ao_page: Page, operator_page: Page, portal_system: PortalSystem, uploaded: Uploaded
) -> None:
    url, uln, reason = portal_system.url, "1060989181", "A test learner loaded into production"
    achievement_id = await _achievement_of_line(portal_system, uploaded.sample_100.batch_id, 6)  # Harry Robinson
    async with await portal_system.client("challenges", f"learner:{uln}") as challenges:
        raised = await challenges.post(
            "/v1/challenges",
            json={"achievement_id": achievement_id, "ao_id": SAMPLE_AO, "reason": "Robinson is spelt Robynson."},
        )
    assert raised.status_code == 201, raised.text
    challenge_id = raised.json()["challenge_id"]

    async def ask_to_erase() -> None:
        await operator_page.goto(f"{url}/ops/erasures")
        form = operator_page.locator("form[action='/ops/erasures/check']")
        await form.get_by_label("ULN").fill(uln)
        await form.get_by_label("Reason").fill(reason)
        await form.get_by_role("button", name="Erase this learner").click()
        await expect(operator_page.get_by_role("heading", level=1)).to_have_text(f"Erase learner {uln}?")

    audit = operator_page.locator("table[data-table=erasures]")
    await ask_to_erase()
    await operator_page.get_by_role("link", name="No, keep them").click()
    await expect(audit).not_to_contain_text(uln)
    forged = await operator_page.request.post(
        f"{url}/ops/erasures", form={"uln": uln, "reason": reason, "csrf_token": "forged"}, max_redirects=0
    )
    assert forged.status == 403
    await operator_page.reload()
    await expect(audit).not_to_contain_text(uln)

    await ask_to_erase()
    await operator_page.get_by_role("button", name="Yes, erase this learner").click()
    await expect(operator_page.get_by_role("heading", level=1)).to_have_text(f"Learner {uln} is erased")
    await operator_page.go_back()  # the confirmation's address by GET: the form, not the browser resending it
    await expect(operator_page.get_by_role("heading", level=1)).to_have_text("Erase a learner")
    await expect(audit.locator("tr", has_text=uln)).to_contain_text(reason)
    await ask_to_erase()
    await operator_page.get_by_role("button", name="Yes, erase this learner").click()
    await expect(operator_page.get_by_role("heading", level=1)).to_have_text(f"Learner {uln} was already erased")
    await expect(audit.locator("tr", has_text=uln)).to_have_count(1)

    row = ao_page.locator(f"table[data-table=open] tr[data-challenge='{challenge_id}']")

    async def shown_erased() -> bool:
        await ao_page.goto(f"{url}/challenges")
        return await row.locator(".portal-erased").count() == 1

    await eventually(shown_erased, within=60, what="the erased learner's challenge reason shown as (erased)")
    await expect(row).not_to_contain_text("Robynson")
    await row.get_by_role("link").click()
    await expect(ao_page.locator("main")).to_contain_text("(erased)")
    await expect(ao_page.locator("main")).not_to_contain_text("Robynson")

    await expect(ao_page.get_by_role("link", name="Erase a learner")).to_have_count(0)
    answer = await ao_page.goto(f"{url}/ops/erasures")
    assert answer is not None and answer.status == 403


async def test_an_operator_sees_how_learner_keys_are_wrapped_and_rewraps_them(
    operator_page: Page, ao_page: Page, portal_system: PortalSystem, uploaded: Uploaded
) -> None:
    """Decision 0116 in the portal. The system under test wraps with the derived key, so nothing is left to
    re-wrap and no button is offered; a press of it (as its form would send it) re-wraps nothing and says so."""
    url = portal_system.url
    await operator_page.goto(f"{url}/ops/erasures")
    csrf = operator_page.locator("form[action='/ops/erasures/check'] input[type=hidden]")
    field, token = await csrf.get_attribute("name"), await csrf.get_attribute("value")
    assert field and token
    await operator_page.get_by_role("link", name="Learner keys").click()
    await expect(operator_page.get_by_role("heading", level=1)).to_have_text("Learner keys")
    wrapping = operator_page.locator("dl[data-section=key-wrapping]")
    await expect(wrapping).to_contain_text("wrapping key 0 (derived from LRS_KEYRING_KEY)")
    await expect(wrapping).to_contain_text("by wrapping key 0")
    await expect(wrapping.locator("[data-to-rewrap]")).to_have_attribute("data-to-rewrap", "0")
    await expect(operator_page.locator("form[action='/ops/keyring/rewrap']")).to_have_count(0)

    forged = await operator_page.request.post(f"{url}/ops/keyring/rewrap", form={field: "forged"}, max_redirects=0)
    assert forged.status == 403
    pressed = await operator_page.request.post(f"{url}/ops/keyring/rewrap", form={field: token}, max_redirects=0)
    assert pressed.status == 303 and pressed.headers["location"] == "/ops/keyring"
    await operator_page.goto(f"{url}/ops/keyring")
    said = "Re-wrapped 0 learner keys with wrapping key 0: none is left to re-wrap."
    await expect(operator_page.locator("[data-rewrapped]")).to_have_text(said)
    await operator_page.reload()  # said once: a reload re-wraps nothing and says nothing
    await expect(operator_page.locator("[data-rewrapped]")).to_have_count(0)

    await ao_page.goto(f"{url}/")
    await expect(ao_page.get_by_role("link", name="Batches").first).to_be_visible()  # the AO's navigation
    await expect(ao_page.get_by_role("link", name="Learner keys")).to_have_count(0)
    answer = await ao_page.goto(f"{url}/ops/keyring")
    assert answer is not None and answer.status == 403


async def test_every_open_challenge_is_in_the_inbox_and_counted_however_many_were_resolved_since(
    ao_page: Page, portal_system: PortalSystem, uploaded: Uploaded
) -> None:
    """60 open challenges, then 250 resolved ones raised after them: the inbox shows the open ones 50 a
    page (the newest first, then "Older open challenges"), the dashboard counts every one of them, and
    every resolved one is a link and some pages away."""
    url = portal_system.url
    earlier = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    rows = [
        (uuid.uuid4(), f"{1000000000 + n * 7919}", "raised" if n % 2 else "acknowledged", earlier + timedelta(hours=n))
        for n in range(60)
    ] + [
        (uuid.uuid4(), f"{2000000000 + n * 7919}", "resolved", earlier + timedelta(days=30, hours=n))
        for n in range(250)
    ]
    connection = await asyncpg.connect(portal_system.database_url)
    try:
        await connection.executemany(
            "INSERT INTO challenges.challenges (challenge_id, achievement_id, ao_id, uln, reason, state, raised_at)"
            " VALUES ($1, gen_random_uuid(), $2, $3, 'The grade is wrong.', $4, $5)",
            [(challenge_id, SAMPLE_AO, uln, state, at) for challenge_id, uln, state, at in rows],
        )
        stored = await connection.fetch(
            "SELECT challenge_id, state FROM challenges.challenges WHERE ao_id = $1", SAMPLE_AO
        )
        open_ones = {str(row["challenge_id"]) for row in stored if row["state"] != "resolved"}
        resolved = {str(row["challenge_id"]) for row in stored if row["state"] == "resolved"}
    finally:
        await connection.close()

    shown: list[str] = []
    await ao_page.goto(f"{url}/challenges")
    while True:
        page_rows = ao_page.locator("table[data-table=open] tr[data-challenge]")
        shown += [str(await row.get_attribute("data-challenge")) for row in await page_rows.all()]
        assert await page_rows.count() <= 50
        older = ao_page.locator("a[data-older-open]")
        if not await older.count():
            break
        await _follow(older)
    assert len(shown) == len(set(shown)) and set(shown) == open_ones
    await expect(ao_page.get_by_role("link", name="Newest open challenges")).to_be_visible()

    await ao_page.goto(f"{url}/")
    await expect(ao_page.locator("[data-figure=open-challenges]")).to_have_text(str(len(open_ones)))

    # the resolved ones: the inbox's latest 20, then all of them from its link, 50 a page
    await ao_page.goto(f"{url}/challenges")
    await expect(ao_page.locator("table[data-table=resolved] tr[data-challenge]")).to_have_count(20)
    await _follow(ao_page.get_by_role("link", name="All resolved challenges"))  # its rows, not the inbox's
    resolved_shown: list[str] = []
    while True:
        page_rows = ao_page.locator("table[data-table=resolved] tr[data-challenge]")
        resolved_shown += [str(await row.get_attribute("data-challenge")) for row in await page_rows.all()]
        older = ao_page.locator("a[data-older-resolved]")
        if not await older.count():
            break
        await _follow(older)
    assert len(resolved_shown) == len(set(resolved_shown)) and set(resolved_shown) == resolved


async def test_the_erasure_audit_is_shown_newest_first_a_page_at_a_time(
    operator_page: Page, portal_system: PortalSystem
) -> None:
    """The audit of 70 erasures and more: 50 a page, newest first, each erasure once."""
    earlier = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
    connection = await asyncpg.connect(portal_system.database_url)
    try:
        await connection.executemany(
            "INSERT INTO validation.erasures (erasure_id, uln, erased_by, reason, erased_at)"
            " VALUES (gen_random_uuid(), $1, 'operator:dpo', 'created in error', $2)",
            [(f"{3000000000 + n * 7919}", earlier + timedelta(days=n // 2)) for n in range(70)],
        )
        audit = [
            str(row["erasure_id"])
            for row in await connection.fetch(
                "SELECT erasure_id FROM validation.erasures ORDER BY erased_at DESC, erasure_id"
            )
        ]
    finally:
        await connection.close()

    shown: list[str] = []
    await operator_page.goto(f"{portal_system.url}/ops/erasures")
    while True:
        rows = operator_page.locator("table[data-table=erasures] tr[data-erasure]")
        assert await rows.count() <= 50
        shown += [str(await row.get_attribute("data-erasure")) for row in await rows.all()]
        older = operator_page.locator("a[data-older-erasures]")
        if not await older.count():
            break
        await _follow(older)
    assert shown == audit
    await expect(operator_page.get_by_role("link", name="Newest erasures")).to_be_visible()


async def test_a_challenge_is_resolved_as_corrected_by_a_batch_not_in_the_list_given_its_id(
    ao_page: Page, portal_system: PortalSystem, uploaded: Uploaded
) -> None:
    """A correcting batch may be given by its id; the challenges service judges it (decision 0142): one of the
    AO's completed batches with a record of the challenged achievement, decided after the challenge was raised."""
    line = 8  # Leo Jackson's 100/5005/X: challenged and erased by no other test
    uln = (SAMPLES / "sample-100.csv").read_text().splitlines()[line - 1].split(",")[2]
    achievement_id = await _achievement_of_line(portal_system, uploaded.sample_100.batch_id, line)
    challenge_id = uuid.uuid4()
    connection = await asyncpg.connect(portal_system.database_url)
    try:  # raised the day before the sample batch reached the PLR, so that batch may have corrected it
        await connection.execute(
            "INSERT INTO challenges.challenges (challenge_id, achievement_id, ao_id, uln, reason, state, raised_at)"
            " VALUES ($1, $2, $3, $4, 'The grade is wrong.', 'raised', now() - interval '1 day')",
            challenge_id,
            uuid.UUID(achievement_id),
            SAMPLE_AO,
            uln,
        )
    finally:
        await connection.close()
    await ao_page.goto(f"{portal_system.url}/challenges/{challenge_id}")
    typed = ao_page.get_by_label("Or the correcting batch's id, if it is not listed")
    error = ao_page.locator("[data-field=other_batch_id] .portal-error-text")

    for entered, says in [
        ("batch 42", "Enter the batch's id as its page shows it"),
        (
            str(uuid.uuid4()),
            "That batch is not one of yours that was completed with an accepted record of this learner",
        ),
    ]:
        await ao_page.get_by_label("Data corrected: the learner was right").check()
        await typed.fill(entered)
        await ao_page.get_by_role("button", name="Resolve the challenge").click()
        await expect(error).to_contain_text(says)
    await typed.fill(uploaded.sample_100.batch_id)
    await ao_page.get_by_role("button", name="Resolve the challenge").click()
    await expect(ao_page.locator("[data-state]")).to_have_text("resolved")

    async with await portal_system.client("challenges", f"ao:{SAMPLE_AO}") as challenges:
        stored = (await challenges.get(f"/v1/challenges/{challenge_id}")).json()
    assert (stored["resolution"], stored["note"]) == ("corrected", None)
    assert stored["correcting_batch_id"] == uploaded.sample_100.batch_id


async def test_an_operator_finds_any_aos_keys_however_many_keys_there_are(
    operator_page: Page, portal_system: PortalSystem
) -> None:
    """600 keys of AOs whose numbers sort before RN9999's: the page lists the first 500 and says so, and
    one AO's keys are a search away."""
    connection = await asyncpg.connect(portal_system.database_url)
    try:
        await connection.executemany(
            "INSERT INTO identity.credentials (key_id, principal, secret_hash, label) VALUES ($1, $2, 'unusable', $3)",
            [(uuid.uuid4().hex[:16], f"ao:RN{1000 + n // 3}", "a results system") for n in range(600)],
        )
        await connection.execute(
            "INSERT INTO identity.credentials (key_id, principal, secret_hash, label)"
            " VALUES ('late0000late0000', 'ao:RN9999', 'unusable', 'the last AO''s key')"
        )
    finally:
        await connection.close()
    try:
        await _find_a_late_aos_keys(operator_page, portal_system.url)
    finally:  # the other tests' keys are among the first 500 again
        connection = await asyncpg.connect(portal_system.database_url)
        await connection.execute("SET lrs.audit_maintenance = 'on'")  # as the table's owner (decision 0200)
        await connection.execute("DELETE FROM identity.credentials WHERE secret_hash = 'unusable'")
        await connection.close()


async def _find_a_late_aos_keys(operator_page: Page, url: str) -> None:
    await operator_page.goto(f"{url}/ops/accounts")
    keys = operator_page.locator("table[data-table=keys]")
    await expect(keys.locator("caption")).to_contain_text("AO API keys: the first 500 of ")
    await expect(keys).not_to_contain_text("late0000late0000")

    search = operator_page.locator("form[data-form=keys-of]")
    await search.get_by_label("Show one AO's API keys").fill("rn9999")
    await search.get_by_role("button", name="Show their keys").click()
    await expect(keys.locator("caption")).to_have_text("API keys of RN9999")
    await expect(keys.locator("tbody tr")).to_have_count(1)
    await expect(keys).to_contain_text("late0000late0000")
    await operator_page.get_by_role("button", name="Revoke key late0000late0000").click()
    await operator_page.get_by_role("button", name="Yes, revoke this key").click()
    await expect(operator_page).to_have_url(f"{url}/ops/accounts?keys_of=RN9999")
    await expect(keys).to_contain_text("No API keys of RN9999.")

    await search.get_by_label("Show one AO's API keys").fill("Pearson")
    await search.get_by_role("button", name="Show their keys").click()
    await expect(operator_page.locator("[data-field=keys_of] .portal-error-text")).to_contain_text("like RN9037")


async def test_an_operator_limited_to_dead_letters_sees_only_their_pages_until_lrs_users_changes_the_duties(
    browser: Browser, operator_page: Page, portal_system: PortalSystem
) -> None:
    """Decision 0124: duties ticked when the account is made; the session's key reaches the real services for
    them; other pages are refused; `lrs users duties` ends the session."""
    url = portal_system.url
    username = f"oncall.{uuid.uuid4().hex[:6]}"
    await operator_page.goto(f"{url}/ops/accounts")
    form = await _new_account_form(operator_page, username, "Oncall Example", "operator")
    await form.get_by_label("Only the duties ticked below").check()
    await form.get_by_label("dead-letters").check()
    await form.get_by_label("Email them a link to choose their password").uncheck()
    await form.get_by_role("button", name="Create the account").click()
    portal_system.passwords[username] = (await operator_page.locator("[data-secret]").inner_text()).strip()
    row = operator_page.locator("table[data-table=accounts] tr", has_text=username)
    await expect(row.locator("[data-duties]")).to_have_text("dead-letters")
    await row.get_by_role("link", name=re.compile("Duties")).click()
    await expect(operator_page.get_by_label("dead-letters")).to_be_checked()
    assert await serious_violations(operator_page) == []

    context = await browser.new_context()
    page = await context.new_page()
    await sign_in(page, portal_system, username)
    menu = page.locator("#navigation")
    await expect(page.locator("[data-figure=lag]")).to_have_text(re.compile(r"^[0-9]+$"))  # asked with their key
    assert "Erase a learner" not in await menu.inner_text()
    await expect(page.get_by_role("link", name="See dead letters")).to_be_visible()
    await expect(page.get_by_role("link", name="See the rebuild")).to_have_count(0)  # not their duty: a 403
    await page.goto(f"{url}/ops/dead-letters")
    await expect(page.get_by_role("heading", name="plr-projector")).to_be_visible()
    refused = await page.goto(f"{url}/ops/erasures")
    assert refused is not None and refused.status == 403
    await expect(page.locator("main")).to_contain_text("needs the “erasure” duty")

    operator_key = await portal_system.key_for("operator:tests")
    changed = lrs(portal_system, operator_key, "users", "duties", username, "--scope", "erasure")
    assert "operator with duties erasure" in changed
    audit = lrs(portal_system, operator_key, "users", "changes", "--limit", "5")
    assert f"operator:tests (API key)  {username}  duties changed: erasure" in audit
    assert f"operator:operator.user  {username}  created: operator with duties dead-letters" in audit
    await page.goto(f"{url}/ops/dead-letters")
    await expect(page).to_have_url(re.compile(r"/sign-in"))
    await page.goto(f"{url}/sign-in")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password", exact=True).fill(portal_system.passwords[username])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/ops/erasures$"))  # the first page the new duties reach
    await context.close()


async def _parked_under(system: PortalSystem, service: str, key: str) -> list[dict[str, Any]]:
    async with await system.client(service, "operator:tests") as client:
        answer = await client.get("/v1/admin/dlq", params={"key": key})
    return list(answer.json()["parked"]) if answer.status_code == 200 else []


async def test_an_operator_retries_a_poison_that_still_fails_then_skips_it_with_a_reason(
    operator_page: Page, portal_system: PortalSystem, portal_kafka: str
) -> None:
    """Unreadable bytes on the batch outcomes topic are parked by every service that reads it; the start page
    counts them all; a retry says the message is still parked and why; a skip asks for a reason first."""
    url, key = portal_system.url, str(uuid.uuid4())  # a batch's id, as the outcomes log's keys are
    readers = ("ingest", "notifier", "reporting")
    await send(portal_kafka, BATCH_OUTCOMES.name, [(key.encode(), b"not json at all")])
    try:

        async def parked_everywhere() -> list[list[dict[str, Any]]] | None:
            found = [await _parked_under(portal_system, service, key) for service in readers]
            return found if all(found) else None

        _, (poison,), _ = await eventually(parked_everywhere, within=90, what="the poison parked by each reader")
        await operator_page.goto(f"{url}/ops")
        card = operator_page.locator("[data-parked-by-service]")
        for service in readers:
            await expect(card.locator(f"[data-parked-in={service}]")).to_have_text(re.compile(f"^{service}: [1-9]"))
        counted = [re.search(r": ([0-9,]+)$", text) for text in await card.locator("li").all_inner_texts()]
        figure = await operator_page.locator("[data-figure=dead-letters]").inner_text()
        assert int(figure.replace(",", "")) == sum(int(found[1].replace(",", "")) for found in counted if found)

        await operator_page.get_by_role("link", name="See dead letters").click()
        row = operator_page.locator(f"table[data-table=dlq-notifier] tr[data-parked='{poison['id']}']")
        await row.get_by_role("button", name=f"Retry {key} on ").click()
        outcome = operator_page.locator("[data-outcome]")
        await expect(outcome).to_have_attribute("data-outcome", "still-parked")
        await expect(outcome).to_contain_text(f"Retry of notifier key {key}: 1 message still parked")
        await expect(outcome).to_contain_text("First error: invalid: Invalid JSON")
        assert await serious_violations(operator_page) == []
        await operator_page.reload()
        await expect(operator_page.locator("[data-outcome]")).to_have_count(0)

        await row.get_by_role("button", name=f"Skip {key} on ").click()
        await expect(operator_page.get_by_role("heading", level=1)).to_have_text(
            f"Skip the poison of key {key} in notifier?"
        )
        await operator_page.get_by_role("button", name="Yes, skip it").click()
        await expect(operator_page.locator(".govuk-error-summary")).to_contain_text("Say why the message is dropped")
        assert await serious_violations(operator_page) == []
        assert await _parked_under(portal_system, "notifier", key)  # nothing dropped without a reason
        await operator_page.get_by_label("Reason").fill("unreadable test message")
        await operator_page.get_by_role("button", name="Yes, skip it").click()
        await expect(outcome).to_have_attribute("data-outcome", "skipped")
        await expect(outcome).to_contain_text(f"Skip of notifier key {key}: the poison was dropped")
        assert await _parked_under(portal_system, "notifier", key) == []

        # ingest's copy is mended instead: a corrected copy typed on the portal is what ingest applies
        (ingest_poison,) = await _parked_under(portal_system, "ingest", key)
        row = operator_page.locator(f"table[data-table=dlq-ingest] tr[data-parked='{ingest_poison['id']}']")
        await row.get_by_role("link", name=f"Retry with a corrected copy of {key} on ").click()
        await operator_page.get_by_label("Corrected copy (JSON)").fill("not json at all, still")
        await operator_page.get_by_role("button", name="Retry with this copy").click()
        await expect(operator_page.locator(".govuk-error-summary")).to_contain_text("The copy is not JSON")
        assert await serious_violations(operator_page) == []
        started = BatchValidationStarted(batch_id=uuid.UUID(key), ao_id=SAMPLE_AO, record_count=1)
        corrected = encode(wrap(started, source="validation", correlation_id=str(started.batch_id)))
        await operator_page.get_by_label("Corrected copy (JSON)").fill(corrected.decode())
        await operator_page.get_by_role("button", name="Retry with this copy").click()
        await expect(outcome).to_have_attribute("data-outcome", "applied")
        await expect(outcome).to_contain_text(f"Retry with a corrected copy of ingest key {key}: 1 message")
        assert await _parked_under(portal_system, "ingest", key) == []
    finally:
        for service in readers:
            async with await portal_system.client(service, "operator:tests") as client:
                for parked in await _parked_under(portal_system, service, key):
                    await client.post(f"/v1/admin/dlq/{parked['id']}/skip", json={"reason": "test clean-up"})


async def test_an_operator_compares_a_rebuild_and_abandons_it_after_confirming(
    operator_page: Page, portal_system: PortalSystem
) -> None:
    url = portal_system.url
    await operator_page.goto(f"{url}/ops/rebuild")
    state = operator_page.locator("[data-rebuild-state]")
    await expect(state).to_have_attribute("data-rebuild-state", "idle")
    try:
        await operator_page.get_by_role("button", name="Start a rebuild").click()
        await expect(operator_page.locator("[data-done=start]")).to_contain_text("started")

        async def caught_up() -> bool:
            await operator_page.goto(f"{url}/ops/rebuild")
            return await state.get_attribute("data-rebuild-state") == "caught_up"

        await eventually(caught_up, within=120, what="the rebuild caught up")
        await operator_page.get_by_role("button", name="Compare with the live model").click()
        await expect(operator_page.locator("[data-done=compare]")).to_contain_text("Compared with the live model")
        comparison = operator_page.locator("[data-comparison]")
        await expect(comparison).to_have_text(re.compile(r"(Identical|Different): "))
        await expect(comparison).not_to_contain_text("{")
        await expect(operator_page.locator("table[data-table=comparison] [data-compared-table]").first).to_be_visible()
        assert await serious_violations(operator_page) == []

        await operator_page.get_by_role("button", name="Switch to the rebuilt model").click()
        await expect(operator_page.get_by_role("heading", level=1)).to_have_text("Switch to the rebuilt model?")
        assert await serious_violations(operator_page) == []
        await operator_page.get_by_role("link", name="No, go back").click()
        await expect(state).to_have_attribute("data-rebuild-state", "caught_up")  # nothing switched

        await operator_page.get_by_role("button", name="Abandon the rebuild").click()
        await expect(operator_page.get_by_role("heading", level=1)).to_have_text("Abandon the rebuild?")
        await operator_page.get_by_role("button", name="Yes, abandon the rebuild").click()
        await expect(operator_page.locator("[data-done=abandon]")).to_contain_text(
            re.compile(r"Abandoned rebuild [0-9]+: its schema was dropped")
        )
        await expect(state).to_have_attribute("data-rebuild-state", "idle")
    finally:
        async with await portal_system.client("plr-projector", "operator:tests") as projector:
            if (await projector.get("/v1/admin/rebuild")).json()["state"] != "idle":
                await projector.delete("/v1/admin/rebuild")


async def test_a_person_replaces_the_password_they_were_given_and_signs_in_with_their_own(
    browser: Browser, portal_system: PortalSystem
) -> None:
    """Decision 0127: the given password is flagged on every page until the person chooses their own."""
    operator_key = await portal_system.key_for("operator:tests")
    username = f"given.{uuid.uuid4().hex[:6]}"
    portal_system.passwords[username] = new_ao_user(portal_system, operator_key, username, "Gia Example")
    context = await browser.new_context(bypass_csp=True)
    page = await context.new_page()
    await sign_in(page, portal_system, username)
    banner = page.locator("[data-banner=password-given]")
    await expect(banner).to_be_visible()

    await banner.get_by_role("link", name="Choose one only you know").click()
    await page.get_by_label("Your password now").fill(portal_system.passwords[username])
    await page.get_by_label("New password", exact=True).fill("three quiet harbour lamps")
    await page.get_by_label("New password again").fill("three quiet harbour lamps")
    await page.get_by_role("button", name="Change my password").click()
    await expect(page.locator(".govuk-notification-banner--success")).to_contain_text("Your password has been changed")

    portal_system.passwords[username] = "three quiet harbour lamps"
    await sign_in(page, portal_system, username)
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"{SAMPLE_AO} {SAMPLE_AO_NAME} dashboard")
    await expect(page.locator("[data-banner=password-given]")).to_have_count(0)
    await context.close()


async def test_a_person_who_forgot_their_password_chooses_a_new_one_with_a_link_by_email(
    browser: Browser, portal_system: PortalSystem
) -> None:
    """Decision 0128: from the sign-in page to an email, and back in with a new password."""
    operator_key = await portal_system.key_for("operator:tests")
    username = f"forgot.{uuid.uuid4().hex[:6]}"
    address = f"{username}@ao.example"
    created = lrs(
        portal_system, operator_key, "users", "create", username, "--name", "Fen Example", "--role", "ao",
        "--ao", SAMPLE_AO, "--email", address,
    )  # fmt: skip
    assert "password: " in created
    context = await browser.new_context(bypass_csp=True)
    page = await context.new_page()
    await page.goto(f"{portal_system.url}/sign-in")
    await page.get_by_role("link", name="Forgotten your password?").click()
    found = await serious_violations(page)
    await page.get_by_label("Username").fill(username)
    await page.get_by_role("button", name="Email me a link").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    found += await serious_violations(page)

    async def delivered() -> list[EmailMessage]:
        return portal_system.mailbox.to(address)

    [email] = await eventually(delivered, within=10, what="the reset link's email")
    link = re.search(rf"{re.escape(portal_system.url)}/account/reset/\S+", email.get_content())
    assert link, "the email holds no link to this portal"
    await page.goto(link.group())
    await expect(page.get_by_role("heading", level=1)).to_have_text("Choose your password")
    found += await serious_violations(page)
    await page.get_by_label("New password", exact=True).fill("seven amber kites at dusk")
    await page.get_by_label("New password again").fill("seven amber kites at dusk")
    await page.get_by_role("button", name="Set my password").click()
    await expect(page.locator(".govuk-notification-banner--success")).to_contain_text("Your new password is set")

    portal_system.passwords[username] = "seven amber kites at dusk"
    await sign_in(page, portal_system, username)
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"{SAMPLE_AO} {SAMPLE_AO_NAME} dashboard")
    await page.goto(link.group())
    await expect(page.get_by_role("heading", level=1)).to_have_text("This link does not work")
    assert found == []
    await context.close()


async def test_a_new_account_chooses_its_own_password_through_a_link_by_email(
    browser: Browser, operator_page: Page, portal_system: PortalSystem
) -> None:
    """Decision 0129: the operator never sees the password; the person chooses it from the email."""
    url = portal_system.url
    username = f"linked.{uuid.uuid4().hex[:6]}"
    address = f"{username}@ao.example"
    await operator_page.goto(f"{url}/ops/accounts")
    form = await _new_account_form(operator_page, username, "Lin Example", "ao")
    await form.get_by_label("Email address", exact=True).fill(address)
    await expect(form.get_by_label("Email them a link to choose their password")).to_be_checked()
    await form.get_by_role("button", name="Create the account").click()
    sent = operator_page.locator("[data-first-link-sent]")
    await expect(sent).to_contain_text(f"Account {username} created")
    await expect(operator_page.locator("[data-first-link-detail]")).to_contain_text(f"emailed to {address}")
    await expect(operator_page.locator("[data-secret]")).to_have_count(0)
    found = await serious_violations(operator_page)

    async def delivered() -> list[EmailMessage]:
        return portal_system.mailbox.to(address)

    [email] = await eventually(delivered, within=10, what="the new account's email")
    link = re.search(rf"{re.escape(url)}/account/reset/\S+", email.get_content())
    assert link, "the email holds no link to this portal"
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(link.group())
    await expect(page.get_by_role("heading", level=1)).to_have_text("Choose your password")
    await page.get_by_label("New password", exact=True).fill("nine quiet herons wading")
    await page.get_by_label("New password again").fill("nine quiet herons wading")
    await page.get_by_role("button", name="Set my password").click()
    await expect(page.locator(".govuk-notification-banner--success")).to_contain_text("Your new password is set")
    portal_system.passwords[username] = "nine quiet herons wading"
    await sign_in(page, portal_system, username)
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"{SAMPLE_AO} {SAMPLE_AO_NAME} dashboard")
    await expect(page.locator("[data-banner=password-given]")).to_have_count(0)  # nobody else saw it

    async def told() -> list[EmailMessage] | None:  # the password set is told to the account's address
        sent = [m for m in portal_system.mailbox.to(address) if str(m["Subject"]) == PASSWORD_CHANGED]
        return sent or None

    [notice] = await eventually(told, within=10, what="the notice of the password set")
    assert f"account, {username}, was set at" in notice.get_content()

    # a new link from the operator: the person's password stays until it is used
    await operator_page.goto(f"{url}/ops/accounts?starting={username}")
    await operator_page.get_by_role("button", name=f"Email a password link to {username}").click()
    await expect(operator_page.locator("[data-first-link-sent]")).to_contain_text(f"Link emailed to {username}")
    found += await serious_violations(operator_page)

    def links() -> list[EmailMessage]:
        return [m for m in portal_system.mailbox.to(address) if str(m["Subject"]) != PASSWORD_CHANGED]

    async def both() -> list[EmailMessage] | None:
        sent = links()
        return sent if len(sent) == 2 else None

    again = await eventually(both, within=10, what="the operator's link")
    assert "An LRS operator has sent you this link" in again[-1].get_content()
    await operator_page.reload()  # decision 0130: the page after the action, fetched again, sends nothing
    await expect(operator_page.locator("[data-first-link-sent]")).to_have_count(0)
    assert len(links()) == 2 and len(portal_system.mailbox.to(address)) == 3
    assert found == []
    await context.close()


async def test_no_page_scrolls_sideways_on_a_phone(
    ao_page: Page, operator_page: Page, portal_system: PortalSystem, uploaded: Uploaded
) -> None:
    """WCAG 1.4.10 (reflow): at 320 CSS pixels wide, and 640, only a table's own region scrolls sideways, never the
    page; with a failed and a refused batch listed, whose counts hold words hidden for screen readers (positioned
    absolutely: once they stretched the page past the table's region); a batch's page with its Code filter, whose
    options name codes in words (once 570 px wide); the check of a file whose name has nothing to break on; a
    challenge, whose achievement id was once kept on one line; and what the AO or an operator typed, with nothing to
    break on, said back: a maintenance window's reason with a link (on every page), a batch's reference and a refused
    qualification number (a record's page), the same number refused by direct entry (reflow walk, findings 2 and 3)."""
    url = portal_system.url
    lines = (SAMPLES / "sample-100.csv").read_text().splitlines()
    header_only = "\r\n".join(lines[:3]) + "\r\n"
    long_value = "100/5006/1_NOT_A_REAL_QUALIFICATION_NUMBER_AT_ALL_0123456789"
    long_reference = "RN9093_Final_Results_Summer2024_Batch01_v3_resubmitted"
    assert ",500/0002/0," in lines[3] and ",SAMPLE-100," in lines[1]
    long_values = [lines[0], lines[1].replace(",SAMPLE-100,", f",{long_reference},"), lines[2]]
    long_values.append(lines[3].replace(",500/0002/0,", f",{long_value},"))
    async with await portal_system.client("ingest", f"ao:{SAMPLE_AO}") as ingest:
        failing = await ingest.post("/v1/batches", content=failing_by_rs005(), headers={"Content-Type": "text/csv"})
        refused = await ingest.post("/v1/batches", content=header_only, headers={"Content-Type": "text/csv"})
        typed = await ingest.post(
            "/v1/batches", content="\r\n".join(long_values) + "\r\n", headers={"Content-Type": "text/csv"}
        )
    assert failing.status_code == 202, failing.text
    assert refused.status_code < 500, refused.text  # refused at the door (RS006), kept as a refused batch
    assert typed.status_code == 202, typed.text
    await ao_page.goto(f"{url}/batches/{failing.json()['batch_id']}?wait=20")
    assert await wait_decided(ao_page) == "failed"
    await ao_page.goto(f"{url}/batches/{typed.json()['batch_id']}?wait=20")
    assert await wait_decided(ao_page) == "failed"  # its one record rejected (RS005)
    line = 10  # Willow Cooper's 100/5006/1: challenged by no other test
    uln = (SAMPLES / "sample-100.csv").read_text().splitlines()[line - 1].split(",")[2]
    achievement_id = await _achievement_of_line(portal_system, uploaded.sample_100.batch_id, line)
    async with await portal_system.client("challenges", f"learner:{uln}") as challenges:
        raised = await challenges.post(
            "/v1/challenges", json={"achievement_id": achievement_id, "ao_id": SAMPLE_AO, "reason": "Wrong grade."}
        )
    assert raised.status_code == 201, raised.text
    showcase = uploaded.showcase.batch_id
    pages = (
        (ao_page, "/"),
        (ao_page, "/batches"),
        (ao_page, f"/batches/{showcase}"),
        (ao_page, f"/challenges/{raised.json()['challenge_id']}"),
        (ao_page, "/batches/check"),
        (operator_page, "/ops/accounts"),
        (operator_page, f"/ops/batches/{showcase}"),
        (ao_page, f"/batches/{typed.json()['batch_id']}/records/4"),
        (operator_page, f"/ops/batches/{typed.json()['batch_id']}/records/4"),
        (ao_page, "/direct-entry"),
    )
    long_name = "RN9093_Final_Results_Summer2024_Batch01_v3.csv"
    link = "https://status.lrs.example/incidents/2026-12-08-database-upgrade-and-reindex-window"
    starts = datetime.now(UTC) + timedelta(days=3)
    async with (
        await portal_system.client("ingest", "operator:tests") as operator,
        maintenance_window(operator, starts, timedelta(hours=3), f"Database upgrade and reindex: see {link}"),
    ):
        wide = await _pages_wider_than_the_screen(pages, url, long_name, long_value, long_reference, link)
    assert wide == []


async def _pages_wider_than_the_screen(
    pages: tuple[tuple[Page, str], ...], url: str, long_name: str, long_value: str, long_reference: str, link: str
) -> list[str]:
    wide: list[str] = []
    for width in (320, 640):
        for page, path in pages:
            await page.set_viewport_size({"width": width, "height": 640})
            if path == "/direct-entry":
                await page.goto(f"{url}{path}")
                await page.get_by_label("Qualification number (QAN)").fill(long_value)
                await page.get_by_role("button", name="Send this achievement").click()
                await expect(page.locator(".govuk-error-summary")).to_contain_text(long_value[:38])
            elif path == "/batches/check":
                await page.goto(f"{url}/batches/new")
                file = FilePayload(name=long_name, mimeType="text/csv", buffer=read_file(SAMPLES / "sample-100.csv"))
                await page.get_by_label("Batch file").set_input_files(file)
                await page.get_by_role("button", name="Check the file").click()
                await expect(page.get_by_role("heading", level=1)).to_have_text(long_name)
            else:
                await page.goto(f"{url}{path}")
            if path == "/batches":
                hidden = page.locator(".portal-table-scroll .govuk-visually-hidden")
                assert await hidden.count() > 0  # the words that once stretched the page are there
            if re.fullmatch(r"/(ops/)?batches/[0-9a-f-]{36}", path):
                assert await page.locator("select#code option").count() > 1  # the filter that once was 570 px
            if path.endswith("/records/4"):
                await expect(page.locator(".govuk-caption-l")).to_contain_text(long_reference)
                await expect(page.locator(".portal-finding").first).to_contain_text(long_value[:38])  # then "…"
            await expect(page.locator("#maintenance-banner")).to_contain_text(link)
            scroll, client = await page.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            if scroll > client:
                wide.append(f"{path} at {width} px: {scroll} px wide")
    return wide


async def test_a_batch_and_a_learner_print_what_they_say_not_the_menus_and_forms(
    ao_page: Page, portal_system: PortalSystem, uploaded: Uploaded
) -> None:
    """On A4 (718 CSS px inside Chrome's margins) a batch's records table keeps its Codes column on the paper (it
    cannot scroll there), its Line links print no address, and the page says only one page of records is printed; the
    menus, account bar, forms and buttons are left off; a learner's every History prints (reflow walk, 1 and 4)."""
    url = portal_system.url
    await ao_page.set_viewport_size({"width": 718, "height": 1000})
    await ao_page.emulate_media(media="print")
    await ao_page.goto(f"{url}/batches/{uploaded.showcase.batch_id}")
    for left_off in (".govuk-service-navigation", ".portal-account-bar", ".govuk-footer", ".govuk-pagination"):
        await expect(ao_page.locator(left_off)).to_be_hidden()
    await expect(ao_page.locator("form[data-form=go-to-record]")).to_be_hidden()
    await expect(ao_page.get_by_role("button", name="Sign out")).to_be_hidden()
    await expect(ao_page.locator("[data-printed-page]")).to_have_text(re.compile(r"^Only page 1 of \d+ of the records"))
    codes_right, width, after = await ao_page.evaluate(
        """() => {
            const codes = [...document.querySelectorAll("table[data-table=records] th")].pop();
            const line = document.querySelector("table[data-table=records] td a");
            return [codes.getBoundingClientRect().right, document.documentElement.clientWidth,
                    getComputedStyle(line, "::after").content];
        }"""
    )
    assert codes_right <= width and after in ("none", "normal")

    await ao_page.emulate_media(media="screen")  # its look-up form is left off paper
    await find_learner(ao_page, url, LILY.uln, showing="[data-achievement]")
    await ao_page.wait_for_load_state("load")  # the page's script has run
    await ao_page.emulate_media(media="print")
    histories = ao_page.locator("details.portal-history")
    assert await histories.count() > 0
    await expect(ao_page.locator("button[data-action=Update]").first).to_be_hidden()
    await ao_page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
    await expect(ao_page.locator("details.portal-history:not([open])")).to_have_count(0)
    await expect(ao_page.locator("details.portal-history .govuk-table").first).to_be_visible()
    await ao_page.evaluate("() => window.dispatchEvent(new Event('afterprint'))")
    await expect(ao_page.locator("details.portal-history[open]")).to_have_count(0)


async def test_the_phone_menu_takes_its_closed_room_before_the_script_has_loaded(
    ao_page: Page, portal_system: PortalSystem
) -> None:
    """On a slow line the menu was drawn open (nine links) until govuk-frontend's script arrived, then closed to
    "Menu": the page jumped up 115 px under the reader (reflow walk, 9). Drawn before the script, it now takes the
    same room as after."""
    await ao_page.set_viewport_size({"width": 320, "height": 640})
    navigation = ao_page.locator(".govuk-service-navigation")
    await ao_page.goto(f"{portal_system.url}/batches")
    await expect(navigation).to_have_attribute("data-govuk-service-navigation-init", "")
    drawn = await navigation.bounding_box()
    assert drawn is not None
    after = drawn["height"]
    await ao_page.route("**/govuk-frontend.min.js", lambda route: route.abort())  # the script not arrived (yet)
    await ao_page.goto(f"{portal_system.url}/batches")
    await expect(ao_page.locator("body.govuk-frontend-supported")).to_have_count(1)
    assert await navigation.get_attribute("data-govuk-service-navigation-init") is None
    drawn = await navigation.bounding_box()
    assert drawn is not None and drawn["height"] == after and after < 120
    await ao_page.unroute("**/govuk-frontend.min.js")


async def test_the_charts_words_take_the_high_contrast_themes_text_colour(
    ao_page: Page, portal_system: PortalSystem
) -> None:
    """Windows High Contrast with a dark theme: the MI charts' words were black on the black page (reflow walk, 7),
    and their bars and the key's swatches keep their own colours, some too dark on it: edged in the text's colour
    (review 2 of session 61, finding 6)."""
    await ao_page.emulate_media(forced_colors="active", color_scheme="dark")
    await ao_page.goto(f"{portal_system.url}/mi")
    words = ao_page.locator(".portal-chart text")
    assert await words.count() > 0
    fills = await words.evaluate_all("(texts) => [...new Set(texts.map((text) => getComputedStyle(text).fill))]")
    background = await ao_page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(0, 0, 0)" and "rgb(11, 12, 12)" not in fills and background not in fills
    bars = ao_page.locator(".portal-chart rect")
    assert await bars.count() > 0
    edges = await bars.evaluate_all("(rects) => [...new Set(rects.map((rect) => getComputedStyle(rect).stroke))]")
    assert edges == fills  # the theme's text colour, as the words


async def _session_row(page: Page, system: PortalSystem, change: str | None = None) -> datetime:
    """The expiry of the page's session as the portal keeps it; `change` (SQL) first, to make it older, say."""
    (cookie,) = [cookie for cookie in await page.context.cookies() if cookie["name"] == "lrs-portal"]
    hashed = hashlib.sha256(cookie["value"].encode()).hexdigest()
    connection = await asyncpg.connect(system.database_url)
    try:
        if change:
            await connection.execute(f"UPDATE portal.sessions SET {change} WHERE token_hash = $1", hashed)
        expires_at: datetime = await connection.fetchval(
            "SELECT expires_at FROM portal.sessions WHERE token_hash = $1", hashed
        )
    finally:
        await connection.close()
    return expires_at


async def test_a_warning_before_the_session_ends_keeps_it_and_what_was_typed(
    browser: Browser, portal_system: PortalSystem
) -> None:
    """WCAG 2.2.1 (timing adjustable): five minutes before the idle sign-out a dialog takes focus and says when;
    "Stay signed in" (by keyboard) keeps the session without leaving the page; left alone, the page goes to sign in
    when the session ends; near the absolute limit the dialog says it cannot be put off. The page's clock is
    Playwright's, moved on: the portal's own 30 minutes are not waited for."""
    url = portal_system.url
    context = await browser.new_context()
    page = await context.new_page()
    await page.clock.install()
    await sign_in(page, portal_system, "ao.user")
    await page.goto(f"{url}/contact")
    await page.get_by_label("Telephone").fill("0113 496 0000")
    warning = page.get_by_role("dialog", name="You are about to be signed out")
    await expect(warning).to_be_hidden()
    kept_until = await _session_row(page, portal_system)

    await page.clock.fast_forward("24:50")
    await expect(warning).to_be_hidden()
    await page.clock.fast_forward("00:15")
    await expect(warning).to_be_visible()
    await expect(warning).to_be_focused()
    await expect(warning).to_contain_text("You will be signed out in 4 minutes")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Stay signed in")).to_be_focused()
    await expect(page.get_by_role("button", name="Continue")).to_be_hidden()
    await page.keyboard.press("Enter")
    await expect(warning).to_be_hidden()
    assert await _session_row(page, portal_system) > kept_until
    await expect(page.get_by_label("Telephone")).to_have_value("0113 496 0000")
    await expect(page).to_have_url(f"{url}/contact")

    # the portal's session ends as the page's moved clock says (its own clock is not moved): a sign-in page asked
    # while the session is live goes on to the page (decision 0040's later note)
    await _session_row(page, portal_system, "expires_at = now()")
    await page.clock.fast_forward("30:05")
    await expect(page).to_have_url(f"{url}/sign-in?ended=page&next=%2Fcontact")

    await sign_in(page, portal_system, "ao.user")
    await _session_row(page, portal_system, "created_at = now() - interval '11 hours 58 minutes'")
    await page.goto(f"{url}/contact")
    await expect(warning).to_be_visible()
    await expect(warning).to_contain_text("staying signed in longer is not possible")
    await expect(page.get_by_role("button", name="Stay signed in")).to_be_hidden()
    await page.keyboard.press("Escape")
    await expect(warning).to_be_hidden()
    await context.close()


async def test_an_operator_finds_an_aos_batch_by_its_id_and_reads_it_as_the_ao_does_then_the_aos_mi(
    ao_page: Page, operator_page: Page, portal_system: PortalSystem, uploaded: Uploaded
) -> None:
    url, batch_id = portal_system.url, uploaded.showcase.batch_id
    await ao_page.goto(f"{url}/batches/{batch_id}")
    ao_status = await wait_decided(ao_page)
    # who of the AO sent it, by their username (walk "leaver", finding 5); the desk's row is the operators' only
    await expect(ao_page.locator("[data-sent-by=ao] dd")).to_have_text("ao.user, in the portal")
    ao_counts = await counts(ao_page)
    ao_records = await ao_page.locator("table[data-table=records] caption").inner_text()

    await operator_page.goto(f"{url}/ops")
    await operator_page.get_by_role("link", name="AO batches", exact=True).click()
    await expect(operator_page.get_by_role("heading", level=1)).to_have_text("AO batches")
    await operator_page.get_by_label("Batch id").fill("not a batch id")
    await operator_page.get_by_role("button", name="Find the batch").click()
    await expect(operator_page.locator(".govuk-error-summary")).to_contain_text("Enter the batch's id as the AO")
    assert await serious_violations(operator_page) == []
    await operator_page.get_by_label("Batch id").fill(f" {batch_id} ")
    await operator_page.get_by_role("button", name="Find the batch").click()
    await expect(operator_page).to_have_url(f"{url}/ops/batches/{batch_id}")
    await expect(operator_page.locator(".govuk-caption-l")).to_have_text(f"Batch {batch_id} of {SAMPLE_AO}")
    assert await wait_decided(operator_page) == ao_status
    assert await counts(operator_page) == ao_counts
    await expect(operator_page.locator("table[data-table=records] caption")).to_have_text(ao_records)
    # the desk's questions: the key that sent it (the uploader's portal session key, by its label) and its email
    await expect(operator_page.locator("[data-sent-with]")).to_contain_text("The portal, signed in as ")
    await expect(operator_page.locator("[data-sent-with]")).to_contain_text("labelled “portal session: ")
    await expect(operator_page.locator("[data-batch-email]")).to_be_visible()
    assert await serious_violations(operator_page) == []
    first_record = operator_page.locator("table[data-table=records] tbody tr a").first
    first_line = (await first_record.get_attribute("href") or "").rsplit("/", 1)[-1]
    await operator_page.get_by_label("Go to a record").fill(first_line)
    await operator_page.get_by_role("button", name="Go to the record").click()
    await expect(operator_page).to_have_url(f"{url}/ops/batches/{batch_id}/records/{first_line}")
    await operator_page.go_back()
    await first_record.click()
    await expect(operator_page).to_have_url(re.compile(f"/ops/batches/{batch_id}/records/[0-9]+$"))
    await operator_page.get_by_role("link", name="Back to the batch").click()

    await operator_page.get_by_role("link", name=f"Batches of {SAMPLE_AO}").click()
    listing = operator_page.locator("table[data-table=batches]")
    await expect(listing.locator("caption")).to_have_text(f"Batches of {SAMPLE_AO}, newest first")
    await expect(listing.locator(f"a[href='/ops/batches/{batch_id}']")).to_have_count(1)
    assert await serious_violations(operator_page) == []
    await operator_page.get_by_label("Status").select_option(ao_status)
    await operator_page.get_by_role("button", name="Show batches").click()
    await expect(listing.locator("caption")).to_have_text(f"Batches of {SAMPLE_AO}, {ao_status}, newest first")
    await expect(listing.locator(f"a[href='/ops/batches/{batch_id}']")).to_have_count(1)
    await operator_page.get_by_label("Received from").fill("2000-13-01")
    await operator_page.get_by_role("button", name="Show batches").click()
    await expect(operator_page.locator(".govuk-error-summary")).to_contain_text("as year-month-day")
    assert await serious_violations(operator_page) == []
    await operator_page.get_by_label("Received from").fill("")
    await operator_page.get_by_role("button", name="Show batches").click()
    await expect(listing.locator(f"a[href='/ops/batches/{batch_id}']")).to_have_count(1)

    await operator_page.get_by_role("link", name=f"Management information for {SAMPLE_AO}").click()
    await expect(operator_page.get_by_role("heading", level=1)).to_have_text(f"Management information for {SAMPLE_AO}")
    await expect(operator_page.locator("[data-chart=batches]")).to_be_visible()
    assert await serious_violations(operator_page) == []
    await operator_page.get_by_label("AO recognition number").fill("")
    await operator_page.get_by_role("button", name="Show", exact=True).click()
    await expect(operator_page.get_by_role("heading", level=1)).to_have_text("Management information for every AO")
    await expect(operator_page.locator("[data-chart=challenge-days]")).to_have_count(0)
    await expect(ao_page.get_by_role("link", name="AO batches")).to_have_count(0)


async def test_an_operator_disables_an_account_after_confirming_and_is_told_it_was_done(
    operator_page: Page, portal_system: PortalSystem
) -> None:
    url = portal_system.url
    username = f"leaving.{uuid.uuid4().hex[:6]}"
    async with await portal_system.client("portal", "operator:tests") as accounts:
        made = await accounts.post(
            "/v1/admin/users",
            json={"username": username, "display_name": "Lee Leaving", "role": "ao", "ao_id": SAMPLE_AO},
        )
    assert made.status_code == 201, made.text

    await operator_page.goto(f"{url}/ops/accounts?starting=operator.user")
    own_row = operator_page.locator("table[data-table=accounts] tr", has_text="operator.user")
    await expect(own_row.get_by_role("button", name="Reset password of operator.user")).to_have_count(0)
    await operator_page.goto(f"{url}/ops/accounts?starting={username}")
    await operator_page.get_by_role("button", name=f"Disable {username}").click()
    await expect(operator_page.get_by_role("heading", level=1)).to_have_text(f"Disable the account of {username}?")
    await operator_page.get_by_role("button", name=f"Yes, disable {username}").click()
    await expect(operator_page.locator(".govuk-error-summary")).to_contain_text("Say why you are disabling the account")
    assert await serious_violations(operator_page) == []
    await operator_page.get_by_label("Why you are disabling the account").fill("Lee has left the AO")
    await operator_page.get_by_role("button", name=f"Yes, disable {username}").click()
    await expect(operator_page).to_have_url(f"{url}/ops/accounts")
    done = operator_page.locator("[data-account-done]")
    await expect(done).to_contain_text(f"Account {username} disabled")
    await expect(done).to_be_focused()
    await expect(operator_page.get_by_role("button", name=f"Enable again {username}")).to_be_visible()
    changes = operator_page.locator("table[data-table=account-changes]")
    await expect(changes.locator("tr", has_text=username).first).to_contain_text("disabled: Lee has left the AO")


async def test_disabling_an_operator_revokes_the_key_made_under_their_name_and_says_so(
    operator_page: Page, portal_system: PortalSystem
) -> None:
    url = portal_system.url
    username = f"ops.leaving.{uuid.uuid4().hex[:6]}"
    async with await portal_system.client("portal", "operator:tests") as accounts:
        made = await accounts.post(
            "/v1/admin/users",
            json={"username": username, "display_name": "Ops Leaving", "role": "operator", "scopes": ["support"]},
        )
    assert made.status_code == 201, made.text
    their_key = await portal_system.key_for(f"operator:{username}")  # as `lrs credentials create` makes one
    async with await portal_system.client("portal", f"operator:{username}") as theirs:
        assert (await theirs.get("/v1/admin/users", params={"starting": username})).status_code == 200

    await operator_page.goto(f"{url}/ops/accounts/{username}/disable")
    await expect(operator_page.locator("[data-own-keys]")).to_contain_text(
        f"1 API key of operator:{username} (tests (key {their_key.split('_')[1]})) will be revoked too"
    )
    await expect(operator_page.locator("#reason-hint")).to_contain_text("about the account, not the person")
    assert await serious_violations(operator_page) == []
    await operator_page.get_by_label("Why you are disabling the account").fill("has left the LRS")
    await operator_page.get_by_role("button", name=f"Yes, disable {username}").click()
    await expect(operator_page.locator("[data-account-done]")).to_contain_text(
        f"1 API key of operator:{username} was revoked with it"
    )
    async with await portal_system.client("portal", f"operator:{username}") as theirs:
        assert (await theirs.get("/v1/admin/users", params={"starting": username})).status_code == 401


async def _follow(link: Locator) -> None:
    """Clicks a link to the next page and waits for that page: rows read as it loads were the page before's, or
    none, and an "older" link not there yet ended a walk early (a page of resolved challenges went unread)."""
    async with link.page.expect_navigation():
        await link.click()


async def test_two_tabs_and_a_link_from_an_email_share_one_session_and_a_sign_out(
    browser: Browser, portal_system: PortalSystem
) -> None:
    """One person, several tabs (decision 0040's later note): every tab sent to sign in (their clock ended) signs in
    to one session, so the first tab's form still goes; a link from a results email in webmail (another site)
    arrives signed in; signing out in one tab takes the others' pages away at once, not when their clock ends."""
    url = portal_system.url
    context = await browser.new_context()
    first, second = await context.new_page(), await context.new_page()
    await first.goto(f"{url}/sign-in?ended=page&next=%2Fdirect-entry")
    await second.goto(f"{url}/sign-in?ended=page&next=%2Fbatches")
    for tab in (first, second):
        await tab.get_by_label("Username").fill("ao.user")
        await tab.get_by_label("Password", exact=True).fill(portal_system.passwords["ao.user"])
    await first.get_by_role("button", name="Sign in").click()
    await expect(first).to_have_url(f"{url}/direct-entry")
    session = next(c["value"] for c in await context.cookies() if c["name"] == "lrs-portal")
    await second.get_by_role("button", name="Sign in").click()  # its form drawn before the first tab signed in
    await expect(second).to_have_url(f"{url}/batches")
    assert next(c["value"] for c in await context.cookies() if c["name"] == "lrs-portal") == session  # kept
    await first.reload()
    await expect(first).to_have_url(f"{url}/direct-entry")  # the first tab's session goes on
    await second.goto(f"{url}/sign-in?next=%2Fbatches%2Fnew")
    await expect(second).to_have_url(f"{url}/batches/new")  # nothing to sign in to

    webmail = "http://webmail.example/inbox"
    link = f"{url}/batches"
    await second.route(
        webmail,
        lambda route: route.fulfill(content_type="text/html", body=f'<a href="{link}">Your batch</a>'),
    )
    await second.goto(webmail)
    await second.get_by_role("link", name="Your batch").click()
    await expect(second).to_have_url(link)  # signed in: the session cookie goes with a link from another site
    await expect(second.get_by_role("heading", level=1)).to_have_text("Batches")

    await second.get_by_role("button", name="Sign out").click()
    await expect(second.locator(".govuk-notification-banner")).to_contain_text("You have signed out")
    await expect(first).to_have_url(re.compile(r"/sign-in\?ended=page&next=%2Fdirect-entry$"))
    await context.close()
