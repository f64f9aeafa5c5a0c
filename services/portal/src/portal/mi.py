"""MI for one AO as charts: submissions and records per month, rejections by code (over the months and
month by month), timeliness to the decision and to the learner's record, challenges.

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

from lrs_contracts.challenge import RESOLUTION_LABELS, ChallengeResolution
from lrs_contracts.codes import BatchCode
from portal.charts import Chart, Series, raw, table_rows

TARGET_WORKING_DAYS = 10
CODES_CHARTED = 5
OTHER_CODES = "Other codes"
ALL_TYPES = "All types"
MONTH = "Month"  # a chart's category label when its categories are months (charts.Chart's default)
BATCH_CODES = frozenset(code.value for code in BatchCode)
WITHDRAWN = ChallengeResolution.WITHDRAWN.value
WITHDRAWN_LABEL = RESOLUTION_LABELS[ChallengeResolution.WITHDRAWN]  # "Withdrawn by the learner"
RESOLVED_BY_THE_AO = "Resolved by the AO"
RESOLVED_BY_THE_DESK = "Resolved by the LRS service desk"
NOT_ADDED = "Not added (failed batches)"  # as `lrs reports submissions` heads its column


def months_ending(today: date, count: int) -> list[str]:
    """The `count` calendar months up to and including today's, oldest first, as yyyy-mm."""
    year, month = today.year, today.month
    periods = []
    for _ in range(count):
        periods.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return periods[::-1]


_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def month_label(period: str) -> str:
    """A month (yyyy-mm) as people read it in a chart, its table and a description: "Jul 2026"."""
    year, month = period.split("-")
    return f"{_MONTH_NAMES[int(month) - 1]} {year}"


def period_of(label: str) -> str:
    """The month a `month_label` names, as yyyy-mm: what a CSV download gives, for the programs that read it."""
    name, year = label.split(" ")
    return f"{year}-{_MONTH_NAMES.index(name) + 1:02d}"


@dataclass(frozen=True)
class MiData:
    periods: Sequence[str]
    submissions: Mapping[str, Sequence[Mapping[str, Any]]]
    timeliness: Mapping[str, Sequence[Mapping[str, Any]]]
    plr_timeliness: Sequence[Mapping[str, Any]] = ()
    rejections: Sequence[Mapping[str, Any]] = ()
    challenges: Sequence[Mapping[str, Any]] = ()
    partial: bool = False
    """The reporting service said its figures are partial (`complete` false): its store is being rebuilt and has not
    read all the history again yet (decision 0161), or it holds messages in its dead letters (`held_in_dead_letters`)."""
    held_in_dead_letters: int = 0
    """How many messages of the reports' topics reporting holds in its dead letters (the most any report said): the
    figures may be short of them until an operator retries or skips them."""

    def submitted(self, period: str, name: str) -> int:
        return sum(int(row[name]) for row in self.submissions.get(period, ()))

    def unchanged(self, period: str) -> int:
        """The month's records that changed nothing: the learner's record already held them as sent (0 from a
        reporting service that does not count them)."""
        return sum(int(row.get("records_unchanged", 0)) for row in self.submissions.get(period, ()))

    def not_added(self, period: str) -> int:
        """The month's records of failed batches that were not rejected: they passed their checks, but a failed batch
        (RS005) adds nothing. As the reporting service gives them (`records_not_added`)."""
        return sum(_not_added(row) for row in self.submissions.get(period, ()))

    def timely(self, period: str, name: str) -> int:
        return sum(int(row[name]) for row in self.timeliness.get(period, ()))

    def rejections_by_code(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for period in self.periods:
            for row in self.submissions.get(period, ()):
                counts.update({code: int(n) for code, n in row["rejections_by_code"].items()})
        return counts

    def code_records(self, period: str) -> Counter[str]:
        """Rejected records per record code (RVnnn). A batch code's `records` are every record of the batches it
        failed, rejected or not, so batch codes are left out (decision 0151)."""
        counts: Counter[str] = Counter()
        for row in self.rejections:
            if row["period"] == period:
                counts.update(
                    {part["code"]: int(part["records"]) for part in row["by_code"] if part["code"] not in BATCH_CODES}
                )
        return counts

    def challenged(self, period: str, name: str) -> int:
        return sum(int(row[name]) for row in self.challenges if row["period"] == period)

    def withdrawn(self, period: str) -> int:
        """The month's challenges their learners withdrew (decision 0194): resolved, but not by the AO."""
        return sum(
            int(row.get("resolutions", {}).get(WITHDRAWN, 0)) for row in self.challenges if row["period"] == period
        )

    def resolved_by_the_desk(self, period: str) -> int:
        """The month's challenges an LRS operator resolved for the AO (reporting's `resolved_by_service_desk`; none
        from a reporting service that does not count them yet): resolved, but not by the AO either."""
        return sum(int(row.get("resolved_by_service_desk", 0)) for row in self.challenges if row["period"] == period)

    def resolved_by_the_ao(self, period: str) -> int:
        return self.challenged(period, "resolved") - self.withdrawn(period) - self.resolved_by_the_desk(period)

    def challenge_days(self, period: str, name: str) -> int | None:
        """An AO's MI has one row a month; the largest is the honest figure if ever there were more. None when the AO
        resolved none of the month's challenges: the report's 0 then measures nothing (those the learner withdrew
        are not in the days)."""
        if not self.resolved_by_the_ao(period):
            return None
        return max((int(row[name]) for row in self.challenges if row["period"] == period), default=0)

    def lag_bound_seconds(self) -> int | None:
        return max((int(row["projection_lag_bound_seconds"]) for row in self.plr_timeliness), default=None)

    def months(self) -> tuple[str, ...]:
        """The months as a chart's categories: what people read (`month_label`)."""
        return tuple(month_label(period) for period in self.periods)


def _not_added(row: Mapping[str, Any]) -> int:
    """A row's `records_not_added`; from a reporting service that does not give it yet, the rest of `records_total`
    beside the accepted, rejected and unchanged ones, as it works it out; 0 from one that does not count the unchanged
    ones either (the rest would count them too)."""
    if "records_not_added" in row:
        return int(row["records_not_added"])
    if "records_total" not in row or "records_unchanged" not in row:
        return 0
    told = ("records_accepted", "records_rejected", "records_unchanged")
    return int(row["records_total"]) - sum(int(row[name]) for name in told)


def _span(data: MiData) -> str:
    return f"{month_label(data.periods[0])} to {month_label(data.periods[-1])}" if data.periods else ""


def batches_chart(data: MiData) -> Chart:
    periods = tuple(data.periods)
    return Chart(
        "chart-batches",
        "Batches processed per month",
        f"Batches completed, failed and abandoned each month, {_span(data)}.",
        data.months(),
        (
            Series("Completed", tuple(float(data.submitted(p, "batches_completed")) for p in periods)),
            Series("Failed", tuple(float(data.submitted(p, "batches_failed")) for p in periods)),
            Series("Abandoned", tuple(float(data.submitted(p, "batches_abandoned")) for p in periods)),
        ),
    )


def records_chart(data: MiData) -> Chart:
    periods = tuple(data.periods)
    return Chart(
        "chart-records",
        "Records per month",
        f"Records of the batches decided each month, {_span(data)}. Accepted, rejected, unchanged (the learner's"
        " record already held them as sent) and not added (records of failed batches that passed their checks: a"
        " failed batch adds nothing) together are every record of the month's completed and failed batches.",
        data.months(),
        (
            Series("Accepted", tuple(float(data.submitted(p, "records_accepted")) for p in periods)),
            Series("Rejected", tuple(float(data.submitted(p, "records_rejected")) for p in periods)),
            Series("Unchanged", tuple(float(data.unchanged(p)) for p in periods)),
            Series(NOT_ADDED, tuple(float(data.not_added(p)) for p in periods)),
        ),
    )


def rejections_chart(data: MiData) -> Chart:
    counts = sorted(data.rejections_by_code().items(), key=lambda item: (-item[1], item[0]))
    return Chart(
        "chart-rejections",
        "Rejections by code",
        f"How many rejected records carried each record code (RVnnn) and how many whole batches each batch code"
        f" (RSnnn) failed, {_span(data)}, most frequent first: a batch code counts batches, not records.",
        tuple(code for code, _ in counts),
        (Series("Number", tuple(float(n) for _, n in counts)),),
        horizontal=True,
        category_label="Code",
        empty="No rejections in these months",
        category_notes=tuple(_counted(code, n) for code, n in counts),
        notes_label="What is counted",
    )


def _counted(code: str, number: int) -> str:
    if code in BATCH_CODES:
        return "batch failed" if number == 1 else "batches failed"
    return "record rejected" if number == 1 else "records rejected"


MONTHLY_CODES_FOOTNOTE = (
    "Record codes (RVnnn) only: a batch code such as RS005 fails a whole batch, whose records are not all rejected"
    " records, so it is left out here. “Batches processed per month” says how many batches failed each month;"
    " “Rejections by code” says which batch codes failed them."
)


def rejections_by_month_chart(data: MiData) -> Chart:
    periods = tuple(data.periods)
    per_month = {period: data.code_records(period) for period in periods}
    totals: Counter[str] = sum(per_month.values(), Counter())
    charted = [code for code, _ in sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:CODES_CHARTED]]
    series = [Series(code, tuple(float(per_month[p][code]) for p in periods)) for code in charted]
    if len(totals) > len(charted):
        others = tuple(float(sum(n for code, n in per_month[p].items() if code not in charted)) for p in periods)
        series.append(Series(OTHER_CODES, others))
    return Chart(
        "chart-rejections-by-month",
        "Rejections by code, month by month",
        f"Records rejected with each of the {CODES_CHARTED} most frequent record codes (RVnnn) each month,"
        f" {_span(data)}, the rest together as other codes. A record with two codes counts under both.",
        data.months(),
        tuple(series),
        footnote=MONTHLY_CODES_FOOTNOTE,
    )


def timeliness_chart(data: MiData) -> Chart:
    periods = tuple(data.periods)
    return Chart(
        "chart-timeliness",
        f"Decided within {TARGET_WORKING_DAYS} working days",
        f"Completed batches with a results-issued date each month, and how many were decided within"
        f" {TARGET_WORKING_DAYS} working days of it, {_span(data)}. Failed and abandoned batches are not counted;"
        " a completed batch is, even one that changed no learner's record (each of its records rejected or"
        " already recorded). Results reach learners' records after the decision: see the next chart.",
        data.months(),
        (
            Series("Batches measured", tuple(float(data.timely(p, "batches_measured")) for p in periods)),
            Series(
                f"Within {TARGET_WORKING_DAYS} working days",
                tuple(float(data.timely(p, "batches_within_10_working_days")) for p in periods),
            ),
        ),
    )


def _lag_note(data: MiData) -> str:
    seconds = data.lag_bound_seconds()
    if seconds is None:
        return ""
    minutes = -(-seconds // 60)
    return (
        " A result counts as on the record from when the LRS recorded it, plus up to"
        f" {minutes} minute{'' if minutes == 1 else 's'} for the record to show it."
    )


def plr_timeliness_chart(data: MiData) -> Chart:
    measured: Counter[str] = Counter()
    within: Counter[str] = Counter()
    for row in data.plr_timeliness:
        measured[ALL_TYPES] += int(row["batches_measured"])
        within[ALL_TYPES] += int(row["batches_within_10_working_days"])
        for part in row["by_qualification_type"]:
            measured[part["qualification_type"]] += int(part["batches_measured"])
            within[part["qualification_type"]] += int(part["batches_within_10_working_days"])
    types = [name for name in measured if name != ALL_TYPES]
    categories = ((ALL_TYPES,) if measured else ()) + tuple(sorted(types, key=lambda name: (-measured[name], name)))
    return Chart(
        "chart-plr-timeliness",
        f"On learners' records within {TARGET_WORKING_DAYS} working days",
        f"Batches decided {_span(data)} that changed learners' records (and gave a results-issued date), and how"
        f" many had their results on them within {TARGET_WORKING_DAYS} working days of it, by qualification type;"
        " a batch counts once under each type it carried. Batches that changed no learner's record (every record"
        f" rejected or already recorded, or the batch failed) are not counted.{_lag_note(data)}",
        categories,
        (
            Series("Batches measured", tuple(float(measured[name]) for name in categories)),
            Series(f"Within {TARGET_WORKING_DAYS} working days", tuple(float(within[name]) for name in categories)),
        ),
        horizontal=True,
        category_label="Qualification type",
        empty="No batch with a results-issued date reached learners' records in these months",
    )


def challenges_chart(data: MiData) -> Chart:
    periods = tuple(data.periods)
    return Chart(
        "chart-challenges",
        "Challenges per month",
        f"Challenges raised each month, {_span(data)}, and how many of them the AO resolved, how many the LRS service"
        " desk resolved for the AO, how many the learner withdrew and how many are still open.",
        data.months(),
        (
            Series("Raised", tuple(float(data.challenged(p, "raised")) for p in periods)),
            Series(RESOLVED_BY_THE_AO, tuple(float(data.resolved_by_the_ao(p)) for p in periods)),
            Series(RESOLVED_BY_THE_DESK, tuple(float(data.resolved_by_the_desk(p)) for p in periods)),
            Series(WITHDRAWN_LABEL, tuple(float(data.withdrawn(p)) for p in periods)),
            Series("Still open", tuple(float(data.challenged(p, "still_open")) for p in periods)),
        ),
    )


def _days(data: MiData, period: str, name: str) -> float | None:
    days = data.challenge_days(period, name)
    return None if days is None else float(days)


def challenge_days_chart(data: MiData) -> Chart:
    periods = tuple(data.periods)
    return Chart(
        "chart-challenge-days",
        "Working days to resolve a challenge",
        f"Of the challenges raised each month, {_span(data)}, those the AO resolved so far: the median and the"
        " slowest number of working days from raised to resolved. A challenge the learner withdrew, or the LRS service"
        " desk resolved for the AO, is not counted;"
        " — when the AO resolved none.",
        data.months(),
        (
            Series("Median", tuple(_days(data, p, "median_working_days_to_resolve") for p in periods)),
            Series("Slowest", tuple(_days(data, p, "worst_working_days_to_resolve") for p in periods)),
        ),
        unit=" working days",
        not_measured="none resolved by the AO",
    )


CHARTS: dict[str, Callable[[MiData], Chart]] = {
    "batches": batches_chart,
    "records": records_chart,
    "rejections": rejections_chart,
    "rejections-by-month": rejections_by_month_chart,
    "timeliness": timeliness_chart,
    "plr-timeliness": plr_timeliness_chart,
    "challenges": challenges_chart,
    "challenge-days": challenge_days_chart,
}


def chart_csv(chart: Chart) -> str:
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    notes = [chart.notes_label] if chart.notes_label else []
    writer.writerow([chart.category_label, *notes, *(series.name for series in chart.series)])
    for index, (category, values) in enumerate(table_rows(chart)):
        noted = [chart.note(index)] if chart.notes_label else []
        if chart.category_label == MONTH:
            category = period_of(category)  # yyyy-mm: a month as programs read it
        writer.writerow([category, *noted, *(raw(v) for v in values)])  # nothing measured: an empty cell
    return text.getvalue()
