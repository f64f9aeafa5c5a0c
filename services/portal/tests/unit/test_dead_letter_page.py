"""The operators' dead-letter page says when a service has more parked than it lists."""

from __future__ import annotations

from typing import Any

from services.portal.tests.unit.test_batch_pages import page


def parked(offset: int) -> dict[str, Any]:
    return {
        "key": f"batch-{offset}",
        "handle": str(offset),
        "topic": "lrs.batch.outcomes.v1",
        "partition": 0,
        "offset": offset,
        "reason": "error",
        "error": "unreadable",
        "parked_at": "2026-12-01T10:00:00Z",
    }


def test_a_listing_cut_short_says_how_many_are_parked_in_all() -> None:
    html = page(
        "ops_dead_letters.html",
        by_service=[("ingest", [parked(1), parked(2)], 12_345, None), ("notifier", [parked(3)], 1, None)],
        done=None,
        current_path="/ops/dead-letters",
    )

    assert "Parked messages of ingest: the first 2 of 12,345" in html
    assert 'data-parked-more="ingest">12,343 more are parked.' in html
    assert "lrs dlq list --service ingest --key KEY" in html
    assert 'data-parked-more="notifier"' not in html and "Parked messages of notifier<" in html
