"""MI for one AO as charts: submissions and records per month, rejections by code, timeliness.

Pure: the reporting API's rows in, charts out (each chart is also its table and its CSV).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from portal.charts import Chart, Series, table_rows

TARGET_WORKING_DAYS = 10


def months_ending(today: date, count: int) -> list[str]:
    """The `count` calendar months up to and including today's, oldest first, as yyyy-mm."""
    year, month = today.year, today.month
    periods = []
    for _ in range(count):
        periods.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return periods[::-1]


@dataclass(frozen=True)
class MiData:
    periods: Sequence[str]
    submissions: Mapping[str, Sequence[Mapping[str, Any]]]
    timeliness: Mapping[str, Sequence[Mapping[str, Any]]]

    def submitted(self, period: str, name: str) -> int:
        return sum(int(row[name]) for row in self.submissions.get(period, ()))

    def timely(self, period: str, name: str) -> int:
        return sum(int(row[name]) for row in self.timeliness.get(period, ()))

    def rejections_by_code(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for period in self.periods:
            for row in self.submissions.get(period, ()):
                counts.update({code: int(n) for code, n in row["rejections_by_code"].items()})
        return counts


def _span(data: MiData) -> str:
    return f"{data.periods[0]} to {data.periods[-1]}" if data.periods else ""


def batches_chart(data: MiData) -> Chart:
    periods = tuple(data.periods)
    return Chart(
        "chart-batches",
        "Batches processed per month",
        f"Batches completed and failed each month, {_span(data)}.",
        periods,
        (
            Series("Completed", tuple(float(data.submitted(p, "batches_completed")) for p in periods)),
            Series("Failed", tuple(float(data.submitted(p, "batches_failed")) for p in periods)),
        ),
    )


def records_chart(data: MiData) -> Chart:
    periods = tuple(data.periods)
    return Chart(
        "chart-records",
        "Records per month",
        f"Records accepted and rejected each month, {_span(data)}.",
        periods,
        (
            Series("Accepted", tuple(float(data.submitted(p, "records_accepted")) for p in periods)),
            Series("Rejected", tuple(float(data.submitted(p, "records_rejected")) for p in periods)),
        ),
    )


def rejections_chart(data: MiData) -> Chart:
    counts = sorted(data.rejections_by_code().items(), key=lambda item: (-item[1], item[0]))
    return Chart(
        "chart-rejections",
        "Rejections by code",
        f"How many rejected records carried each code, {_span(data)}, most frequent first.",
        tuple(code for code, _ in counts),
        (Series("Records", tuple(float(n) for _, n in counts)),),
        horizontal=True,
    )


def timeliness_chart(data: MiData) -> Chart:
    periods = tuple(data.periods)
    return Chart(
        "chart-timeliness",
        f"Timeliness against {TARGET_WORKING_DAYS} working days",
        f"Batches with a results-issued date each month, and how many were on learners' records within"
        f" {TARGET_WORKING_DAYS} working days of it, {_span(data)}.",
        periods,
        (
            Series("Batches measured", tuple(float(data.timely(p, "batches_measured")) for p in periods)),
            Series(
                f"Within {TARGET_WORKING_DAYS} working days",
                tuple(float(data.timely(p, "batches_within_10_working_days")) for p in periods),
            ),
        ),
    )


CHARTS: dict[str, Callable[[MiData], Chart]] = {
    "batches": batches_chart,
    "records": records_chart,
    "rejections": rejections_chart,
    "timeliness": timeliness_chart,
}


def chart_csv(chart: Chart) -> str:
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(["Category", *(series.name for series in chart.series)])
    for category, values in table_rows(chart):
        writer.writerow([category, *(str(int(v)) if float(v).is_integer() else str(v) for v in values)])
    return text.getvalue()
