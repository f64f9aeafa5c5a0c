"""A chart is read without telling colours apart (WCAG 1.4.1): which bar of a group is which series is said by its
place, in words above the chart. And with the text spacing a reader may set (WCAG 1.4.12: letter spacing 0.12 em, word
spacing 0.16 em), no category label of a chart runs out of it: a long one is broken into lines at its spaces."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
from services.portal.tests.unit.test_charts_and_mi import SVG, _mi_page, _with_failed_batches, data

from portal.charts import Chart, Series, svg
from portal.mi import CHARTS

FONT = 13.0  # the charts' category labels, in px (portal.css `.chart-axis`)
ARIAL = 6.5  # Arial's width a character at 13 px, on average
LETTER, WORD = 0.12 * FONT, 0.16 * FONT  # WCAG 1.4.12's spacing


def labels(chart: Chart) -> list[tuple[float, list[str]]]:
    """Each category label of a horizontal chart: where it ends (its x), and its lines."""
    root = ElementTree.fromstring(str(svg(chart)))
    found = []
    for text in root.iter(f"{SVG}text"):
        if text.get("class") == "chart-axis" and text.get("text-anchor") == "end":
            spans = [span.text or "" for span in text.iter(f"{SVG}tspan")]
            found.append((float(text.get("x", "0")), spans or [text.text or ""]))
    return found


def spaced_width(line: str) -> float:
    return len(line) * (ARIAL + LETTER) + line.count(" ") * WORD


@pytest.mark.parametrize(
    "categories",
    [
        ("All types", "Vocationally-Related Qualification", "GCSE (9 to 1)"),  # the MI's longest today
        ("English For Speakers of Other Languages", "Performing Arts Graded Examination"),
    ],
)
def test_no_category_label_runs_out_of_its_chart_with_wcag_text_spacing(categories: tuple[str, ...]) -> None:
    chart = Chart(
        "c",
        "t",
        "d",
        categories,
        (Series("Batches measured", (1.0,) * len(categories)), Series("Within", (1.0,) * len(categories))),
        horizontal=True,
        category_label="Qualification type",
    )

    drawn = labels(chart)

    assert [" ".join(lines) for _, lines in drawn] == list(categories)  # every word, in order
    for x, lines in drawn:
        for line in lines:
            assert spaced_width(line) <= x, f"{line!r} runs {spaced_width(line) - x:.0f} past the chart's left edge"


def test_the_mis_own_timeliness_chart_keeps_its_labels_inside_it() -> None:
    for x, lines in labels(CHARTS["plr-timeliness"](data())):
        assert all(spaced_width(line) <= x for line in lines), lines


def test_a_charts_bars_are_said_in_their_order_above_it() -> None:
    rendered = _mi_page(_with_failed_batches().submissions["2026-11"][0])

    def said(name: str) -> str:
        section = rendered.split(f'data-chart="{name}"', 1)[1].split("</section>", 1)[0]
        return section.split("data-bar-order>", 1)[1].split("</p>", 1)[0] if "data-bar-order" in section else ""

    assert said("batches") == "Each month's bars, left to right: Completed, Failed, Abandoned."
    assert said("records") == (
        "Each month's bars, left to right: Accepted, Rejected, Unchanged, Not added (failed batches)."
    )
    assert said("rejections") == ""  # one series: nothing to tell apart
