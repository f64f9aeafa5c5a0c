"""The check of an upload names each field as the checked file does: a CSV heading or XML element
(`GivenName`), a JSON key (`givenName`) — never another format's spelling (lrs_domain.formats.FieldName)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import form, stubbed_portal

from lrs_contracts.batch import BatchFormat
from lrs_domain.formats import file_field_name

SAMPLES = Path(__file__).parents[4] / "samples"


def _checked(filename: str, content: bytes, content_type: str) -> str:
    portal = stubbed_portal()
    client, person = portal.signed_in()
    answer = client.post("/batches/check", data=form(person), files={"batch_file": (filename, content, content_type)})
    assert answer.status_code == 200, answer.text
    text: str = answer.text
    return text


def _csv(**changes: str) -> bytes:
    lines = (SAMPLES / "sample-100.csv").read_text().splitlines()
    headings, record = lines[2].split(","), lines[3].split(",")
    for heading, value in changes.items():
        record[headings.index(heading)] = value
    return ("\r\n".join([*lines[:3], ",".join(record)]) + "\r\n").encode()


def _json(header: dict[str, str] | None = None, **changes: str) -> bytes:
    batch = json.loads((SAMPLES / "sample-100.json").read_text())
    batch["header"] |= header or {}
    batch["records"] = [batch["records"][0] | changes]
    return json.dumps(batch).encode()


def _xml(**changes: str) -> bytes:
    text = (SAMPLES / "rules-showcase.xml").read_text()
    for element, value in changes.items():
        text = re.sub(rf"<{element}>[^<]*</{element}>", f"<{element}>{value}</{element}>", text, count=1)
    return text.encode()


def named_fields(page: str) -> set[str]:
    return set(re.findall(r'data-field-name="([^"]*)"', page))


def test_a_csv_files_problems_name_its_headings() -> None:
    page = _checked("batch.csv", _csv(GivenName="", Credits="abc"), "text/csv")

    assert {"GivenName", "Credits"} <= named_fields(page)
    assert "givenName" not in page and "given_name" not in page


def test_a_json_files_problems_name_its_keys() -> None:
    page = _checked("batch.json", _json(givenName="", credits="abc"), "application/json")

    assert {"givenName", "credits"} <= named_fields(page)
    assert "GivenName" not in page


def test_an_xml_files_problems_name_its_elements() -> None:
    page = _checked("batch.xml", _xml(GivenName=""), "application/xml")

    assert "GivenName" in named_fields(page)
    assert "givenName" not in page


def test_a_batch_for_another_ao_names_the_header_field_as_the_file_does() -> None:
    page = _checked("batch.json", _json({"awardingOrganisation": "RN5133"}), "application/json")

    assert "the awardingOrganisation in the file's header must be RN9093" in page
    assert "This batch is for another awarding organisation, RN5133</h2>" in page  # no internal code in words


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [(BatchFormat.CSV, "GivenName"), (BatchFormat.XML, "GivenName"), (BatchFormat.JSON, "givenName")],
)
def test_a_field_is_named_as_its_format_names_it(fmt: BatchFormat, expected: str) -> None:
    assert file_field_name(fmt, "given_name") == expected
    assert file_field_name(fmt, None) is None and file_field_name(fmt, "no_such_field") is None


def test_a_one_record_file_that_would_fail_counts_its_record_in_the_singular() -> None:
    page = _checked("batch.csv", _csv(GivenName=""), "text/csv")

    assert "1 of 1 record would be rejected" in page and "1 of 1 records" not in page


def _with_header(**changes: str) -> bytes:
    lines = (SAMPLES / "sample-100.csv").read_text().splitlines()
    headings, values = lines[0].split(","), lines[1].split(",")
    for heading, value in changes.items():
        values[headings.index(heading)] = value
    return ("\r\n".join([lines[0], ",".join(values), *lines[2:4]]) + "\r\n").encode()


def test_a_refused_csv_header_names_its_fields_as_the_file_does() -> None:
    email = _checked("batch.csv", _with_header(NotificationEmail="results at ao"), "text/csv")
    date = _checked("batch.csv", _with_header(ResultsIssuedDate="22/08/2024"), "text/csv")

    assert "NotificationEmail is not a plausible email address" in email and "notificationEmail" not in email
    assert "ResultsIssuedDate &#39;22/08/2024&#39; is not a date" in date and "resultsIssuedDate" not in date


def test_a_refused_json_header_names_its_keys() -> None:
    page = _checked("batch.json", _json({"notificationEmail": "results at ao"}), "application/json")

    assert "notificationEmail is not a plausible email address" in page and "NotificationEmail" not in page


def _answering(body: Mapping[str, object]) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _: httpx.Response(200, json=body)


def test_a_records_page_names_the_field_as_the_submitted_file_does() -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in()
    batch_id = "0b6f3c1e-8f4a-4d52-9a0e-2f9c6a1d7e35"
    finding = {"code": "RV021", "field": "given_name", "message": "GivenName is missing."}
    record = {"line": 4, "status": "rejected", "errors": [finding], "warnings": [], "uln_masked": "******0043"}
    record |= {"mis_identifier": "MIS-1", "action": "Create", "achievement_id": None}
    for fmt, expected in (("csv", "GivenName"), ("json", "givenName")):
        shown = {
            "batch_id": batch_id,
            "status": "completed",
            "format": fmt,
            "batch_reference": "REF",
            "failure_code": None,
        }
        portal.on("GET", f"ingest/v1/batches/{batch_id}", _answering(shown))
        portal.on(
            "GET",
            f"ingest/v1/batches/{batch_id}/records",
            lambda _: httpx.Response(200, json={"records": [record], "total": 1, "page": 1, "page_size": 1}),
        )

        page = client.get(f"/batches/{batch_id}/records/4").text

        assert f'<strong>Field:</strong> <code data-field-name="{expected}">' in page, fmt
        assert "given_name" not in page
