"""The parked events are counted again when their table was written, and at least every so often."""

from __future__ import annotations

from plr_projector.metrics import Recount


def test_a_count_is_due_first_then_after_a_write_or_once_the_interval_has_passed() -> None:
    recount = Recount(every_seconds=30)

    assert recount.due(("live", 7), now=100.0)
    recount.counted(("live", 7), now=100.0)
    assert not recount.due(("live", 7), now=102.0)
    assert not recount.due(("live", 7), now=129.9)
    assert recount.due(("live", 8), now=102.0), "a write since the count"
    assert recount.due(("rebuilt", 7), now=102.0), "another schema after a switch"
    assert recount.due(("live", 7), now=130.0), "the interval passed"
