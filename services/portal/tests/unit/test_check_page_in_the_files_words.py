"""The check page, before an upload is sent, says a JSON file's findings in the file's own words, as the record page
does after it: a record that repeats an earlier one names it as `Record N of this batch`, not CSV's `Line N`."""

from __future__ import annotations

import html
import json
from pathlib import Path

from services.portal.tests.unit.stubbed_portal import form, stubbed_portal

SAMPLE = Path(__file__).resolve().parents[4] / "samples" / "sample-100.json"


def _repeating_its_first_record() -> bytes:
    document = json.loads(SAMPLE.read_text(encoding="utf-8"))
    document["records"] = [document["records"][0], document["records"][0]]
    return json.dumps(document).encode()


def test_a_json_files_finding_names_the_earlier_record_as_the_file_numbers_it() -> None:
    portal = stubbed_portal()
    client, person = portal.signed_in()

    answer = client.post(
        "/batches/check",
        data=form(person),
        files={"batch_file": ("batch.json", _repeating_its_first_record(), "application/json")},
    )

    shown = html.unescape(answer.text)
    assert "RV020" in shown
    assert "Record 1 of this batch" in shown
    assert "Line 1 of this batch" not in shown
