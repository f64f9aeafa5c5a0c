"""A JSON file written with a CSV heading as a key (`GivenName`) is refused naming the key it has, not the one it
is told to write: the portal once said "has the field 'givenName' ... so write 'givenName'", a fault the person
could not find. The batch page names the record once, not again after the detail that names it."""

from __future__ import annotations

import html
import json
from datetime import date
from pathlib import Path

from services.portal.tests.unit.stubbed_portal import form, stubbed_portal
from services.portal.tests.unit.test_batch_pages import batch, batch_page

from lrs_domain.reference_files import load_catalogue
from portal.checking import check_upload

SAMPLE = Path(__file__).resolve().parents[4] / "samples" / "sample-100.json"
SAID = "record 1 has the field 'GivenName': field names are case-sensitive, so write 'givenName'"


def _with_the_heading_as_a_key() -> bytes:
    document = json.loads(SAMPLE.read_text(encoding="utf-8"))
    first = document["records"][0]
    first["GivenName"] = first.pop("givenName")
    return json.dumps(document).encode()


def test_the_check_says_the_key_the_file_has() -> None:
    checked = check_upload(
        "batch.json", _with_the_heading_as_a_key(), "application/json", load_catalogue(), date.today()
    )

    assert checked.refusal is not None
    assert checked.refusal.detail == SAID


def test_the_batch_page_says_the_key_the_file_has_and_the_record_once() -> None:
    nothing = {"total": None, "accepted": None, "rejected": None, "warnings": None, "no_ops": None}
    refusal = {"code": "RS001", "title": "The file is malformed", "detail": SAID, "line": 1, "column": None}

    shown = html.unescape(
        batch_page(batch(status="refused", format="json", refusal=refusal, failure_reason=None, counts=nothing))
    )

    assert f"The file is malformed: {SAID}." in shown
    assert "has the field 'givenName'" not in shown and "(record 1)" not in shown


def test_a_batch_held_by_maintenance_can_be_checked_again_without_script() -> None:
    held = batch(
        status="queued",
        decided_at=None,
        maintenance={"reason": "Checking the database", "until": None, "paused": True, "message": "will wait"},
    )

    shown = batch_page(held)

    assert "It waits in the queue until the maintenance ends" in shown
    assert f'<a class="govuk-link" href="/batches/{held["batch_id"]}?wait=20">Check again</a>' in shown


def test_the_check_page_names_the_record_once() -> None:
    portal = stubbed_portal()
    client, person = portal.signed_in()

    answer = client.post(
        "/batches/check",
        data=form(person),
        files={"batch_file": ("batch.json", _with_the_heading_as_a_key(), "application/json")},
    )

    shown = html.unescape(answer.text)
    assert SAID in shown
    assert "(record 1)" not in shown
