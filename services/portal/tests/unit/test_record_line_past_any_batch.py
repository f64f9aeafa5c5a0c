"""A record page for a line no batch can reach (a hand-edited address) says the batch has no record on that line, as
line 0 does: never ingest's words for the page it would have been asked for, nor a 409."""

from __future__ import annotations

import uuid

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, problem, stubbed_portal
from services.portal.tests.unit.test_batch_records_paged import BATCH_ID, _batch, _records

from lrs_contracts.codes import ProblemCode
from lrs_platform.identity import OperatorScope
from portal.accounts import Role
from portal.backend import LAST_RECORD_LINE

INGEST_LAST_PAGE = 100_000  # ingest's records of a batch are pages 1 to 100,000 (`list_records`)


def _records_as_ingest_bounds_them(request: httpx.Request) -> httpx.Response:
    page = int(request.url.params["page"])
    if not 1 <= page <= INGEST_LAST_PAGE:
        return problem(
            422,
            f"query.page: Input should be less than or equal to {INGEST_LAST_PAGE}",
            title="Invalid request",
            code=ProblemCode.INVALID_REQUEST,
        )
    return _records(request)


def _portal() -> StubbedPortal:
    portal = stubbed_portal()
    portal.on("GET", f"ingest/v1/batches/{BATCH_ID}", lambda _: httpx.Response(200, json=_batch()))
    portal.on("GET", f"ingest/v1/batches/{BATCH_ID}/records", _records_as_ingest_bounds_them)
    return portal


@pytest.mark.parametrize(("role", "pages"), [(Role.AO, "/batches"), (Role.OPERATOR, "/ops/batches")])
@pytest.mark.parametrize("line", [0, 99_999_999_999, 10**30, LAST_RECORD_LINE + 1])
def test_a_line_past_any_batch_has_no_record_as_line_0_has_none(role: Role, pages: str, line: int) -> None:
    portal = _portal()
    client, _ = portal.signed_in(
        role, frozenset({OperatorScope.SUPPORT.value}) if role is Role.OPERATOR else frozenset()
    )

    shown = client.get(f"{pages}/{BATCH_ID}/records/{line}")

    assert shown.status_code == 404
    assert f"Batch {BATCH_ID} has no record on line {line}." in shown.text
    assert "Input should be" not in shown.text


def test_the_last_line_a_batch_can_reach_is_still_looked_for() -> None:
    portal = _portal()
    client, _ = portal.signed_in()

    shown = client.get(f"/batches/{BATCH_ID}/records/{LAST_RECORD_LINE}")

    assert shown.status_code == 404
    assert f"has no record on line {LAST_RECORD_LINE}." in shown.text
    asked = [sent.url.params["page"] for sent in portal.sent_to("GET", f"ingest/v1/batches/{BATCH_ID}/records")]
    assert asked[0] == str((LAST_RECORD_LINE - 4) // 1_000 + 1)


def test_another_batch_is_not_found_whatever_the_line() -> None:
    portal = _portal()
    client, _ = portal.signed_in()

    shown = client.get(f"/batches/{uuid.uuid4()}/records/99999999999")

    assert shown.status_code == 404
    assert "has no record on line" not in shown.text
