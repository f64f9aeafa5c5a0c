"""WCAG 1.4.11 (non-text contrast): every colour a chart's bars and legend keys are drawn in stands out from the white
page by at least 3:1, and no two series share a colour."""

from __future__ import annotations

import pytest

from portal.charts import PALETTE

WHITE = "#ffffff"


def relative_luminance(colour: str) -> float:
    """WCAG 2.2's relative luminance of an sRGB colour written #rrggbb."""
    channels = [int(colour[index : index + 2], 16) / 255 for index in (1, 3, 5)]
    linear = [value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4 for value in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    lighter, darker = sorted((relative_luminance(one), relative_luminance(other)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_the_contrast_formula_gives_wcags_known_ratios() -> None:
    assert contrast("#000000", WHITE) == pytest.approx(21.0)
    assert contrast("#767676", WHITE) == pytest.approx(4.54, abs=0.01)  # the lightest grey passing 4.5:1


@pytest.mark.parametrize("colour", PALETTE)
def test_each_series_colour_has_at_least_3_to_1_contrast_against_white(colour: str) -> None:
    assert contrast(colour, WHITE) >= 3.0, f"{colour}: {contrast(colour, WHITE):.2f}:1"


def test_no_two_series_share_a_colour() -> None:
    assert len(set(PALETTE)) == len(PALETTE)
