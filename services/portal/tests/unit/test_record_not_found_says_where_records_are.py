"""A record page for a line that holds no record says where the batch's records are, and only that: it said "Batch
… has no record on line 3." and then "There is nothing here, or it is not yours to see.", which contradicts the batch
it had just named as the reader's. A CSV's records start on line 4; an XML or JSON file's are numbered from 1."""

from __future__ import annotations

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal
from services.portal.tests.unit.test_batch_records_paged import BATCH_ID, _batch, _records


def _portal(fmt: str) -> StubbedPortal:
    portal = stubbed_portal()
    portal.on("GET", f"ingest/v1/batches/{BATCH_ID}", lambda _: httpx.Response(200, json={**_batch(), "format": fmt}))
    portal.on("GET", f"ingest/v1/batches/{BATCH_ID}/records", _records)
    return portal


@pytest.mark.parametrize("line", [1, 3])
def test_a_csv_line_before_the_records_says_they_start_on_line_4(line: int) -> None:
    client, _ = _portal("csv").signed_in()

    shown = client.get(f"/batches/{BATCH_ID}/records/{line}")

    assert shown.status_code == 404
    assert f"Batch {BATCH_ID} has no record on line {line}. Its records start on line 4." in shown.text
    assert "There is nothing here, or it is not yours to see." not in shown.text
    assert "Record not found" in shown.text


def test_a_record_past_the_last_points_at_the_batchs_page() -> None:
    client, _ = _portal("csv").signed_in()

    shown = client.get(f"/batches/{BATCH_ID}/records/99999")

    assert shown.status_code == 404
    assert "Its records start on line 4, and each is listed on the batch&#39;s page." in shown.text
    assert "There is nothing here" not in shown.text


def test_an_xml_files_record_0_is_said_as_a_record_not_a_line() -> None:
    client, _ = _portal("xml").signed_in()

    shown = client.get(f"/batches/{BATCH_ID}/records/0")

    assert shown.status_code == 404
    assert f"Batch {BATCH_ID} has no record 0. Its first record is 1." in shown.text
    assert "There is nothing here" not in shown.text
