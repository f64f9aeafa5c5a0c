"""A record's page leads back to its batch's page as the person left it: the records filtered by result and code, on
the page they were on (the record links carry them, and "Back to the batch" restores them), on an AO user's batch
page and an operator's alike. Only what the batch page itself takes is carried: a known result, a code of the rules'
pattern, a page from 2 to 10,000; anything else in the address is left out, never written into the page."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.testclient import TestClient
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal, with_a_sandpit
from services.portal.tests.unit.test_batch_records_paged import BATCH_ID, RECORDS, _batch

from portal.accounts import Role

SUPPORT = frozenset({"support"})
FILTERED = "status=rejected&amp;code=RV004&amp;page=2"
# test_batch_records_paged's batch of 10,000 records (every 50th rejected RV004), of an AO, its findings on a field
FOUND = [
    {**record, "errors": [{"code": "RV004", "message": "name", "field": "given_name"}] if record["errors"] else []}
    for record in RECORDS
]


def _records(request: httpx.Request) -> httpx.Response:
    page, size = int(request.url.params["page"]), int(request.url.params["page_size"])
    status = request.url.params.get("status")
    chosen = [record for record in FOUND if status is None or record["status"] == status]
    body = {"records": chosen[(page - 1) * size : page * size], "total": len(chosen), "page": page, "page_size": size}
    return httpx.Response(200, json=body)


def _portal(monkeypatch: pytest.MonkeyPatch | None = None) -> StubbedPortal:
    """The batch in live's ingest, and with `monkeypatch`, in the Sandpit's too."""
    portal = stubbed_portal() if monkeypatch is None else with_a_sandpit(stubbed_portal(), monkeypatch)
    batch = {**_batch(), "ao_id": "RN9093"}
    for ingest in ("ingest", "sandpit-ingest"):
        portal.on("GET", f"{ingest}/v1/batches/{BATCH_ID}", lambda _: httpx.Response(200, json=batch))
        portal.on("GET", f"{ingest}/v1/batches/{BATCH_ID}/records", _records)
    return portal


def signed_in(portal: StubbedPortal, where: str) -> tuple[TestClient, str]:
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT) if where == "/ops/batches" else portal.signed_in(Role.AO)
    return client, f"{where}/{BATCH_ID}"


def record_links(page: str, batch_path: str) -> list[str]:
    return re.findall(rf'href="({re.escape(batch_path)}/records/[^"]*)"', page)


def back_link(page: str) -> str:
    found = re.search(r'<a href="([^"]*)" class="govuk-back-link">Back to the batch</a>', page)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("where", ["/batches", "/sandpit/batches", "/ops/batches"])
def test_a_record_opened_from_a_filtered_page_leads_back_to_that_page(
    where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    portal = _portal(monkeypatch)
    client, batch_path = signed_in(portal, where)

    batch = client.get(f"{batch_path}?status=rejected&code=RV004&page=2")
    links = record_links(batch.text, batch_path)
    record = client.get(links[0].replace("&amp;", "&"))

    assert batch.status_code == 200
    first_on_page = 50 * 51  # the 51st rejected record: every 50th line is one
    assert links[0] == f"{batch_path}/records/{first_on_page}?{FILTERED}"
    assert all(link.endswith(f"?{FILTERED}") for link in links) and len(links) == 50
    assert record.status_code == 200
    assert back_link(record.text) == f"{batch_path}?{FILTERED}"


@pytest.mark.parametrize("where", ["/batches", "/ops/batches"])
def test_the_first_page_of_every_record_is_linked_as_before(where: str) -> None:
    portal = _portal()
    client, batch_path = signed_in(portal, where)

    batch = client.get(f"{batch_path}?page=1")
    record = client.get(f"{batch_path}/records/4")

    assert record_links(batch.text, batch_path)[0] == f"{batch_path}/records/4"
    assert back_link(record.text) == batch_path


@pytest.mark.parametrize(
    ("query", "carried"),
    [
        ("status=<script>&code=RV004&page=3", "code=RV004&amp;page=3"),
        ("status=accepted&code=<b>x</b>&page=1", "status=accepted"),
        ("status=no_op&code=rv004&page=0", "status=no_op"),
        ("code=RV004%0A&page=-2", ""),
        ("code=RV0041&page=2x", ""),
        ("page=10001&status=Rejected", ""),
        ('page=2"onmouseover="x', ""),
        ("page=%EF%BC%92", ""),  # a fullwidth 2: a digit to int(), not to the batch page
        ("code=WV001&page=10000", "code=WV001&amp;page=10000"),
    ],
)
def test_only_what_the_batch_page_takes_is_carried_back_and_nothing_else_is_written(query: str, carried: str) -> None:
    portal = _portal()
    client, batch_path = signed_in(portal, "/batches")

    record = client.get(f"{batch_path}/records/4?{query}")

    assert record.status_code == 200
    assert back_link(record.text) == (f"{batch_path}?{carried}" if carried else batch_path)
    # the page's own words, without its random form tokens (one may hold "2x" by chance)
    main = re.sub(r'value="[\w-]{32,}"', "", record.text.split("<main", 1)[1])
    for written in ("script", "<b>", "&lt;b&gt;", "onmouseover", "Rejected", "rv004", "RV0041", "10001", "2x"):
        assert written not in main
