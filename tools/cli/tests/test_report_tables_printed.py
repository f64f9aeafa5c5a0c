"""`lrs reports …` prints each report's table (or says it has no rows) exactly so: the five commands share one way
of printing a table, and a change to it shows here."""

from __future__ import annotations

from typing import Any

import pytest

from lrs_cli import report_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main

MONTH = {"period": "2026-11", "target_working_days": 10}
RANGE = {"first_period": "2026-10", "last_period": "2026-11", "target_working_days": 10}
ANSWERS: dict[str, dict[str, Any]] = {
    "submissions": {
        **MONTH,
        "items": [
            {
                "ao_id": "RN9093",
                "batches_completed": 4,
                "batches_failed": 1,
                "batches_abandoned": 2,
                "records_total": 50,
                "records_accepted": 40,
                "records_rejected": 5,
                "records_unchanged": 5,
                "rejections_by_code": {"RV009": 2, "RV004": 3},
            },
            {  # an answer from before records_unchanged was reported
                "ao_id": "RN5133",
                "batches_completed": 1,
                "batches_failed": 0,
                "batches_abandoned": 0,
                "records_total": 3,
                "records_accepted": 3,
                "records_rejected": 0,
                "rejections_by_code": {},
            },
        ],
    },
    "timeliness": {
        **MONTH,
        "items": [
            {"ao_id": "RN9093", "batches_measured": 4, "batches_within_10_working_days": 3, "worst_working_days": 12},
            {"ao_id": "RN5133", "batches_measured": 0, "batches_within_10_working_days": 0, "worst_working_days": 0},
        ],
    },
    "plr-timeliness": {
        **RANGE,
        "items": [
            {
                "ao_id": "RN9093",
                "period": "2026-10",
                "batches_measured": 7,
                "batches_within_10_working_days": 6,
                "median_working_days": 2,
                "worst_working_days": 12,
            },
            {
                "ao_id": "RN9093",
                "period": "2026-11",
                "batches_measured": 1,
                "batches_within_10_working_days": 1,
                "median_working_days": 0,
                "worst_working_days": 0,
            },
        ],
    },
    "rejections": {
        **RANGE,
        "items": [
            {
                "ao_id": "RN9093",
                "period": "2026-11",
                "by_code": [
                    {"code": "RS005", "batches": 1, "records": 30},
                    {"code": "RV004", "batches": 2, "records": 7},
                ],
            },
            {"ao_id": "RN5133", "period": "2026-11", "by_code": []},
        ],
    },
    "challenges": {
        **RANGE,
        "items": [
            {
                "ao_id": "RN9093",
                "period": "2026-10",
                "raised": 4,
                "acknowledged": 3,
                "resolved": 2,
                "still_open": 2,
                "resolutions": {"corrected": 1, "upheld": 1, "rejected": 0},
                "median_working_days_to_resolve": 3,
                "worst_working_days_to_resolve": 5,
            },
            {
                "ao_id": "RN9093",
                "period": "2026-11",
                "raised": 1,
                "acknowledged": 0,
                "resolved": 0,
                "still_open": 1,
                "resolutions": {"corrected": 0, "upheld": 0, "rejected": 0},
                "median_working_days_to_resolve": 0,
                "worst_working_days_to_resolve": 0,
            },
        ],
    },
}
MONTHS_ASKED = {
    "submissions": ["--period", "2026-11"],
    "timeliness": ["--period", "2026-11"],
    "plr-timeliness": ["--from", "2026-10", "--to", "2026-11"],
    "rejections": ["--from", "2026-10", "--to", "2026-11"],
    "challenges": ["--from", "2026-10", "--to", "2026-11"],
}
# As printed to a file or a pipe (no colour, no width limit), recorded before the commands shared one way of printing.
PRINTED = {
    "submissions": (
        """\
2026-11
┏━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━┓
┃ AO     ┃ completed ┃ failed ┃ abandoned ┃ records ┃ accepted ┃ rejected ┃ unchanged ┃ not added (failed batches) ┃ rejections by code ┃
┡━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━┩
│ RN9093 │ 4         │ 1      │ 2         │ 50      │ 40       │ 5        │ 5         │ 0                          │ RV004 3, RV009 2   │
│ RN5133 │ 1         │ 0      │ 0         │ 3       │ 3        │ 0        │ 0         │                            │                    │
└────────┴───────────┴────────┴───────────┴─────────┴──────────┴──────────┴───────────┴────────────────────────────┴────────────────────┘
""",
        "no submissions in 2026-11\n",
    ),
    "timeliness": (
        """\
2026-11
┏━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━┓
┃ AO     ┃ batches ┃ within 10 working days ┃ share ┃ worst (working days) ┃
┡━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━┩
│ RN9093 │ 4       │ 3                      │ 75%   │ 12                   │
│ RN5133 │ 0       │ 0                      │       │ 0                    │
└────────┴─────────┴────────────────────────┴───────┴──────────────────────┘
""",
        "no batches measured in 2026-11\n",
    ),
    "plr-timeliness": (
        """\
2026-10 to 2026-11
┏━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━┓
┃ AO     ┃ month   ┃ batches ┃ on the PLR within 10 working days ┃ median ┃ worst ┃
┡━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━┩
│ RN9093 │ 2026-10 │ 7       │ 6                                 │ 2      │ 12    │
│ RN9093 │ 2026-11 │ 1       │ 1                                 │ 0      │ 0     │
└────────┴─────────┴─────────┴───────────────────────────────────┴────────┴───────┘
""",
        "no batches measured in 2026-10 to 2026-11\n",
    ),
    "rejections": (
        """\
2026-10 to 2026-11
┏━━━━━━━━┳━━━━━━━━━┳━━━━━━━┳━━━━━━━━━┳━━━━━━━━━┓
┃ AO     ┃ month   ┃ code  ┃ batches ┃ records ┃
┡━━━━━━━━╇━━━━━━━━━╇━━━━━━━╇━━━━━━━━━╇━━━━━━━━━┩
│ RN9093 │ 2026-11 │ RS005 │ 1       │ 30      │
│ RN9093 │ 2026-11 │ RV004 │ 2       │ 7       │
└────────┴─────────┴───────┴─────────┴─────────┘
""",
        "no rejections in 2026-10 to 2026-11\n",
    ),
    "challenges": (
        """\
2026-10 to 2026-11
┏━━━━━━━━┳━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━┓
┃ AO     ┃ month   ┃ raised ┃ acknowledged ┃ resolved ┃ still open ┃ resolutions                ┃ median ┃ worst ┃
┡━━━━━━━━╇━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━┩
│ RN9093 │ 2026-10 │ 4      │ 3            │ 2        │ 2          │ Data corrected (1)         │ 3      │ 5     │
│        │         │        │              │          │            │ Data confirmed correct (1) │        │       │
│ RN9093 │ 2026-11 │ 1      │ 0            │ 0        │ 1          │                            │ —      │ —     │
└────────┴─────────┴────────┴──────────────┴──────────┴────────────┴────────────────────────────┴────────┴───────┘
""",
        "no challenges raised in 2026-10 to 2026-11\n",
    ),
}


@pytest.mark.parametrize("name", ANSWERS)
def test_each_report_prints_its_table_and_says_when_it_has_no_rows(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    printed = []
    for answer in (ANSWERS[name], {**ANSWERS[name], "items": []}):
        monkeypatch.setattr(report_commands, "report", lambda *_, answer=answer: answer)
        assert main(["reports", name, *MONTHS_ASKED[name]]) == ExitCode.OK
        printed.append(capsys.readouterr().out)
    assert tuple(printed) == PRINTED[name]
