"""A projector runner as its unit tests make one: live, with no database or broker, what it reads set by each test."""

from __future__ import annotations

from plr_projector.consumer import Runner, Topics
from plr_projector.store import ReadModel


def live_runner() -> Runner:
    """A live runner with no database or broker: what `lag` reads, and what `account` is told, is set by each test."""
    return Runner(
        "live",
        ReadModel("plr"),
        None,
        "kafka:9092",
        Topics(),
        max_batch_records=10,
        poll_timeout_ms=10,
        dead_letter_producer=None,
    )
