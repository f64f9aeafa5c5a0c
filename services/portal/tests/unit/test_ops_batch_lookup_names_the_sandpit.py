"""Report-sandpit finding 8: an AO phones about a "[SANDPIT] LRS batch completed … (batch 8300a129)" email; the operator's
batch lookup, which asks live ingest only, said the right id was wrong. Where the portal has a Sandpit, a lookup that
finds no batch now says that a Sandpit batch is not listed there and how to read it (`lrs --sandpit batch status ID`
with a Sandpit operator key: the portal holds no operator's Sandpit key to look for itself); without one, as before."""

from __future__ import annotations

import uuid

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal, with_a_sandpit

from portal.accounts import Role

SUPPORT = frozenset({"support"})
LISTED = {"items": [], "page": 1, "page_size": 25, "total": 0}
SANDPIT_BATCH = uuid.UUID("8300a129-90f9-425c-989b-8d27e50658ca")


def _lookups(portal: StubbedPortal) -> tuple[str, str]:
    """The pages of a whole id and of its first 8 characters, neither found by live ingest."""
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)
    portal.on("GET", "ingest/v1/batches", lambda _: httpx.Response(200, json=LISTED))
    whole = client.get(f"/ops/batches/{SANDPIT_BATCH}")
    start = client.get("/ops/batches", params={"batch": "8300a129"})
    assert whole.status_code == start.status_code == 404
    return " ".join(whole.text.split()), " ".join(start.text.split())


def test_a_batch_not_found_says_where_a_sandpit_batch_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    whole, start = _lookups(with_a_sandpit(stubbed_portal(), monkeypatch))

    assert (
        f"There is no batch {SANDPIT_BATCH}: check the id the AO gave you. A Sandpit batch (its email&#39;s subject"
        f" starts [SANDPIT]) is not listed here: look it up with lrs --sandpit batch status {SANDPIT_BATCH} and a"
        " Sandpit operator key" in whole
    )
    assert (
        "No batch&#39;s id starts 8300a129: check the id the AO gave you. A Sandpit batch (its email&#39;s subject"
        " starts [SANDPIT]) is not listed here: look it up with lrs --sandpit batch status 8300a129 and a Sandpit"
        " operator key" in start
    )


def test_without_a_sandpit_the_lookup_says_as_before() -> None:
    whole, start = _lookups(stubbed_portal())

    assert f"There is no batch {SANDPIT_BATCH}: check the id the AO gave you" in whole
    assert "No batch&#39;s id starts 8300a129: check the id the AO gave you" in start
    assert "Sandpit batch" not in whole + start
