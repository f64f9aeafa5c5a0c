"""The check page's table of problems is "Problems by record" for an XML or JSON file, whose rows are its records
(numbered by position), and "Problems by line" for a CSV file, whose rows are its lines."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from services.portal.tests.unit.stubbed_portal import form, stubbed_portal

SAMPLES = Path(__file__).resolve().parents[4] / "samples"


def _repeating_its_first_record() -> bytes:
    document = json.loads((SAMPLES / "sample-100.json").read_text(encoding="utf-8"))
    document["records"] = [document["records"][0], document["records"][0]]
    return json.dumps(document).encode()


def _repeating_its_first_line() -> bytes:
    lines = (SAMPLES / "sample-100.csv").read_bytes().splitlines(keepends=True)
    return b"".join([*lines[:4], lines[3]])


@pytest.mark.parametrize(
    ("name", "content", "by", "not_by"),
    [
        ("batch.json", _repeating_its_first_record(), "record", "line"),
        ("batch.csv", _repeating_its_first_line(), "line", "record"),
    ],
    ids=["json", "csv"],
)
def test_the_problems_are_headed_as_the_file_numbers_its_rows(name: str, content: bytes, by: str, not_by: str) -> None:
    portal = stubbed_portal()
    client, person = portal.signed_in()

    answer = client.post("/batches/check", data=form(person), files={"batch_file": (name, content, "text/plain")})

    shown = html.unescape(answer.text)
    assert "RV020" in shown
    assert f"Problems by {by}: what would be rejected, then warnings" in shown
    assert f'aria-label="Problems by {by}"' in shown
    assert f"Problems by {not_by}" not in shown
