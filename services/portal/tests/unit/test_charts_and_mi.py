"""SVG charts and the MI built from the reporting API's rows: pure functions, no I/O."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from xml.etree import ElementTree

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import stubbed_portal

from portal.accounts import Role
from portal.charts import Chart, Series, nice_maximum, svg, table_rows
from portal.mi import CHARTS, MiData, chart_csv, months_ending

SVG = "{http://www.w3.org/2000/svg}"


def bars(markup: str) -> dict[tuple[str, str], str]:
    root = ElementTree.fromstring(markup)
    return {
        (rect.get("data-category", ""), rect.get("data-series", "")): rect.get("data-value", "")
        for rect in root.iter(f"{SVG}rect")
        if rect.get("data-value") is not None
    }


def test_every_bar_carries_its_own_number() -> None:
    chart = Chart(
        "c",
        "Records",
        "per month",
        ("2026-10", "2026-11"),
        (Series("Accepted", (3.0, 250.0)), Series("Rejected", (0.0, 7.0))),
    )
    assert bars(svg(chart)) == {
        ("2026-10", "Accepted"): "3",
        ("2026-11", "Accepted"): "250",
        ("2026-10", "Rejected"): "0",
        ("2026-11", "Rejected"): "7",
    }


def test_the_tallest_bar_reaches_the_top_of_a_round_scale() -> None:
    chart = Chart("c", "t", "d", ("a", "b"), (Series("s", (40.0, 80.0)),))
    root = ElementTree.fromstring(svg(chart))
    heights = {
        rect.get("data-category"): float(rect.get("height", "0"))
        for rect in root.iter(f"{SVG}rect")
        if rect.get("data-category")
    }
    assert heights["b"] == pytest.approx(2 * heights["a"])
    assert nice_maximum(80) == 100


@pytest.mark.parametrize(("value", "top"), [(0, 1), (1, 1), (3, 5), (7, 10), (12, 20), (21, 25), (26, 50), (101, 200)])
def test_scales_end_on_round_numbers(value: float, top: float) -> None:
    assert nice_maximum(value) == top


def test_a_chart_is_an_image_named_by_its_title_and_description() -> None:
    chart = Chart("chart-x", "Rejections <by> code", "a & b", ("RV001",), (Series("Records", (2.0,)),), horizontal=True)
    markup = str(svg(chart))
    root = ElementTree.fromstring(markup)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "chart-x-title chart-x-desc"
    assert root.find(f"{SVG}title").text == "Rejections <by> code"  # type: ignore[union-attr]
    assert "<by>" not in markup and "a &amp; b" in markup


def test_a_series_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="values"):
        Chart("c", "t", "d", ("a", "b"), (Series("s", (1.0,)),))


def test_months_end_with_this_one_and_cross_the_year() -> None:
    assert months_ending(date(2026, 2, 14), 4) == ["2025-11", "2025-12", "2026-01", "2026-02"]


def data() -> MiData:
    submissions = {
        "2026-10": [
            {
                "batches_completed": 2,
                "batches_failed": 1,
                "batches_abandoned": 1,
                "records_total": 230,  # 12 of its failed batch's records passed their checks: not added
                "records_accepted": 150,
                "records_rejected": 60,
                "records_unchanged": 8,
                "rejections_by_code": {"RV001": 40, "RV004": 20},
            }
        ],
        "2026-11": [
            {
                "batches_completed": 1,
                "batches_failed": 0,
                "batches_abandoned": 0,
                "records_total": 110,
                "records_accepted": 100,
                "records_rejected": 5,
                "records_unchanged": 5,
                "rejections_by_code": {"RV004": 5},
            }
        ],
    }
    timeliness = {"2026-11": [{"batches_measured": 1, "batches_within_10_working_days": 1, "worst_working_days": 3}]}
    plr_timeliness = [
        {
            "period": period,
            "projection_lag_bound_seconds": 300,
            "batches_measured": measured,
            "batches_within_10_working_days": within,
            "by_qualification_type": [
                {"qualification_type": name, "batches_measured": m, "batches_within_10_working_days": w}
                for name, m, w in types
            ],
        }
        for period, measured, within, types in (
            ("2026-10", 3, 2, [("GCSE (9 to 1)", 2, 2), ("Vocationally-Related Qualification", 2, 1)]),
            ("2026-11", 1, 0, [("Vocationally-Related Qualification", 1, 0)]),
        )
    ]
    rejections = [
        {"period": "2026-10", "by_code": [{"code": "RV001", "batches": 1, "records": 40}]},
        {
            "period": "2026-11",
            "by_code": [{"code": f"RV00{n}", "batches": 1, "records": n} for n in range(2, 8)]
            + [{"code": "RS005", "batches": 1, "records": 3}],
        },
    ]
    challenges = [
        {
            "period": "2026-10",
            "raised": 4,
            "resolved": 3,
            "still_open": 1,
            "median_working_days_to_resolve": 2,
            "worst_working_days_to_resolve": 9,
        }
    ]
    return MiData(["2026-10", "2026-11"], submissions, timeliness, plr_timeliness, rejections, challenges)


def test_the_charts_hold_the_reports_numbers() -> None:
    charts = {name: build(data()) for name, build in CHARTS.items()}
    assert table_rows(charts["batches"]) == [("Oct 2026", (2.0, 1.0, 1.0)), ("Nov 2026", (1.0, 0.0, 0.0))]
    # accepted, rejected, unchanged, not added (failed batches): together, every record of the month
    assert table_rows(charts["records"]) == [
        ("Oct 2026", (150.0, 60.0, 8.0, 12.0)),
        ("Nov 2026", (100.0, 5.0, 5.0, 0.0)),
    ]
    assert table_rows(charts["rejections"]) == [("RV001", (40.0,)), ("RV004", (25.0,))]
    assert table_rows(charts["timeliness"]) == [("Oct 2026", (0.0, 0.0)), ("Nov 2026", (1.0, 1.0))]


def test_rejections_month_by_month_chart_the_five_most_frequent_codes_and_the_rest_together() -> None:
    chart = CHARTS["rejections-by-month"](data())
    assert [series.name for series in chart.series] == ["RV001", "RV007", "RV006", "RV005", "RV004", "Other codes"]
    assert table_rows(chart) == [
        ("Oct 2026", (40.0, 0.0, 0.0, 0.0, 0.0, 0.0)),
        ("Nov 2026", (0.0, 7.0, 6.0, 5.0, 4.0, 3.0 + 2.0)),  # RV003 and RV002: RS005's records are no rejections
    ]


def test_timeliness_to_the_record_counts_all_types_then_each_type_over_the_months() -> None:
    chart = CHARTS["plr-timeliness"](data())
    assert table_rows(chart) == [
        ("All types", (4.0, 2.0)),
        ("Vocationally-Related Qualification", (3.0, 1.0)),
        ("GCSE (9 to 1)", (2.0, 2.0)),
    ]
    assert chart.category_label == "Qualification type"
    assert "plus up to 5 minutes" in chart.description


def test_challenges_per_month_and_the_days_they_took_to_resolve() -> None:
    assert table_rows(CHARTS["challenges"](data())) == [
        # raised, resolved by the AO, by the LRS service desk, withdrawn by the learner, still open
        ("Oct 2026", (4.0, 3.0, 0.0, 0.0, 1.0)),
        ("Nov 2026", (0.0, 0.0, 0.0, 0.0, 0.0)),
    ]
    # none raised in November, so none resolved: nothing measured, which 0 would misstate
    assert table_rows(CHARTS["challenge-days"](data())) == [("Oct 2026", (2.0, 9.0)), ("Nov 2026", (None, None))]


def test_a_long_legend_wraps_inside_the_chart() -> None:
    names = [f"A rather long series name {n}" for n in range(6)]
    chart = Chart("c", "t", "d", ("2026-10",), tuple(Series(name, (float(n),)) for n, name in enumerate(names)))
    root = ElementTree.fromstring(svg(chart))
    width, height = (float(n) for n in (root.get("viewBox") or "").split()[2:])
    keys = [rect for rect in root.iter(f"{SVG}rect") if rect.get("data-value") is None]
    assert len(keys) == 6
    assert all(float(key.get("x", "0")) + 200 < width for key in keys)
    assert all(float(key.get("y", "0")) + 12 <= height for key in keys)
    assert len({key.get("y") for key in keys}) > 1


def test_each_chart_downloads_as_the_csv_of_its_table() -> None:
    text = chart_csv(CHARTS["records"](data()))
    assert text.splitlines() == [
        "Month,Accepted,Rejected,Unchanged,Not added (failed batches)",
        "2026-10,150,60,8,12",
        "2026-11,100,5,5,0",
    ]


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_each_csv_heads_its_first_column_as_the_table_does_not_category(name: str) -> None:
    """Decision 0040: the chart, its table and its CSV show the same thing, their first column's heading too."""
    chart = CHARTS[name](data())
    heading = chart_csv(chart).splitlines()[0].split(",")[0]
    assert heading == chart.category_label
    assert heading == {"rejections": "Code", "plr-timeliness": "Qualification type"}.get(name, "Month")


def test_the_mi_pages_tables_head_their_first_column_as_their_csvs_do() -> None:
    rendered = _mi_page(_with_failed_batches().submissions["2026-11"][0])
    for name, build in CHARTS.items():
        section = rendered.split(f'data-chart="{name}"', 1)[1].split("</section>", 1)[0]
        first = re.search(r'<thead[^>]*><tr[^>]*>\s*<th scope="col" class="govuk-table__header">([^<]*)</th>', section)
        assert first is not None and first.group(1) == build(data()).category_label


def test_no_rejections_draw_an_empty_chart_that_says_so() -> None:
    empty = MiData(["2026-11"], {}, {})
    assert re.search(r"No rejections in these months", str(svg(CHARTS["rejections"](empty))))
    assert re.search(r"No batch with a results-issued date", str(svg(CHARTS["plr-timeliness"](empty))))


def _in_each_month(row: Mapping[str, object]) -> Callable[[httpx.Request], httpx.Response]:
    """Reporting's answer over the months asked (`from`, `to`): `row` in each of them, as every month's answer."""

    def answer(request: httpx.Request) -> httpx.Response:
        first, last = request.url.params["from"], request.url.params["to"]
        periods = [p for p in months_ending(date(int(last[:4]), int(last[5:]), 1), 24) if p >= first]
        return httpx.Response(200, json={"items": [{**row, "period": period} for period in periods]})

    return answer


def _with_failed_batches() -> MiData:
    failed = {
        "batches_completed": 0,
        "batches_failed": 3,
        "batches_abandoned": 0,
        "records_accepted": 0,
        "records_rejected": 9,
        "rejections_by_code": {"RS005": 3, "RV002": 9},
    }
    return MiData(["2026-11"], {"2026-11": [failed]}, {})


def test_the_rejections_csv_says_a_batch_code_counts_batches_and_a_record_code_records() -> None:
    text = chart_csv(CHARTS["rejections"](_with_failed_batches()))

    assert text.splitlines() == [
        "Code,What is counted,Number",
        "RV002,records rejected,9",
        "RS005,batches failed,3",
    ]
    assert "Records" not in text.splitlines()[0]


def test_the_rejections_chart_and_its_table_say_what_each_code_counts() -> None:
    chart = CHARTS["rejections"](_with_failed_batches())
    drawn = str(svg(chart))

    assert ">3 batches failed</text>" in drawn and ">9 records rejected</text>" in drawn
    assert "<title>RS005, batches failed: 3</title>" in drawn
    failed = _with_failed_batches().submissions["2026-11"][0]
    portal = stubbed_portal()
    client, _ = portal.signed_in(Role.AO)
    portal.on("GET", "reporting/v1/reports/submissions", _in_each_month(failed))
    portal.on("GET", "reporting/v1/reports/timeliness", lambda _: httpx.Response(200, json={"items": []}))
    for report in ("plr-timeliness", "rejections", "challenges"):
        portal.on("GET", f"reporting/v1/reports/{report}", lambda _: httpx.Response(200, json={"items": []}))
    rendered = client.get("/mi?months=3").text
    assert '<th scope="col" class="govuk-table__header">What is counted</th>' in rendered
    assert re.search(
        r"RS005 <span[^>]*>[^<]*</span></th>\s*<td class=\"govuk-table__cell\" data-counted>batches failed</td>",
        rendered,
    )


def test_a_chart_whose_categories_count_nothing_different_has_no_such_column() -> None:
    assert chart_csv(CHARTS["records"](data())).splitlines()[0] == (
        "Month,Accepted,Rejected,Unchanged,Not added (failed batches)"
    )


def _failed_month() -> MiData:
    """One month: a batch failed RS005 with 6 records, 3 of them rejected RV002 (so 3 records rejected in all)."""
    failed = {
        "batches_completed": 0,
        "batches_failed": 1,
        "batches_abandoned": 0,
        "records_accepted": 0,
        "records_rejected": 3,
        "rejections_by_code": {"RS005": 1, "RV002": 3},
    }
    by_code = [{"code": "RS005", "batches": 1, "records": 6}, {"code": "RV002", "batches": 1, "records": 3}]
    rejections = [{"period": "2026-11", "records_rejected": 3, "batches_failed": 1, "by_code": by_code}]
    return MiData(["2026-11"], {"2026-11": [failed]}, {}, rejections=rejections)


def test_the_month_by_month_rejections_count_rejected_records_only_so_no_month_adds_up_to_more_than_were_rejected() -> (
    None
):
    """Decision 0151: RS005's `records` are every record of the batches it failed; they are left out, and said so."""
    chart = CHARTS["rejections-by-month"](_failed_month())

    assert [series.name for series in chart.series] == ["RV002"]
    assert table_rows(chart) == [("Nov 2026", (3.0,))]
    assert chart_csv(chart).splitlines() == ["Month,RV002", "2026-11,3"]
    assert "RS005 fails a whole batch" in chart.footnote and "left out here" in chart.footnote


def test_the_mi_page_says_under_the_month_by_month_table_that_batch_codes_are_left_out() -> None:
    month = _failed_month()
    portal = stubbed_portal()
    client, _ = portal.signed_in(Role.AO)
    failed = month.submissions["2026-11"][0]
    portal.on("GET", "reporting/v1/reports/submissions", _in_each_month(failed))
    portal.on("GET", "reporting/v1/reports/rejections", lambda _: httpx.Response(200, json={"items": []}))
    for report in ("timeliness", "plr-timeliness", "challenges"):
        portal.on("GET", f"reporting/v1/reports/{report}", lambda _: httpx.Response(200, json={"items": []}))

    rendered = client.get("/mi?months=3").text

    section = rendered.split('data-chart="rejections-by-month"', 1)[1].split("</section>", 1)[0]
    after_table = section.split("</table>", 1)[1]
    assert '<p class="govuk-body-s" data-footnote>Record codes (RVnnn) only: a batch code such as RS005' in after_table
    assert "data-footnote" not in rendered.split('data-chart="rejections-by-month"', 1)[0]


def _mi_page(submitted: Mapping[str, object], path: str = "/mi?months=1") -> str:
    """A page of /mi, for this month only, of an AO whose submissions are `submitted` and other reports empty."""
    portal = stubbed_portal()
    client, _ = portal.signed_in(Role.AO)
    portal.on("GET", "reporting/v1/reports/submissions", _in_each_month(submitted))
    for report in ("timeliness", "plr-timeliness", "rejections", "challenges"):
        portal.on("GET", f"reporting/v1/reports/{report}", lambda _: httpx.Response(200, json={"items": []}))
    page: str = client.get(path).text
    return page


def test_one_failed_batch_and_one_rejected_record_are_counted_in_the_singular() -> None:
    one_each = {
        "batches_completed": 1,
        "batches_failed": 1,
        "batches_abandoned": 0,
        "records_accepted": 9,
        "records_rejected": 1,
        "rejections_by_code": {"RS005": 1, "RV002": 1, "RV004": 2},
    }
    chart = CHARTS["rejections"](MiData(["2026-11"], {"2026-11": [one_each]}, {}))
    drawn = str(svg(chart))

    assert ">1 batch failed</text>" in drawn and ">1 record rejected</text>" in drawn
    assert ">2 records rejected</text>" in drawn
    assert "1 batches" not in drawn and "1 records" not in drawn
    assert chart_csv(chart).splitlines() == [
        "Code,What is counted,Number",
        "RV004,records rejected,2",
        "RS005,batch failed,1",
        "RV002,record rejected,1",
    ]
    assert _mi_page(one_each, "/mi/rejections.csv?months=1") == chart_csv(chart)
    rendered = _mi_page(one_each)
    assert re.search(
        r"RS005 <span[^>]*>[^<]*</span></th>\s*<td class=\"govuk-table__cell\" data-counted>batch failed</td>", rendered
    )
    assert re.search(
        r"RV002 <span[^>]*>[^<]*</span></th>\s*<td class=\"govuk-table__cell\" data-counted>record rejected</td>",
        rendered,
    )


def test_decided_within_10_working_days_says_only_completed_batches_are_timed() -> None:
    """Reporting times a completed batch that gave a results-issued date (reporting.aggregates.fact_of), one that
    changed no record included; a failed or abandoned batch is never timed."""
    description = CHARTS["timeliness"](data()).description

    assert description.startswith("Completed batches with a results-issued date each month")
    assert "Failed and abandoned batches are not counted" in description
    assert "even one that changed no learner's record" in description


def test_on_learners_records_within_10_working_days_says_which_batches_are_counted_as_the_dashboard_does() -> None:
    description = CHARTS["plr-timeliness"](data()).description

    assert "that changed learners' records (and gave a results-issued date)" in description
    assert (
        "Batches that changed no learner's record (every record rejected or already recorded, or the batch failed)"
        " are not counted." in description
    )


def test_a_lag_of_a_minute_is_one_minute() -> None:
    rows = [{**row, "projection_lag_bound_seconds": 60} for row in data().plr_timeliness]
    chart = CHARTS["plr-timeliness"](MiData(["2026-10", "2026-11"], {}, {}, plr_timeliness=rows))
    assert "plus up to 1 minute for the record to show it" in chart.description
