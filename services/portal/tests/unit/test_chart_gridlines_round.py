"""A chart's gridlines fall on round numbers, as `nice_maximum` promises: a count of batches whose largest month is 5
is read against 0, 1, 2, 3, 4, 5, never against 1.2, 2.5 and 3.8 (its quarters, 1.25 and 3.75, rounded); a count
is never read against a fraction of one. Series of fractions (days taken, say) keep gridlines of round fractions."""

from __future__ import annotations

import itertools
import math
from xml.etree import ElementTree

import pytest

from portal.charts import Chart, Series, gridlines, nice_maximum, svg

SVG = "{http://www.w3.org/2000/svg}"


def axis_labels(values: tuple[float, ...]) -> list[str]:
    chart = Chart(
        "c",
        "Batches processed per month",
        "per month",
        tuple(f"m{i}" for i in range(len(values))),
        (Series("Batches", values),),
    )
    root = ElementTree.fromstring(svg(chart))
    return [text.text or "" for text in root.iter(f"{SVG}text") if text.get("text-anchor") == "end"]


def test_five_batches_are_read_against_whole_numbers() -> None:
    assert axis_labels((2.0, 5.0)) == ["0", "1", "2", "3", "4", "5"]


@pytest.mark.parametrize(
    ("values", "labels"),
    [
        ((0.0,), ["0", "1"]),
        ((1.0,), ["0", "1"]),
        ((2.0, 1.0), ["0", "1", "2"]),
        ((7.0,), ["0", "2", "4", "6", "8", "10"]),
        ((12.0,), ["0", "5", "10", "15", "20"]),
        ((21.0,), ["0", "5", "10", "15", "20", "25"]),
        ((26.0,), ["0", "10", "20", "30", "40", "50"]),
        ((101.0,), ["0", "50", "100", "150", "200"]),
        ((2_400.0,), ["0", "500", "1,000", "1,500", "2,000", "2,500"]),
    ],
)
def test_a_count_is_read_against_whole_round_numbers(values: tuple[float, ...], labels: list[str]) -> None:
    assert axis_labels(values) == labels


@pytest.mark.parametrize(
    ("values", "labels"),
    [
        ((0.4,), ["0", "0.2", "0.4", "0.6", "0.8", "1"]),
        ((1.5,), ["0", "0.5", "1", "1.5", "2"]),
        ((2.3,), ["0", "0.5", "1", "1.5", "2", "2.5"]),
    ],
)
def test_fractions_are_read_against_round_fractions(values: tuple[float, ...], labels: list[str]) -> None:
    assert axis_labels(values) == labels


def _is_round(step: float) -> bool:
    return round(step / 10 ** math.floor(math.log10(step)), 6) in (1, 2, 5)


@pytest.mark.parametrize("top", [1.0, 2.0, 2.5, 5.0, 10.0, 20.0, 25.0, 50.0, 100.0, 250.0, 500.0])
def test_every_gridline_is_a_round_step_from_zero_to_the_top(top: float) -> None:
    values = gridlines(top, whole=False)
    assert values[0] == 0 and values[-1] == top and 4 <= len(values) - 1 <= 5
    assert _is_round(values[1])
    assert all(b - a == pytest.approx(values[1]) for a, b in itertools.pairwise(values))


@pytest.mark.parametrize("whole_number", [0, 1, 2, 3, 5, 7, 10, 12, 21, 26, 99, 101, 240, 2_400, 1_000_000])
def test_a_whole_numbers_gridlines_are_whole_round_steps_to_its_top(whole_number: int) -> None:
    top = nice_maximum(whole_number)
    values = gridlines(top, whole=True)
    assert values[0] == 0 and values[-1] == top and 1 <= len(values) - 1 <= 5
    assert _is_round(values[1]) and all(float(value).is_integer() for value in values)
    assert all(b - a == pytest.approx(values[1]) for a, b in itertools.pairwise(values))
