"""A merged learner in the portal's learner look-up, in a real browser against the whole system (decision 0031).

Two ULNs of one person each got a Provisional before the registry merged them; a Final under the master then
superseded the master's. The stray Provisional stays under the merged ULN, shown beside the Final: the AO removes it
by naming its ULN. Withdraw on it must name that ULN, not the one typed in the search box, which withdrew the Final."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Page, expect
from tests.portal.conftest import SAMPLE_AO, PortalSystem
from tests.portal.flows import find_learner, wait_decided
from tests.portal.test_portal_in_a_browser import serious_violations
from tests.support.learners import json_batch, json_record, learners_csv, new_learner
from tests.support.waiting import eventually

from lrs_domain.identifiers import mask_uln

pytestmark = pytest.mark.integration

QAN = "100/5005/X"  # Pearson BTEC Level 3 National Diploma in Business: NQF, so it may be Provisional


async def _decided(system: PortalSystem, batch: dict[str, Any]) -> dict[str, Any]:
    async with await system.client("ingest", f"ao:{SAMPLE_AO}") as ingest:
        response = await ingest.post("/v1/batches", json=batch)
        assert response.status_code == 202, response.text
        batch_id = response.json()["batch_id"]

        async def view() -> dict[str, Any] | None:
            shown: dict[str, Any] = (await ingest.get(f"/v1/batches/{batch_id}")).json()
            return shown if shown["status"] in ("completed", "failed", "abandoned") else None

        decided = await eventually(view, within=120, what=f"batch {batch_id} decided")
    assert (decided["status"], decided["counts"]["accepted"]) == ("completed", len(batch["records"])), decided
    return decided


async def _merged_learner_with_a_stray_provisional(system: PortalSystem) -> tuple[dict[str, str], dict[str, str]]:
    """The walk-through's learner: a Final under the master, and a stray Provisional under the merged ULN."""
    details = {"given_name": "Dupe", "family_name": "Two", "date_of_birth": "2008-03-14"}
    master, merged = new_learner(**details), new_learner(**details)
    async with await system.client("validation", "operator:tests") as validation:
        imported = await validation.post(
            "/v1/learners/import", content=learners_csv([master, merged]), headers={"Content-Type": "text/csv"}
        )
        assert imported.status_code == 201, imported.text
        provisional = [json_record(master, QAN, "Distinction"), json_record(merged, QAN, "Merit")]
        await _decided(system, json_batch(SAMPLE_AO, provisional, job_type="Provisional"))
        response = await validation.post(f"/v1/learners/{master['uln']}/merge", json={"merged_uln": merged["uln"]})
        assert response.status_code == 204, response.text
    await _decided(system, json_batch(SAMPLE_AO, [json_record(master, QAN, "Distinction")]))
    return master, merged


async def test_withdraw_on_a_merged_learners_stray_provisional_withdraws_it_and_not_their_final(
    ao_page: Page, portal_system: PortalSystem
) -> None:
    url = portal_system.url
    master, merged = await _merged_learner_with_a_stray_provisional(portal_system)
    stray = f'[data-qan="{QAN}"]:has-text("Provisional")'
    final = f'[data-qan="{QAN}"]:has-text("Final")'
    await find_learner(ao_page, url, master["uln"], showing=f"{stray}[data-withdrawn=false]")

    # which ULN each achievement is under, said in words beside its other details
    await expect(ao_page.locator(stray).locator("[data-recorded-under]")).to_have_text(
        re.compile(rf"Recorded under ULN\s*{merged['uln']}")
    )
    await expect(ao_page.locator(final).locator("[data-recorded-under]")).to_have_text(
        re.compile(rf"Recorded under ULN\s*{master['uln']}")
    )
    await expect(ao_page.locator("[data-several-ulns]")).to_contain_text(f"also {merged['uln']}")
    assert await serious_violations(ao_page) == []

    await ao_page.locator(stray).get_by_role("button", name=re.compile("^Withdraw")).click()
    await expect(ao_page.get_by_label("Action", exact=True)).to_have_value("Withdraw")
    await expect(ao_page.get_by_label("Unique Learner Number (ULN)")).to_have_value(merged["uln"])
    await ao_page.get_by_label("Given name", exact=True).fill(master["given_name"])
    await ao_page.get_by_label("Family name", exact=True).fill(master["family_name"])
    async with ao_page.expect_response(
        lambda response: (
            re.search(r"/batches/[0-9a-f-]{36}", response.url) is not None and response.request.is_navigation_request()
        )
    ) as batch_page:
        await ao_page.get_by_role("button", name="Send this achievement").click()
    said = " ".join((await (await batch_page.value).text()).split())
    assert f"Your withdrawal of the achievement for ULN {mask_uln(merged['uln'])}, qualification {QAN}" in said
    assert await wait_decided(ao_page) == "completed"

    await find_learner(ao_page, url, master["uln"], showing=f"{stray}[data-withdrawn=true]")
    await expect(ao_page.locator(final)).to_have_attribute("data-withdrawn", "false")  # the learner's Final stays
    async with await portal_system.client("plr-projector", f"learner:{master['uln']}") as projector:
        plr = (await projector.get(f"/v1/learners/{master['uln']}/plr")).json()
    shown = [(event["uln"], event["status"], event["grade"]) for event in plr["learning_events"]]
    assert shown == [(master["uln"], "F", "Distinction")], shown


async def test_from_the_merged_uln_the_final_under_the_master_is_offered_under_the_master(
    ao_page: Page, portal_system: PortalSystem
) -> None:
    """Looked up under the old ULN, the Final's Withdraw named the old ULN: refused RV015 ("already withdrawn") once
    the stray was withdrawn, or withdrawing the stray instead while it was not."""
    url = portal_system.url
    master, merged = await _merged_learner_with_a_stray_provisional(portal_system)
    final = f'[data-qan="{QAN}"]:has-text("Final")'
    await find_learner(ao_page, url, merged["uln"], showing=final)
    learner = f"ULN {merged['uln']} (merged into {master['uln']})"
    await expect(ao_page.get_by_role("heading", level=2, name=learner, exact=True)).to_be_visible()

    await ao_page.locator(final).get_by_role("button", name=re.compile("^Withdraw")).click()
    await expect(ao_page.get_by_label("Action", exact=True)).to_have_value("Withdraw")
    await expect(ao_page.get_by_label("Unique Learner Number (ULN)")).to_have_value(master["uln"])
