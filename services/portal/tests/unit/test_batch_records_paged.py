"""A large batch's pages ask ingest for the page shown, the batch's codes coming with it (and, from an ingest that
says no codes, only the records that hold them), not for all 10,000 records on every view."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal, undocumented
from services.portal.tests.unit.test_batch_pages import batch

from portal.accounts import Role

BATCH_ID = uuid.uuid4()
RECORDS = [
    {
        "line": line,
        "status": "rejected" if line % 50 == 0 else "accepted",
        "errors": [{"code": "RV004", "message": "name"}] if line % 50 == 0 else [],
        "warnings": [],
        "uln_masked": "******0043",
        "mis_identifier": f"MIS-{line}",
        "action": "create",
        "achievement_id": None,
    }
    for line in range(4, 10_004)
]


def _batch() -> dict[str, Any]:
    counts = {"total": 10_000, "accepted": 9_800, "rejected": 200, "no_ops": 0, "warnings": 0}
    return batch(batch_id=str(BATCH_ID), status="completed", failure_reason=None, counts=counts)


def _records(request: httpx.Request, *, with_codes: bool = True) -> httpx.Response:
    page, size = int(request.url.params["page"]), int(request.url.params["page_size"])
    status = request.url.params.get("status")
    chosen = [record for record in RECORDS if status is None or record["status"] == status]
    body = {"records": chosen[(page - 1) * size : page * size], "total": len(chosen), "page": page, "page_size": size}
    if not with_codes:  # an ingest from before the codes (migration 0121)
        return undocumented(httpx.Response(200, json=body))
    return httpx.Response(200, json={**body, "codes": ["RV004"]})


def _portal(*, with_codes: bool = True) -> StubbedPortal:
    portal = stubbed_portal()
    portal.on("GET", f"ingest/v1/batches/{BATCH_ID}", lambda _: httpx.Response(200, json=_batch()))
    portal.on("GET", f"ingest/v1/batches/{BATCH_ID}/records", lambda sent: _records(sent, with_codes=with_codes))
    return portal


def _asked(portal: StubbedPortal) -> list[tuple[str | None, str, str]]:
    return [
        (sent.url.params.get("status"), sent.url.params["page"], sent.url.params["page_size"])
        for sent in portal.sent_to("GET", f"ingest/v1/batches/{BATCH_ID}/records")
    ]


@pytest.mark.parametrize("with_codes", [True, False], ids=["ingest says the codes", "ingest from before them"])
def test_a_page_of_a_large_batch_asks_for_that_page_and_the_rejected_records_only(with_codes: bool) -> None:
    portal = _portal(with_codes=with_codes)
    client, _ = portal.signed_in(Role.AO)

    shown = client.get(f"/batches/{BATCH_ID}?page=3")

    assert shown.status_code == 200
    page_size = portal.app.state.portal.settings.records_page_size
    rejected = [("rejected", "1", "1000")] if not with_codes else []  # the codes read from the rejected records
    assert _asked(portal) == [(None, "3", str(page_size)), *rejected]
    first_on_page = 4 + 2 * page_size
    assert f'data-line="{first_on_page}"' in shown.text
    assert '<option value="RV004"' in shown.text


def test_one_record_is_found_on_its_own_page() -> None:
    portal = _portal()
    client, _ = portal.signed_in(Role.AO)

    shown = client.get(f"/batches/{BATCH_ID}/records/5004")

    assert shown.status_code == 200 and "MIS-5004" in shown.text
    assert _asked(portal) == [(None, "6", "1000")]
