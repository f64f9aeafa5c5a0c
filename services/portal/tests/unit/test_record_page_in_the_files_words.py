"""A record's page says what was found in the words of the batch's file: the page of an XML or JSON batch's
"Record 4" says RV020's "Record 2 of this batch", as it numbers that batch's records (by their position), never
"Line 2"; a JSON batch's message names its keys (`givenName`). A CSV batch's page says "Line 2", its line."""

from __future__ import annotations

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import stubbed_portal

BATCH_ID = "0b6f3c1e-8f4a-4d52-9a0e-2f9c6a1d7e35"
DUPLICATE = (
    "Line 2 of this batch already addresses this achievement (qualification 500/0002/0, award date 2021-06-30):"
    " send each achievement once per batch."
)


@pytest.mark.parametrize(
    ("fmt", "heading", "duplicate", "missing"),
    [
        ("json", "Record 4", "Record 2 of this batch already addresses", "givenName is missing."),
        ("xml", "Record 4", "Record 2 of this batch already addresses", "GivenName is missing."),
        ("csv", "Line 4", "Line 2 of this batch already addresses", "GivenName is missing."),
    ],
)
def test_a_records_findings_are_said_as_its_file_numbers_and_names_them(
    fmt: str, heading: str, duplicate: str, missing: str
) -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in()
    errors = [
        {"code": "RV020", "field": None, "message": DUPLICATE},
        {"code": "RV021", "field": "given_name", "message": "GivenName is missing."},
    ]
    record = {"line": 4, "status": "rejected", "errors": errors, "warnings": [], "uln_masked": "******0043"}
    record |= {"mis_identifier": "MIS-4", "action": "Create", "achievement_id": None}
    batch = {"batch_id": BATCH_ID, "status": "completed", "format": fmt, "batch_reference": "REF", "failure_code": None}
    portal.on("GET", f"ingest/v1/batches/{BATCH_ID}", lambda _: httpx.Response(200, json=batch))
    portal.on(
        "GET",
        f"ingest/v1/batches/{BATCH_ID}/records",
        lambda _: httpx.Response(200, json={"records": [record], "total": 1, "page": 1, "page_size": 1}),
    )

    page = client.get(f"/batches/{BATCH_ID}/records/4").text

    assert f'<h1 class="govuk-heading-l">{heading}</h1>' in page
    assert f"<strong>What we found:</strong> {duplicate}" in page
    assert f"<strong>What we found:</strong> {missing}" in page
