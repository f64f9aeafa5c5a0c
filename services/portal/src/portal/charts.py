"""Bar charts as SVG, built on the server: no script, readable at a glance, each paired with a table.

Pure: numbers in, markup out. Every bar carries its number as `data-value` and, where the bar is wide
enough for it, as a visible label; the table beside the chart shows every figure. What a person reads
and what a test compares are the same figures. A value of None is nothing measured (no challenge resolved, say):
a bar of no height that keeps its place, "—" where its number would be, an empty `data-value`, an empty CSV cell.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# GOV.UK palette colours with at least 3:1 contrast against white (WCAG 1.4.11): blue, red, green, dark grey, bright
# purple and brown (3.2:1: orange, at 2.78:1, falls short).
PALETTE = ("#1d70b8", "#d4351c", "#00703c", "#505a5f", "#912b88", "#b58840")

_WIDTH = 640
_LEFT = 48
_RIGHT = 16
_TOP = 32
_BOTTOM = 44
_PLOT_HEIGHT = 220
_LEGEND_LINE = 20
_VALUE_CHARACTER_WIDTH = 7.0
# A category label's width a character at 13 px: Arial's 6.5, and room for the letter spacing WCAG 1.4.12 lets a
# reader set (0.12 em, 1.56 px), so that no label runs out of its chart. A label wider than `_LABEL_WIDTH_MOST` allows
# is broken into lines at its spaces.
_LABEL_CHARACTER_WIDTH = 8.1
_LABEL_WIDTH_MOST = 260.0
_LABEL_LINE = 14.0


NOT_MEASURED = "—"
"""What a chart and its table show for a value of None: nothing measured, which 0 would misstate."""


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float | None, ...]


@dataclass(frozen=True)
class Chart:
    chart_id: str
    title: str
    description: str
    categories: tuple[str, ...]
    series: tuple[Series, ...]
    unit: str = ""
    horizontal: bool = False
    category_label: str = "Month"
    empty: str = "Nothing to show for these months"
    # What each category's numbers count, when categories count different things (records, batches): shown
    # beside each bar, in its own column of the table and the CSV, under `notes_label`.
    category_notes: tuple[str, ...] = ()
    notes_label: str = ""
    # What a reader must know to read the table right (what it leaves out, say): shown under the table.
    footnote: str = ""
    # What a value of None (nothing measured) means, as a bar's title says it to a screen reader.
    not_measured: str = "nothing measured"

    def __post_init__(self) -> None:
        for series in self.series:
            if len(series.values) != len(self.categories):
                raise ValueError(f"series {series.name!r} has {len(series.values)} values for {len(self.categories)}")
        if self.notes_label and len(self.category_notes) != len(self.categories):
            raise ValueError(f"{len(self.category_notes)} notes for {len(self.categories)} categories")

    def note(self, index: int) -> str:
        return self.category_notes[index] if self.category_notes else ""


def nice_maximum(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times 10^n at or above `value` (at least 1), so gridlines fall on round numbers."""
    if value <= 1:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return float(step * magnitude)
    return float(10 * magnitude)


def gridlines(top: float, *, whole: bool) -> tuple[float, ...]:
    """The values gridlines are drawn at, from 0 up to `top` (a `nice_maximum`), in 4 or 5 equal steps of a round
    number (1, 2 or 5 times 10^n), so no label is rounded: 0, 1, 2, 3, 4, 5 for a top of 5, not 1.25 shown as 1.2.
    For a series of `whole` numbers (counts of batches, say) a step is never less than 1: 0, 1, 2 for a top of 2."""
    magnitude = 10 ** math.floor(math.log10(top))
    steps = 4 if round(top / magnitude, 6) == 2 else 5  # 2 in quarters; 1, 2.5 and 5 in fifths
    step = top / steps
    if whole and step < 1:
        step, steps = 1.0, max(1, math.floor(top))  # a whole number's top is 1 or 2 here (nice_maximum(3) is 5)
    return tuple(round(step * index, 9) for index in range(steps + 1))


def _number(value: float | None) -> str:
    if value is None:
        return NOT_MEASURED
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def raw(value: float | None) -> str:
    """A value as `data-value` and a CSV cell give it: empty when nothing was measured."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def _measured(chart: Chart) -> list[float]:
    """Every value of the chart's series that measured something (not None)."""
    return [value for series in chart.series for value in series.values if value is not None]


def _text(x: float, y: float, content: str, anchor: str = "middle", css: str = "chart-label") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" class="{css}">{escape(content)}</text>'


def _legend_positions(series: Sequence[Series]) -> list[tuple[float, int]]:
    """Each key's x and line: keys run left to right and wrap before the right edge."""
    positions = []
    x, line = float(_LEFT), 0
    for item in series:
        width = 24 + 8 * len(item.name)
        if x > _LEFT and x + width > _WIDTH - _RIGHT:
            x, line = float(_LEFT), line + 1
        positions.append((x, line))
        x += width
    return positions


def _legend_lines(series: Sequence[Series]) -> int:
    return 1 + max((line for _, line in _legend_positions(series)), default=0)


def _legend(series: Sequence[Series], y: float) -> list[str]:
    parts = []
    for index, (item, (x, line)) in enumerate(zip(series, _legend_positions(series), strict=True)):
        colour = PALETTE[index % len(PALETTE)]
        key_y = y + _LEGEND_LINE * line
        parts.append(f'<rect x="{x:.1f}" y="{key_y - 10:.1f}" width="12" height="12" fill="{colour}"/>')
        parts.append(_text(x + 16, key_y, item.name, "start"))
    return parts


def label_lines(label: str, most: int) -> list[str]:
    """A category's label in lines of at most `most` characters, broken at its spaces (a longer word keeps a line)."""
    lines: list[str] = []
    for word in label.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= most:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def _label(x: float, y: float, lines: Sequence[str]) -> str:
    """A category's label ending at `x`, its lines centred on `y` (one line: `_text`'s)."""
    if len(lines) < 2:
        return _text(x, y, " ".join(lines), "end", "chart-axis")
    first = y - _LABEL_LINE * (len(lines) - 1) / 2
    spans = "".join(
        f'<tspan x="{x:.1f}" y="{first + _LABEL_LINE * index:.1f}">{escape(line)}</tspan>'
        for index, line in enumerate(lines)
    )
    return f'<text x="{x:.1f}" y="{first:.1f}" text-anchor="end" class="chart-axis">{spans}</text>'


def vertical_bars(chart: Chart) -> Markup:
    """Grouped columns: one group per category (a month, say), one column per series."""
    values = _measured(chart)
    top = nice_maximum(max(values, default=0))
    height = _TOP + _PLOT_HEIGHT + _BOTTOM + 4 + _LEGEND_LINE * _legend_lines(chart.series)
    plot_width = _WIDTH - _LEFT - _RIGHT
    group_width = plot_width / max(len(chart.categories), 1)
    bar_width = min(40.0, (group_width - 12) / max(len(chart.series), 1))
    base_y = _TOP + _PLOT_HEIGHT
    parts = _open(chart, height)
    for tick_value in gridlines(top, whole=all(float(value).is_integer() for value in values)):
        y = base_y - _PLOT_HEIGHT * tick_value / top
        parts.append(f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="chart-grid"/>')
        parts.append(_text(_LEFT - 6, y + 4, _number(tick_value), "end", "chart-axis"))
    for category_index, category in enumerate(chart.categories):
        group_x = _LEFT + group_width * category_index
        used = bar_width * len(chart.series)
        start = group_x + (group_width - used) / 2
        for series_index, series in enumerate(chart.series):
            value = series.values[category_index]
            bar_height = _PLOT_HEIGHT * (value or 0) / top
            x = start + bar_width * series_index
            y = base_y - bar_height
            parts.append(_bar(chart, series_index, series, category, value, x, y, bar_width - 2, bar_height))
            if len(_number(value)) * _VALUE_CHARACTER_WIDTH <= bar_width + 4:
                parts.append(_text(x + (bar_width - 2) / 2, y - 4, _number(value), css="chart-value"))
        parts.append(_text(group_x + group_width / 2, base_y + 18, category, css="chart-axis"))
    parts.extend(_legend(chart.series, base_y + 40))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in `parts` was escaped as it was built


def horizontal_bars(chart: Chart) -> Markup:
    """One row per category (a code, say), for long labels and many categories."""
    values = _measured(chart)
    top = nice_maximum(max(values, default=0))
    row = 26.0
    labels = [
        label_lines(category, int((_LABEL_WIDTH_MOST - 16) // _LABEL_CHARACTER_WIDTH)) for category in chart.categories
    ]
    longest = max((len(line) for lines in labels for line in lines), default=0)
    label_width = min(_LABEL_WIDTH_MOST, max(90.0, _LABEL_CHARACTER_WIDTH * longest + 16))
    rows = max(len(chart.categories), 1) * len(chart.series)
    legend = _legend_lines(chart.series) if len(chart.series) > 1 else 0
    height = _TOP + row * rows + 40 + _LEGEND_LINE * legend
    plot_width = _WIDTH - label_width - _RIGHT - 60
    parts = _open(chart, height)
    y = float(_TOP)
    for category_index, category in enumerate(chart.categories):
        for series_index, series in enumerate(chart.series):
            value = series.values[category_index]
            width = plot_width * (value or 0) / top
            if series_index == 0:
                parts.append(_label(label_width - 8, y + row / 2 + 4, labels[category_index]))
            note = chart.note(category_index)
            parts.append(_bar(chart, series_index, series, category, value, label_width, y + 3, width, row - 6, note))
            shown = f"{_number(value)} {note}" if note else _number(value)
            parts.append(_text(label_width + width + 6, y + row / 2 + 4, shown, "start", "chart-value"))
            y += row
    if not chart.categories:
        parts.append(_text(_WIDTH / 2, _TOP + 16, chart.empty))
    if legend:
        parts.extend(_legend(chart.series, _TOP + row * rows + 24))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in `parts` was escaped as it was built


def _open(chart: Chart, height: float) -> list[str]:
    title_id, desc_id = f"{chart.chart_id}-title", f"{chart.chart_id}-desc"
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="portal-chart" id="{escape(chart.chart_id)}"'
        f' viewBox="0 0 {_WIDTH} {height:.0f}" role="img" aria-labelledby="{title_id} {desc_id}">',
        f'<title id="{title_id}">{escape(chart.title)}</title>',
        f'<desc id="{desc_id}">{escape(chart.description)}</desc>',
    ]


def _bar(
    chart: Chart,
    series_index: int,
    series: Series,
    category: str,
    value: float | None,
    x: float,
    y: float,
    width: float,
    height: float,
    note: str = "",
) -> str:
    colour = PALETTE[series_index % len(PALETTE)]
    said = chart.not_measured if value is None else f"{_number(value)}{chart.unit}"
    label = f"{category}, {note or series.name}: {said}"
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width, 0):.1f}" height="{max(height, 0):.1f}" fill="{colour}"'
        f' data-series="{escape(series.name)}" data-category="{escape(category)}" data-value="{raw(value)}">'
        f"<title>{escape(label)}</title></rect>"
    )


def svg(chart: Chart) -> Markup:
    return horizontal_bars(chart) if chart.horizontal else vertical_bars(chart)


def table_rows(chart: Chart) -> list[tuple[str, tuple[float | None, ...]]]:
    """The chart's numbers as rows of its table: one per category, one column per series (None: nothing measured)."""
    return [
        (category, tuple(series.values[index] for series in chart.series))
        for index, category in enumerate(chart.categories)
    ]
