"""An AO's home page: its batches whatever else is missing."""

from __future__ import annotations

import httpx
from services.portal.tests.unit.stubbed_portal import stubbed_portal

from portal.accounts import Role


def test_the_home_page_shows_the_batches_when_the_challenges_service_does_not_answer() -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in(Role.AO)
    listed = {"items": [], "total": 0, "page": 1, "page_size": 8}
    portal.on("GET", "ingest/v1/batches", lambda _: httpx.Response(200, json=listed))
    portal.on("GET", "challenges/v1/challenges/open-counts", lambda _: httpx.Response(503, json={"title": "Away"}))

    home = client.get("/")

    assert home.status_code == 200
    assert "Not available just now: the challenges service did not answer" in home.text
    assert "Recent batches" in home.text
    assert portal.sent_to("GET", "ingest/v1/batches")
