"""Words a person reads as they are: no internal code in a heading, a check's tags saying what each line would come
to (nothing is sent yet), a decided batch's banner true of a batch with rejected records, and each page's title
saying what its heading says."""

from __future__ import annotations

import re

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import form, stubbed_portal
from services.portal.tests.unit.test_batch_decided_said import BATCH_ID, banner
from services.portal.tests.unit.test_batch_pages import batch
from services.portal.tests.unit.test_file_check_field_names import SAMPLES, _checked, _json
from services.portal.tests.unit.test_projector_dashboard import PROJECTOR_STATUS
from services.portal.tests.unit.test_titles_follow_headings import SUFFIX, heading, title

from portal.accounts import Role

REPORTS = ("submissions", "timeliness", "plr-timeliness", "rejections", "challenges")


def test_a_batch_for_another_ao_is_said_without_ingests_code() -> None:
    page = _checked("batch.json", _json({"awardingOrganisation": "RN5133"}), "application/json")

    summary = page.split('class="govuk-error-summary__title">', 1)[1].split("</h2>", 1)[0]
    assert summary == "This batch is for another awarding organisation, RN5133"
    assert "BATCH_OF_ANOTHER_AO" not in page


def test_a_checks_lines_are_tagged_with_what_they_would_come_to() -> None:
    page = _checked("rules-showcase.csv", (SAMPLES / "rules-showcase.csv").read_bytes(), "text/csv")

    table = page.split('data-table="problems"', 1)[1].split("</table>", 1)[0]
    tags = set(re.findall(r'<strong class="govuk-tag[^"]*">([^<]*)</strong>', table))
    assert tags == {"would be rejected", "would be accepted"}  # warnings only: accepted, if it were sent


@pytest.mark.parametrize(
    ("rejected", "said"),
    [
        (0, "The batch was checked: completed. What it means is below."),
        (1, "The batch was checked: completed, with 1 record rejected. What it means is below."),
        (19, "The batch was checked: completed, with 19 records rejected. What it means is below."),
    ],
)
def test_a_completed_batchs_banner_is_headed_as_checked_and_counts_what_was_rejected(rejected: int, said: str) -> None:
    stub = stubbed_portal()
    counts = {"total": 100, "accepted": 100 - rejected, "rejected": rejected, "no_ops": 0}
    shown = {**batch(status="completed", failure_reason=None, counts=counts), "batch_id": str(BATCH_ID)}
    stub.on("GET", f"ingest/v1/batches/{BATCH_ID}", lambda _: httpx.Response(200, json=shown))
    stub.on(
        "GET",
        f"ingest/v1/batches/{BATCH_ID}/records",
        lambda _: httpx.Response(200, json={"records": [], "total": 0, "page": 1, "page_size": 100}),
    )
    client, _ = stub.signed_in(Role.AO)

    decided = banner(client.get(f"/batches/{BATCH_ID}", params={"decided": "1"}).text)

    assert decided is not None
    assert 'id="decided-title">Batch checked</h2>' in decided and "Success" not in decided
    assert said in decided


def _titled_as_headed(html: str) -> str:
    said = title(html)
    assert said == f"{heading(html)}{SUFFIX}", said
    return said


def test_the_ao_users_pages_are_titled_as_their_headings() -> None:
    stub = stubbed_portal()
    client, person = stub.signed_in(Role.AO)
    stub.on("GET", "challenges/v1/challenges", lambda _: httpx.Response(200, json={"items": [], "next": None}))
    for report in REPORTS:
        stub.on("GET", f"reporting/v1/reports/{report}", lambda _: httpx.Response(200, json={"items": []}))

    entry = client.get("/direct-entry").text
    challenges = client.get("/challenges").text
    mi = client.get("/mi", params={"months": "3"}).text
    refused_entry = client.post("/direct-entry", data=form(person)).text

    assert _titled_as_headed(entry) == f"Enter one achievement{SUFFIX}"
    assert _titled_as_headed(challenges) == f"Event Data Challenges{SUFFIX}"
    assert _titled_as_headed(mi) == f"Management information for RN9093{SUFFIX}"
    assert title(refused_entry) == f"Error: Enter one achievement{SUFFIX}"


def test_the_operators_pages_are_titled_as_their_headings() -> None:
    stub = stubbed_portal()
    client, _ = stub.signed_in(Role.OPERATOR)
    stub.on("GET", "plr-projector/v1/admin/projector", lambda _: httpx.Response(200, json=PROJECTOR_STATUS))
    stub.on("GET", "plr-projector/v1/admin/rebuild", lambda _: httpx.Response(200, json={"state": "idle"}))
    for report in REPORTS:
        stub.on("GET", f"reporting/v1/reports/{report}", lambda _: httpx.Response(200, json={"items": []}))

    projector = client.get("/ops")
    rebuild = client.get("/ops/rebuild")
    one_ao = client.get("/ops/mi", params={"ao": "RN5133", "months": "3"})
    every_ao = client.get("/ops/mi", params={"months": "3"})

    assert projector.status_code == 200, projector.text
    assert _titled_as_headed(projector.text) == f"PLR projector{SUFFIX}"
    assert _titled_as_headed(rebuild.text) == f"Rebuild the PLR read model{SUFFIX}"
    assert _titled_as_headed(one_ao.text) == f"Management information for RN5133{SUFFIX}"
    assert _titled_as_headed(every_ao.text) == f"Management information for every AO{SUFFIX}"
