"""A maintenance reason is shown to every AO on every page (the banner): a bidirectional control in one stored before
ingest refused them (door walk, finding 5) is shown by its code point ("[U+202E]"), as a learner's challenge reason is,
not obeyed: the words would read in another order than they were written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from services.portal.tests.unit.stubbed_portal import stubbed_portal

from portal.accounts import Role

NOW = datetime.now(UTC)


def _window(number: int, reason: str) -> dict[str, str]:
    starts = datetime(2027, 1, 10 + number, 10, 0, tzinfo=UTC)
    return {
        "window_id": f"5d3f1a2b-0c4e-4f6a-9b8c-7d6e5f4a3b2{number}",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=1)).isoformat(),
        "reason": reason,
    }


def test_the_banner_shows_a_reasons_bidirectional_controls_by_their_code_points() -> None:
    portal = stubbed_portal()
    schedule = {
        "active": {"reason": "Li\u202ely", "until": None, "paused": True, "message": "..."},
        # the next three in the list, the later ones behind a click: each shown alike
        "windows": [_window(number, f"window {number} \u2067v{number}\u2069") for number in range(5)],
        "pause": {"since": (NOW - timedelta(hours=1)).isoformat(), "reason": "Li\u202ely"},
    }
    portal.on("GET", "ingest/v1/maintenance", lambda _: httpx.Response(200, json=schedule))
    client, _ = portal.signed_in(Role.AO)

    page = client.get("/").text

    banner = page.partition('id="maintenance-banner"')[2].partition("</main>")[0]
    assert "Processing is paused: Li[U+202E]ly." in " ".join(banner.split())
    listed, _, later = banner.partition('data-maintenance="later"')
    assert all(f"window {number} [U+2067]v{number}[U+2069]</li>" in listed for number in range(3))
    assert all(f"window {number} [U+2067]v{number}[U+2069]</li>" in later for number in range(3, 5))
    assert not any(character in page for character in "\u202e\u2067\u2069")
