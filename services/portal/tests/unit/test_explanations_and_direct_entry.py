"""Code explanations, and a direct entry judged by the offline rules: pure, with the shipped catalogue."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from lrs_contracts.batch import JobType
from lrs_domain.formats import parse_batch
from lrs_domain.reference import Catalogue
from lrs_domain.reference_files import load_catalogue
from portal.checking import batch_file, check_record, check_upload
from portal.direct_entry import entry_batch, field_errors, read_entry
from portal.explanations import ALL_CODES, explain, missing_advice

ROOT = Path(__file__).resolve().parents[4]
TODAY = date(2026, 11, 30)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def test_every_code_in_the_contracts_is_explained_with_advice() -> None:
    assert missing_advice() == []
    assert len(ALL_CODES) == 7 + 22 + 8
    assert "30%" in explain("RS005").advice


def form(**changes: str) -> dict[str, str]:
    values = {
        "action": "Create",
        "job_type": "Final",
        "uln": "1000000043",
        "given_name": "Lily",
        "family_name": "McCarthy",
        "qualification_number": "500/0002/0",
        "award_date": "2021-06-30",
        "grade": "Distinction",
        "notification_email": "results@ao.example",
    }
    return {**values, **changes}


def test_a_good_entry_has_no_errors_and_becomes_a_one_record_json_batch(catalogue: Catalogue) -> None:
    entry = read_entry(form())
    batch = entry_batch(entry, "RN9093", "PORTAL-1")
    assert field_errors(entry, check_record(batch, catalogue, TODAY)) == {}
    parsed = parse_batch(batch_file(batch), batch.format)
    assert parsed.header.awarding_organisation == "RN9093"
    assert parsed.header.job_type is JobType.FINAL
    assert [(r.line, r.uln, r.qualification_number, r.grade) for r in parsed.records] == [
        (1, "1000000043", "500/0002/0", "Distinction")
    ]


def test_each_rejection_lands_on_its_field_in_page_order(catalogue: Catalogue) -> None:
    entry = read_entry(form(uln="1000000042", award_date="2005-01-01", grade="", notification_email="nope"))
    errors = field_errors(entry, check_record(entry_batch(entry, "RN9093", "x"), catalogue, TODAY))
    assert list(errors) == ["uln", "award_date", "grade", "notification_email"]
    assert errors["uln"].startswith("RV002")
    assert errors["award_date"].startswith("RV007")
    assert errors["grade"].startswith("RV021")


def test_a_withdraw_needs_no_grade(catalogue: Catalogue) -> None:
    entry = read_entry(form(action="Withdraw", grade=""))
    assert field_errors(entry, check_record(entry_batch(entry, "RN9093", "x"), catalogue, TODAY)) == {}


def test_an_unknown_action_is_an_error_on_the_action(catalogue: Catalogue) -> None:
    entry = read_entry(form(action="Delete"))
    assert "action" in field_errors(entry, check_record(entry_batch(entry, "RN9093", "x"), catalogue, TODAY))


def test_an_upload_check_reports_problems_by_line_and_the_refusal_of_a_bad_file(catalogue: Catalogue) -> None:
    showcase = (ROOT / "samples" / "rules-showcase.csv").read_bytes()
    checked = check_upload("rules-showcase.csv", showcase, "text/csv", catalogue, TODAY)
    assert checked.refusal is None and checked.report is not None
    assert checked.ao_id == "RN9093"
    assert any(outcome.line == 4 and outcome.errors[0].code == "RV001" for outcome in checked.problems)
    rejected_first = [bool(outcome.errors) for outcome in checked.problems]
    assert rejected_first == sorted(rejected_first, reverse=True) and False in rejected_first, "then warnings"
    for group in (True, False):
        lines = [outcome.line for outcome in checked.problems if bool(outcome.errors) is group]
        assert lines == sorted(lines)
    refused = check_upload("broken.csv", b"Not,a,batch\n", "text/csv", catalogue, TODAY)
    assert refused.refusal is not None and refused.refusal.code == "RS001"
    assert refused.would_fail
