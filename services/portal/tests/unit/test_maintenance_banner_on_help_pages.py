"""docs/operations.md, decision 0070: the maintenance banner is on every page a signed-in person reads. The help pages
(accessibility, privacy, contact), which anyone may read, showed it to no one: they looked the person up without the
schedule. Read signed out they still have none: the portal reads the schedule with the person's own key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal

from portal.accounts import Role

SCHEDULE = "ingest/v1/maintenance"
NOW = datetime.now(UTC)
UNDER_WAY = {
    "active": {
        "reason": "database upgrade",
        "until": (NOW + timedelta(hours=1)).isoformat(),
        "paused": False,
        "message": "will be processed after then",
    },
    "windows": [
        {
            "window_id": "5d3f1a2b-0c4e-4f6a-9b8c-7d6e5f4a3b2c",
            "starts_at": (NOW - timedelta(hours=1)).isoformat(),
            "ends_at": (NOW + timedelta(hours=1)).isoformat(),
            "reason": "database upgrade",
        }
    ],
    "pause": None,
}
HELP_PAGES = ["/help/accessibility", "/help/privacy", "/help/contact"]


@pytest.fixture
def portal() -> StubbedPortal:
    portal = stubbed_portal()
    portal.on("GET", SCHEDULE, lambda _: httpx.Response(200, json=UNDER_WAY))
    return portal


@pytest.mark.parametrize("page", HELP_PAGES)
def test_a_signed_in_person_reading_a_help_page_sees_the_maintenance_banner(portal: StubbedPortal, page: str) -> None:
    client, _ = portal.signed_in(Role.AO)

    shown = client.get(page)

    assert shown.status_code == 200
    assert 'id="maintenance-banner"' in shown.text
    assert "Planned maintenance is under way: database upgrade." in " ".join(shown.text.split())


@pytest.mark.parametrize("page", HELP_PAGES)
def test_a_help_page_whose_readers_key_is_refused_is_shown_without_the_banner(portal: StubbedPortal, page: str) -> None:
    """These pages are for people who cannot get further: a refused key costs the banner, not the page."""
    portal.on("GET", SCHEDULE, lambda _: httpx.Response(401, json={"title": "Unauthorized", "status": 401}))
    client, _ = portal.signed_in(Role.AO)

    shown = client.get(page)

    assert shown.status_code == 200 and 'id="maintenance-banner"' not in shown.text


@pytest.mark.parametrize("page", [*HELP_PAGES, "/sign-in"])
def test_read_signed_out_no_page_has_the_banner_for_the_portal_has_no_key_to_ask_with(
    portal: StubbedPortal, page: str
) -> None:
    shown = portal.client().get(page)

    assert shown.status_code == 200 and 'id="maintenance-banner"' not in shown.text
    assert not portal.sent_to("GET", SCHEDULE)
