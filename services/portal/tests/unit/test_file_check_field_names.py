"""The check of an upload names each field as the checked file does: a CSV heading or XML element
(`GivenName`), a JSON key (`givenName`) — never another format's spelling (lrs_domain.formats.FieldName)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from services.portal.tests.unit.stubbed_portal import form, stubbed_portal

from lrs_contracts.batch import BatchFormat
from portal.checking import field_name

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


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [(BatchFormat.CSV, "GivenName"), (BatchFormat.XML, "GivenName"), (BatchFormat.JSON, "givenName")],
)
def test_a_field_is_named_as_its_format_names_it(fmt: BatchFormat, expected: str) -> None:
    assert field_name(fmt, "given_name") == expected
    assert field_name(fmt, None) is None and field_name(fmt, "no_such_field") is None
