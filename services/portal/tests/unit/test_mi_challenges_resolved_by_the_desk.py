"""A challenge an LRS operator (the service desk) resolved for the AO is not the AO's answer: the MI's challenges per
month show it in a column of its own, "Resolved by the LRS service desk", not in "Resolved by the AO", and a month
whose only resolution was the desk's measures no working days (walk report "challenges", finding 3)."""

from __future__ import annotations

from services.portal.tests.unit.test_mi_withdrawn_challenges import _page

from portal.charts import table_rows
from portal.mi import CHARTS, MiData, chart_csv

DESK_ONLY, BOTH = "2026-10", "2026-11"
CHALLENGES = [
    {  # two raised: the desk rejected one for the AO, one still open; the AO resolved none
        "period": DESK_ONLY,
        "raised": 2,
        "acknowledged": 1,
        "resolved": 1,
        "still_open": 1,
        "resolutions": {"corrected": 0, "rejected": 1, "upheld": 0, "withdrawn": 0},
        "median_working_days_to_resolve": 0,
        "worst_working_days_to_resolve": 0,
        "acknowledged_by_service_desk": 1,
        "resolved_by_service_desk": 1,
    },
    {  # four raised: the AO upheld one in 3 working days, the desk corrected one, the learner withdrew one
        "period": BOTH,
        "raised": 4,
        "acknowledged": 2,
        "resolved": 3,
        "still_open": 1,
        "resolutions": {"corrected": 1, "rejected": 0, "upheld": 1, "withdrawn": 1},
        "median_working_days_to_resolve": 3,
        "worst_working_days_to_resolve": 3,
        "acknowledged_by_service_desk": 0,
        "resolved_by_service_desk": 1,
    },
]


def _data() -> MiData:
    return MiData([DESK_ONLY, BOTH], {}, {}, challenges=CHALLENGES)


def test_challenges_resolved_by_the_service_desk_have_a_column_of_their_own() -> None:
    chart = CHARTS["challenges"](_data())

    assert chart_csv(chart).splitlines() == [
        "Month,Raised,Resolved by the AO,Resolved by the LRS service desk,Withdrawn by the learner,Still open",
        "2026-10,2,0,1,0,1",
        "2026-11,4,1,1,1,1",
    ]


def test_a_month_only_the_service_desk_resolved_in_measures_no_days_of_the_aos() -> None:
    chart = CHARTS["challenge-days"](_data())

    assert table_rows(chart) == [("Oct 2026", (None, None)), ("Nov 2026", (3.0, 3.0))]


def test_a_reporting_service_that_does_not_count_the_desk_yet_counts_every_resolution_as_before() -> None:
    older = [{key: value for key, value in row.items() if not key.endswith("_by_service_desk")} for row in CHALLENGES]

    chart = CHARTS["challenges"](MiData([DESK_ONLY, BOTH], {}, {}, challenges=older))

    assert chart_csv(chart).splitlines()[1:] == ["2026-10,2,1,0,0,1", "2026-11,4,2,0,1,1"]


def test_the_mi_pages_challenges_download_has_the_desks_column() -> None:
    download = _page(CHALLENGES, "/mi/challenges.csv?months=3")

    assert download.status_code == 200
    assert download.text.splitlines()[0] == (
        "Month,Raised,Resolved by the AO,Resolved by the LRS service desk,Withdrawn by the learner,Still open"
    )
