"""A record of an erased learner is RV004 for good: its page's "What to do" says there is nothing to correct, rather
than only to check the details or have the service desk import the learner (which refuses an erased ULN, 410)."""

from __future__ import annotations

import html
import re
import uuid
from typing import Any

import httpx
from services.portal.tests.unit.stubbed_portal import stubbed_portal
from services.portal.tests.unit.test_batch_pages import batch

from portal.accounts import Role

BATCH_ID = uuid.uuid4()
ERASED = "the learner's record was erased: no achievement can be recorded, changed or withdrawn for this ULN any more"
RECORD: dict[str, Any] = {
    "line": 54,
    "status": "rejected",
    "errors": [{"code": "RV004", "field": "uln", "message": ERASED}],
    "warnings": [],
    "uln_masked": "******5753",
    "mis_identifier": "PE-2024-0051",
    "action": "create",
    "achievement_id": None,
}


def _records(request: httpx.Request) -> httpx.Response:
    size = int(request.url.params["page_size"])
    return httpx.Response(200, json={"records": [RECORD], "total": 1, "page": 1, "page_size": size})


def test_an_erased_learners_record_is_told_there_is_nothing_to_correct() -> None:
    counts = {"total": 100, "accepted": 0, "rejected": 1, "no_ops": 99, "warnings": 0}
    shown = batch(batch_id=str(BATCH_ID), status="completed", failure_reason=None, counts=counts)
    portal = stubbed_portal()
    portal.on("GET", f"ingest/v1/batches/{BATCH_ID}", lambda _: httpx.Response(200, json=shown))
    portal.on("GET", f"ingest/v1/batches/{BATCH_ID}/records", _records)
    client, _ = portal.signed_in(Role.AO)

    page = client.get(f"/batches/{BATCH_ID}/records/54")

    assert page.status_code == 200
    [advice] = re.findall(r"<p class=\"govuk-body\" data-advice>(.*?)</p>", page.text, re.S)
    said = " ".join(html.unescape(re.sub(r"<[^>]+>", "", advice)).split())
    assert (
        "If the finding says the learner's record was erased, there is nothing to correct: the LRS records nothing"
        " more for that ULN, so leave the record out of your next batches." in said
    )
