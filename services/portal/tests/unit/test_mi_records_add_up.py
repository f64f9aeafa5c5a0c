"""The MI page's "Records per month" (results review, finding 4): it showed accepted 184 and rejected 28 of a month of
419 records, so it never added up to `lrs reports submissions`. It now shows the unchanged records and those of failed
batches that were not added, as the CLI's table does, and the four make the month's records."""

from __future__ import annotations

from portal.charts import table_rows
from portal.mi import CHARTS, NOT_ADDED, MiData, chart_csv

DECEMBER = {
    "batches_completed": 16,
    "batches_failed": 3,
    "batches_abandoned": 0,
    "records_total": 419,
    "records_accepted": 184,
    "records_rejected": 28,
    "records_unchanged": 201,
    "rejections_by_code": {"RS005": 3, "RV004": 10},
}


def test_the_records_chart_adds_up_to_the_months_records() -> None:
    chart = CHARTS["records"](MiData(["2026-12"], {"2026-12": [DECEMBER]}, {}))

    assert [series.name for series in chart.series] == ["Accepted", "Rejected", "Unchanged", NOT_ADDED]
    assert NOT_ADDED == "Not added (failed batches)"  # as the CLI heads its column
    [(month, values)] = table_rows(chart)
    assert (month, values) == ("Dec 2026", (184.0, 28.0, 201.0, 6.0))
    assert sum(value or 0.0 for value in values) == DECEMBER["records_total"]
    assert chart_csv(chart).splitlines()[1] == "2026-12,184,28,201,6"
    assert "failed batch adds nothing" in chart.description


def test_every_aos_rows_add_up_in_the_operators_view_and_an_old_row_adds_no_guess() -> None:
    other = {**DECEMBER, "records_total": 12, "records_accepted": 10, "records_rejected": 1, "records_unchanged": 0}
    before_unchanged = {name: value for name, value in DECEMBER.items() if name != "records_unchanged"}
    data = MiData(["2026-12"], {"2026-12": [DECEMBER, other, before_unchanged]}, {})

    assert data.not_added("2026-12") == 6 + 1
    assert data.unchanged("2026-12") == 201
