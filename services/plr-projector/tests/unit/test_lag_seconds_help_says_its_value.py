"""`lrs_projector_lag_seconds`'s help text, what a dashboard author sees in Grafana, says what the value is, as
docs/operations.md §Metrics does: how long at most the oldest waiting record has waited, counted from the later of the
newest projected record and when the projector was last seen caught up. It said "age of the newest projected record"
(sre walk, finding 7)."""

from __future__ import annotations

from plr_projector import metrics


def test_the_lag_in_seconds_help_says_it_is_the_oldest_waiting_records_wait() -> None:
    (family,) = metrics.LAG_SECONDS.describe()

    assert "oldest has waited" in family.documentation
    assert "last seen caught up" in family.documentation
    assert "0 when caught up" in family.documentation
    assert not family.documentation.startswith("Age of the newest projected record")
