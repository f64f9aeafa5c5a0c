"""A batch's results as CSV: named as ingest names them in live, and marked as the Sandpit's in the Sandpit
(README: everything from the Sandpit is marked), so a saved file is never taken for live results."""

from __future__ import annotations

import dataclasses
import uuid

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, keeping_sandpit_keys, stubbed_portal

from portal.backend import Services

BATCH_ID = uuid.uuid4()
CSV = b"line,status\n4,accepted\n"


def ingests_results(request: httpx.Request) -> httpx.Response:
    disposition = f'attachment; filename="batch-{BATCH_ID}-records.csv"'  # as ingest names it, in either environment
    return httpx.Response(200, content=CSV, headers={"Content-Type": "text/csv", "Content-Disposition": disposition})


@pytest.fixture
def portal(monkeypatch: pytest.MonkeyPatch) -> StubbedPortal:
    """A portal with a Sandpit whose services are answered at hosts of their own (`sandpit-ingest`); a session's
    Sandpit key is issued by the in-memory key store when a Sandpit page first asks for it."""
    portal = stubbed_portal()
    sandpit_urls = {name: f"http://sandpit-{name}" for name in ("ingest", "plr-projector", "validation")}
    client = httpx.AsyncClient(transport=httpx.MockTransport(portal.answer))
    portal.app.state.portal = dataclasses.replace(portal.app.state.portal, sandpit=Services(sandpit_urls, client))
    keeping_sandpit_keys(portal, monkeypatch)
    portal.on("GET", f"ingest/v1/batches/{BATCH_ID}/records.csv", ingests_results)
    portal.on("GET", f"sandpit-ingest/v1/batches/{BATCH_ID}/records.csv", ingests_results)
    return portal


def test_live_results_keep_the_name_ingest_gives_them(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in()

    answer = client.get(f"/batches/{BATCH_ID}/records.csv")

    assert answer.status_code == 200 and answer.content == CSV
    assert answer.headers["content-disposition"] == f'attachment; filename="batch-{BATCH_ID}-records.csv"'


def test_the_sandpits_results_are_named_as_the_sandpits(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in()

    answer = client.get(f"/sandpit/batches/{BATCH_ID}/records.csv")

    assert answer.status_code == 200 and answer.content == CSV
    assert portal.sent_to("GET", f"sandpit-ingest/v1/batches/{BATCH_ID}/records.csv")
    assert answer.headers["content-disposition"] == f'attachment; filename="sandpit-batch-{BATCH_ID}-records.csv"'


def test_a_download_ingest_defers_is_said_as_a_wait_not_as_a_refusal(portal: StubbedPortal) -> None:
    """Ingest's 429 (three downloads of one caller at once, decision 0185): the portal's page says to wait, in
    ingest's words, with its Retry-After, not "That could not be done" with a 409."""
    detail = "3 downloads of batch results for you are being sent at the moment: download this one again in 5 seconds."
    problem = {"title": "Too many downloads at once", "status": 429, "detail": detail, "code": "TOO_MANY_REQUESTS"}
    portal.on(
        "GET",
        f"ingest/v1/batches/{BATCH_ID}/records.csv",
        lambda request: httpx.Response(429, json=problem, headers={"Retry-After": "5"}),
    )
    client, _ = portal.signed_in()

    answer = client.get(f"/batches/{BATCH_ID}/records.csv")

    assert answer.status_code == 429 and answer.headers["retry-after"] == "5"
    assert "Too many requests at once" in answer.text and "again in 5 seconds" in answer.text
    assert "That could not be done" not in answer.text
