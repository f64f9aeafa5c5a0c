"""A batch that failed RS005 never reads as 30.0% rejected (or less) on its page, and one that passed never reads
as more: 601 of 2,003 rejected (30.005%) failed and was shown as "(30.0%)" next to "When more than 30% ..."."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import stubbed_portal
from services.portal.tests.unit.test_batch_pages import batch

from portal.accounts import Role

BATCH_ID = uuid.uuid4()
RECORDS = {"records": [], "total": 0, "page": 1, "page_size": 100}


def page_of(total: int, rejected: int) -> str:
    counts = {"total": total, "accepted": total - rejected, "rejected": rejected, "warnings": 0, "no_ops": 0}
    shown = batch(batch_id=str(BATCH_ID), status="failed", failure_code="RS005", failure_reason=None, counts=counts)
    stub = stubbed_portal()
    stub.on("GET", f"ingest/v1/batches/{BATCH_ID}", lambda _: httpx.Response(200, json=shown))
    stub.on("GET", f"ingest/v1/batches/{BATCH_ID}/records", lambda _: httpx.Response(200, json=RECORDS))
    client, _ = stub.signed_in(Role.AO)
    answer = client.get(f"/batches/{BATCH_ID}")
    assert answer.status_code == 200
    text: str = answer.text
    return text


@pytest.mark.parametrize(
    ("total", "rejected", "said"),
    [
        (2003, 601, "601 of the batch's 2,003 records were rejected (30.1%)."),  # 30.005%
        (10_000, 3001, "3,001 of the batch's 10,000 records were rejected (30.1%)."),
        (250, 81, "81 of the batch's 250 records were rejected (32.4%)."),
        (3, 2, "2 of the batch's 3 records were rejected (66.7%)."),
    ],
)
def test_a_failed_batchs_rejected_share_reads_as_more_than_30_percent(total: int, rejected: int, said: str) -> None:
    html = " ".join(page_of(total, rejected).split())

    assert said in html
    [share] = re.findall(r"rejected \((\d+\.\d)%\)\. When more than 30% of a batch is", html)
    assert float(share) > 30
