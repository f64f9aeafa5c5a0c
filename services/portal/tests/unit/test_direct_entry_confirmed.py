"""A direct entry sent goes to its batch's page, which says once, in the person's terms, what was sent and as which
batch (the learner's ULN masked, the qualification): the batch's reference alone was all it said before. Its Details
name its format "Direct entry", not the JSON the portal made of the form."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form
from services.portal.tests.unit.test_direct_entry_sent_again import ENTRY, Ingest, with_ingest


def decided(portal: StubbedPortal, made: dict[str, Any]) -> None:
    """Ingest's answers for the batch the entry made, decided: its one record accepted."""
    counts = {"total": 1, "accepted": 1, "rejected": 0, "warnings": 0, "no_ops": 0}
    shown = {
        **made,
        "status": "completed",
        "job_type": "Final",
        "counts": counts,
        "refusal": None,
        "failure_code": None,
        "failure_reason": None,
        "decided_at": "2026-12-05T10:00:05Z",
    }
    record = {"line": 1, "status": "accepted", "errors": [], "warnings": [], "uln_masked": "******0043"}
    record |= {"mis_identifier": None, "action": "Create", "achievement_id": str(uuid.uuid4())}
    records = {"records": [record], "total": 1, "page": 1, "page_size": 1000}
    portal.on("GET", f"ingest/v1/batches/{made['batch_id']}", lambda _: httpx.Response(200, json=shown))
    portal.on("GET", f"ingest/v1/batches/{made['batch_id']}/records", lambda _: httpx.Response(200, json=records))


FORMAT = '<dt class="govuk-summary-list__key">Format</dt><dd class="govuk-summary-list__value">'


def details_format(page: str) -> str:
    return page.split(FORMAT, 1)[1].split("</dd>", 1)[0]


@pytest.mark.parametrize(
    ("action", "words"),
    [("Create", "Your achievement"), ("Update", "Your update to the achievement")],
)
def test_a_sent_entry_is_said_on_its_batch_page_once_in_the_persons_terms(action: str, words: str) -> None:
    ingest = Ingest()
    portal = with_ingest(ingest)
    client, person = portal.signed_in()

    sent = client.post("/direct-entry", data=form(person, **{**ENTRY, "action": action}, entry_id=str(uuid.uuid4())))
    (made,) = ingest.batches
    decided(portal, made)
    first = client.get(sent.headers["location"])
    reloaded = client.get(sent.headers["location"])

    assert sent.status_code == 303 and sent.headers["location"] == f"/batches/{made['batch_id']}?wait=10"
    said = f"{words} for ULN ******0043, qualification 500/0002/0, was sent as batch {made['batch_reference']}."
    assert "data-entry-sent" in first.text and said in first.text
    assert "1000000043" not in first.text  # no more of the ULN than the batch's own pages show
    assert "data-entry-sent" not in reloaded.text  # said once: a reload sends nothing again
    assert details_format(first.text) == "Direct entry"


def test_an_uploaded_batch_says_nothing_of_an_entry_and_keeps_its_format() -> None:
    portal = with_ingest(Ingest())
    client, _ = portal.signed_in()
    made = {"batch_id": str(uuid.uuid4()), "format": "json", "batch_reference": "SUMMER-2026"}
    decided(portal, {**made, "received_at": "2026-12-05T10:00:00Z"})

    page = client.get(f"/batches/{made['batch_id']}")

    assert "data-entry-sent" not in page.text
    assert details_format(page.text) == "JSON"
