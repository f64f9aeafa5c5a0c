"""A Sandpit reset waiting behind a batch that a Sandpit maintenance window holds says when it is applied in UK time,
as the banner above it and the held batch's page do, not as ingest's UTC instant ("after 2026-12-07T03:13:00Z")."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from services.portal.tests.unit.test_sandpit_reset_held import PENDING, _reset_page


def test_a_reset_held_by_a_window_says_when_in_uk_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # next summer (well past the page's wait), when UK time is an hour ahead of UTC
    year = datetime.now(UTC).year + 1
    instant = f"{year}-06-15T03:13:00Z"
    window = {"reason": "upgrade", "until": instant, "paused": False, "message": f"will be applied after {instant}"}

    page, _, _ = _reset_page(monkeypatch, [PENDING | {"maintenance": window}])

    assert f"Nothing is being emptied yet; the reset will be applied after 15 Jun {year}, 04:13 (UK time)." in page
    assert "03:13:00Z" not in page
