"""The rejected share as people read it (`rejected_share_shown`): on the same side of 30% as the RS005 decision."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lrs_contracts.codes import MAX_BATCH_RECORDS
from lrs_domain.rules import exceeds_rejection_threshold, rejected_share_shown


def _read(shown: str) -> Decimal:
    assert shown.endswith("%")
    return Decimal(shown.removesuffix("%"))


@pytest.mark.parametrize(
    ("rejected", "total", "shown"),
    [
        (3001, 10_000, "30.1%"),  # docs/rules.md: fails
        (3000, 10_000, "30.0%"),  # passes
        (601, 2003, "30.1%"),  # 30.005%: failed end to end, and was shown as "30.0%"
        (61, 203, "30.1%"),  # 30.049%
        (2999, 10_000, "30.0%"),  # 29.99%: passes, and reads no more than 30.0%
        (81, 250, "32.4%"),
        (1, 3, "33.3%"),  # nearest tenth, not rounded up, away from the threshold
        (2, 3, "66.7%"),
        (1, 16, "6.3%"),  # 6.25%: a half rounds up
        (3, 10, "30.0%"),
        (4, 10, "40.0%"),
        (1, 1, "100.0%"),
        (0, 10_000, "0.0%"),
        (0, 0, "0.0%"),
    ],
)
def test_the_share_shown(rejected: int, total: int, shown: str) -> None:
    assert rejected_share_shown(rejected, total) == shown


def test_no_batch_size_shows_a_failed_batch_at_30_percent_or_under_nor_a_passing_one_over() -> None:
    """For every batch size the rules allow, the most rejections that pass and the fewest that fail."""
    for total in range(1, MAX_BATCH_RECORDS + 1):
        most_passing = 3 * total // 10
        assert not exceeds_rejection_threshold(most_passing, total)
        assert exceeds_rejection_threshold(most_passing + 1, total)
        assert _read(rejected_share_shown(most_passing, total)) <= 30, (most_passing, total)
        assert _read(rejected_share_shown(most_passing + 1, total)) > 30, (most_passing + 1, total)


@given(st.integers(1, MAX_BATCH_RECORDS).flatmap(lambda total: st.tuples(st.integers(0, total), st.just(total))))
def test_the_share_shown_is_within_a_tenth_of_the_share_and_on_the_decisions_side(batch: tuple[int, int]) -> None:
    rejected, total = batch
    shown = _read(rejected_share_shown(rejected, total))
    exact = Decimal(100 * rejected) / Decimal(total)

    assert abs(shown - exact) <= Decimal("0.1")
    assert (shown > 30) is exceeds_rejection_threshold(rejected, total)
