"""A batch's page asks ingest for one page of its records, of the result and code chosen, and the batch's codes come
with it (ingest keeps them with its chunks of records, migration 0121): a 10,000-record batch with a warning took 11
records calls a view (every record, 1,000 at a time, for the codes and a code's records), ~2 MB of JSON. The page shows
what it showed when it read every record, which it still does from an ingest that says no codes (while an upgrade
rolls out)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal, undocumented
from services.portal.tests.unit.test_batch_pages import batch

from portal.accounts import Role

BATCH_ID = uuid.uuid4()
SUPPORT = frozenset({"support"})


def _record(line: int) -> dict[str, Any]:
    """Line `line` of a batch as the scale report's: 10,000 records, 1,000 rejected, 200 with a warning."""
    rejected = line % 10 == 0
    errors: list[dict[str, str | None]] = (
        [{"code": "RV004", "field": "grade", "message": "unknown grade"}] if rejected else []
    )
    if rejected and line % 30 == 0:
        errors.append({"code": "RV020", "field": None, "message": "Line 2 of this batch already addresses it"})
    warnings = [{"code": "WV001", "field": None, "message": "late"}] if line % 50 == 7 else []
    return {
        "line": line,
        "status": "rejected" if rejected else "no_op" if line % 97 == 0 else "accepted",
        "errors": errors,
        "warnings": warnings,
        "uln_masked": "******0043",
        "mis_identifier": f"MIS-{line}",
        "action": "Create",
        "achievement_id": None,
        "plr_changed": None,
    }


RECORDS = [_record(line) for line in range(4, 10_004)]
CODES = sorted({finding["code"] for record in RECORDS for finding in record["errors"] + record["warnings"]})


def _batch() -> dict[str, Any]:
    counts = {"total": 10_000, "accepted": 8_919, "rejected": 1_000, "no_ops": 81, "warnings": 200}
    return batch(batch_id=str(BATCH_ID), status="completed", failure_reason=None, counts=counts, ao_id="RN9093")


def _codes(record: dict[str, Any]) -> set[str]:
    return {finding["code"] for finding in record["errors"] + record["warnings"]}


def _records_now(request: httpx.Request) -> httpx.Response:
    """`GET /v1/batches/{id}/records` as ingest answers it: of the result and code asked, with the batch's codes."""
    params = request.url.params
    page, size, status, code = int(params["page"]), int(params["page_size"]), params.get("status"), params.get("code")
    assert code is None or re.fullmatch(r"(RV|WV)[0-9]{3}", code), code  # ingest refuses any other (422)
    chosen = [r for r in RECORDS if (status is None or r["status"] == status) and (code is None or code in _codes(r))]
    page_of = chosen[(page - 1) * size : page * size]
    return httpx.Response(
        200,
        json={
            "batch_id": str(BATCH_ID),
            "batch_status": "completed",
            "records": page_of,
            "total": len(chosen),
            "page": page,
            "page_size": size,
            "codes": CODES,
        },
    )


def _records_before(request: httpx.Request) -> httpx.Response:
    """As ingest answered it before it kept codes: no `codes`, and `code` not taken (not the document's any more)."""
    params = request.url.params
    page, size, status = int(params["page"]), int(params["page_size"]), params.get("status")
    chosen = [r for r in RECORDS if status is None or r["status"] == status]
    page_of = chosen[(page - 1) * size : page * size]
    return undocumented(
        httpx.Response(
            200,
            json={
                "batch_id": str(BATCH_ID),
                "batch_status": "completed",
                "records": page_of,
                "total": len(chosen),
                "page": page,
                "page_size": size,
            },
        )
    )


def _portal(records: Any) -> StubbedPortal:
    portal = stubbed_portal()
    portal.on("GET", f"ingest/v1/batches/{BATCH_ID}", lambda _: httpx.Response(200, json=_batch()))
    portal.on("GET", f"ingest/v1/batches/{BATCH_ID}/records", records)
    return portal


def _records_calls(portal: StubbedPortal) -> int:
    return len(portal.sent_to("GET", f"ingest/v1/batches/{BATCH_ID}/records"))


def _main(page: str) -> str:
    """The page's main content, without what changes from one response to the next (a form's token)."""
    main = page[page.index("<main") : page.index("</main>")]
    return re.sub(r'name="csrf_token" value="[^"]*"', "", main)


VIEWS = [
    "",
    "?page=5",
    "?page=10000",
    "?status=rejected",
    "?status=rejected&page=3",
    "?code=RV004",
    "?code=RV004&page=3",
    "?code=WV001",
    "?status=accepted&code=WV001&page=2",
    "?status=rejected&code=RV020",
    "?code=WV002",  # a code no record holds
    "?code=rv004",  # not a code: every record
]


@pytest.mark.parametrize(
    ("where", "view"),
    [("/batches", view) for view in VIEWS] + [("/ops/batches", ""), ("/ops/batches", "?status=rejected&code=RV004")],
)
def test_a_view_of_a_large_batch_asks_one_page_and_shows_what_every_record_showed(where: str, view: str) -> None:
    now, before = _portal(_records_now), _portal(_records_before)
    shown: dict[str, str] = {}
    for name, portal in (("now", now), ("before", before)):
        client, _ = portal.signed_in(Role.OPERATOR, SUPPORT) if where == "/ops/batches" else portal.signed_in(Role.AO)
        answer = client.get(f"{where}/{BATCH_ID}{view}")
        assert answer.status_code == 200, answer.text
        shown[name] = answer.text

    assert _records_calls(now) == 1  # was 11: every record, 1,000 at a time, and the page
    assert _records_calls(before) >= 10  # an ingest that says no codes: every record is read, as it was
    assert _main(shown["now"]) == _main(shown["before"])
    for code in CODES:
        assert f'<option value="{code}"' in shown["now"]


def test_a_page_of_a_code_is_the_page_of_the_records_holding_it() -> None:
    portal = _portal(_records_now)
    client, _ = portal.signed_in(Role.AO)
    page_size = portal.app.state.portal.settings.records_page_size
    holding = [record["line"] for record in RECORDS if "RV004" in _codes(record)]

    answer = client.get(f"/batches/{BATCH_ID}?code=RV004&page=2")

    assert answer.status_code == 200
    assert re.findall(r'data-line="([0-9]+)"', answer.text) == [
        str(line) for line in holding[page_size : 2 * page_size]
    ]
    assert f"{len(holding):,} records matching" in answer.text
    (sent,) = portal.sent_to("GET", f"ingest/v1/batches/{BATCH_ID}/records")
    assert dict(sent.url.params) == {"page": "2", "page_size": str(page_size), "code": "RV004"}
