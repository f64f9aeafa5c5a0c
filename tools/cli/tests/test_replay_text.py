"""One replay summary serves both dead-letter APIs: the platform's (per consumer) and the PLR projector's."""

from __future__ import annotations

from lrs_cli.output import replay_text


def test_platform_results_name_their_consumer_and_the_first_error() -> None:
    results = [
        {"consumer": "ingest-outcomes", "topic": "lrs.a.v1", "key": None, "applied": 1, "skipped": 1,
         "still_parked": 0, "error": None},
        {"consumer": "ingest-outcomes", "topic": "lrs.b.v1", "key": None, "applied": 0, "skipped": 0,
         "still_parked": 2, "error": "ValueError: bad"},
    ]  # fmt: skip

    assert replay_text(results).splitlines() == [
        "ingest-outcomes lrs.a.v1: applied 1, skipped 1, still parked 0",
        "ingest-outcomes lrs.b.v1: applied 0, skipped 0, still parked 2 - first error: ValueError: bad",
    ]


def test_projector_results_count_duplicates() -> None:
    results = [
        {"topic": "lrs.plr.events.v1", "learner": "99", "applied": 3, "duplicates": 1, "skipped": 0,
         "still_parked": 0, "error": None},
    ]  # fmt: skip

    assert replay_text(results) == "lrs.plr.events.v1: applied 3, duplicates 1, skipped 0, still parked 0"
