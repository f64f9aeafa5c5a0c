"""`lrs dlq list` says when a service has more parked than it lists, and how to see them."""

from __future__ import annotations

from lrs_cli.dlq_commands import more_parked_text


def test_a_listing_cut_short_says_how_many_are_parked_and_how_to_narrow_it() -> None:
    assert more_parked_text("ingest", 500, 12_345) == (
        "the first 500 of 12,345 parked in ingest: --key or --topic narrows, a larger --limit shows more"
    )
    assert more_parked_text("ingest", 3, 3) is None
