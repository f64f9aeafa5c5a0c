"""The batch file templates are made for the signed-in AO (its id, one of its own qualifications with a grade of its
grade set, recent dates), so that the check passes them once the email and batch reference are filled in; an AO the
catalogue holds nothing of gets YOUR-QUALIFICATION-NUMBER, which the check names as left in. The check warns of a
ResultsIssuedDate before the records' award dates (MI would count the batch late), and says how near RS005 a batch
is when its rejections leave it a few short of failing."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest
from services.portal.tests.unit.stubbed_portal import AO_ID, form, stubbed_portal
from services.portal.tests.unit.test_batch_files_help import as_the_demo_aos, demo_template

from lrs_contracts.batch import BatchFormat, BatchHeader, SubmittedRecord
from lrs_contracts.outcomes import Finding, RecordOutcome, RecordStatus
from lrs_contracts.reference import Framework, QualificationKind
from lrs_domain.formats import parse_batch
from lrs_domain.identifiers import normalise_qan, parse_qan
from lrs_domain.reference import Catalogue, Qualification
from lrs_domain.reference_files import load_catalogue
from lrs_domain.rules import exceeds_rejection_threshold
from lrs_platform.clock import today_in_england
from portal.accounts import Role
from portal.batch_files import PLACEHOLDERS, QUALIFICATION_PLACEHOLDER, template
from portal.checking import (
    MEDIA_TYPES,
    certainly_late,
    check_upload,
    issued_before_award,
    issued_long_ago,
    more_rejections_to_fail,
    near_threshold,
)

CATALOGUE = load_catalogue()
TODAY = date(2026, 12, 7)  # a Monday
# AOs all of whose qualification numbers in the catalogue have a check character WV001 doubts
DOUBTED = {
    ao_id
    for ao_id in CATALOGUE.awarding_organisation_ids()
    if all(
        not (parsed := parse_qan(row.qualification_number)) or not parsed.check_character_matches
        for rows in CATALOGUE.rows.values()
        for row in rows
        if row.awarding_organisation_id == ao_id
    )
}
FILLED_IN = {"notification_email": "results@ao.example", "batch_reference": "DEC-1"}


def filled_in(content: bytes) -> bytes:
    """A template with the email and batch reference the AO's own: all the template asks of it before a check."""
    for attribute, value in FILLED_IN.items():
        content = content.replace(PLACEHOLDERS[attribute].encode(), value.encode())
    return content


@pytest.mark.parametrize("fmt", list(BatchFormat))
def test_every_aos_template_passes_the_check_once_its_email_and_reference_are_filled_in(fmt: BatchFormat) -> None:
    for ao_id in sorted(CATALOGUE.awarding_organisation_ids()):
        content = filled_in(template(fmt, ao_id, CATALOGUE, TODAY))

        checked = check_upload(f"batch-template.{fmt.value}", content, MEDIA_TYPES[fmt], CATALOGUE, TODAY)

        assert checked.refusal is None and checked.report is not None, (ao_id, checked.refusal)
        assert checked.ao_id == ao_id and not checked.placeholders_left
        (outcome,) = checked.report.outcomes
        assert outcome.errors == (), ao_id
        # WV001 only for an AO every one of whose numbers has a check character the rule doubts (RN9032's two)
        assert [finding.code for finding in outcome.warnings] == (["WV001"] if ao_id in DOUBTED else []), ao_id
        assert checked.issued_before_award is None and checked.near_threshold is None


def test_the_template_of_a_small_ao_is_of_its_own_qualification_with_a_grade_of_its_grade_set() -> None:
    """NCTJ Training (RN9081), whose walk found the Pearson example rejected as another AO's (RV022)."""
    parsed = parse_batch(template(BatchFormat.CSV, "RN9081", CATALOGUE, TODAY), BatchFormat.CSV, received_on=TODAY)

    (record,) = parsed.records
    assert parsed.header.awarding_organisation == "RN9081"
    (row,) = CATALOGUE.rows_for(normalise_qan(record.qualification_number or "") or "")
    assert row.awarding_organisation_id == "RN9081" and record.grade in row.grade_set
    assert record.award_date == (TODAY - timedelta(days=14)).isoformat()
    assert parsed.header.results_issued_date == (TODAY - timedelta(days=7)).isoformat()
    assert b"500/0002/0" not in template(BatchFormat.CSV, "RN9081", CATALOGUE, TODAY)


def _row(number: str, pathway: str | None, ao_id: str = "RN9900") -> Qualification:
    return Qualification(
        number, pathway, "Level 3 Diploma", ao_id, "Example AO", "Level 3", "Vocationally-Related Qualification",
        Framework.RQF, QualificationKind.QUALIFICATION, ("Pass", "Merit", "Distinction"),
    )  # fmt: skip


def test_a_qualification_of_several_pathways_is_given_one() -> None:
    catalogue = Catalogue.of([_row("60012345", "Written"), _row("60012345", "Practical")])
    content = filled_in(template(BatchFormat.JSON, "RN9900", catalogue, TODAY))

    (record,) = parse_batch(content, BatchFormat.JSON).records
    checked = check_upload("t.json", content, MEDIA_TYPES[BatchFormat.JSON], catalogue, TODAY)

    assert record.pathway == "Practical" and record.qualification_number == "600/1234/5"
    assert checked.report is not None and checked.report.outcomes[0].errors == ()


def test_an_ao_the_catalogue_holds_nothing_of_gets_the_qualification_placeholder() -> None:
    content = template(BatchFormat.CSV, "RN9900", CATALOGUE, TODAY)

    assert b",YOUR-QUALIFICATION-NUMBER," in content and b"RN9900" in content
    assert b"YOUR-QUALIFICATION-NUMBER" in template(BatchFormat.XML, None, CATALOGUE, TODAY)
    assert b"YOUR-AO-ID" in template(BatchFormat.XML, None, CATALOGUE, TODAY)


def test_the_templates_are_kept_per_ao_and_day() -> None:
    first = template(BatchFormat.XML, "RN9081", CATALOGUE, TODAY)

    assert template(BatchFormat.XML, "RN9081", CATALOGUE, TODAY) is first
    assert template(BatchFormat.XML, "RN9081", CATALOGUE, TODAY + timedelta(days=1)) != first


def _checked(content: bytes, name: str = "batch.csv", media_type: str = "text/csv") -> str:
    client, person = stubbed_portal().signed_in()
    answer = client.post("/batches/check", data=form(person), files={"batch_file": (name, content, media_type)})
    assert answer.status_code == 200, answer.text
    return html.unescape(re.sub(r"\s+", " ", answer.text))


@pytest.mark.parametrize(
    ("fmt", "named", "where"),
    [(BatchFormat.CSV, "QualificationNumber", "line 4"), (BatchFormat.JSON, "qualificationNumber", "record 1")],
)
def test_the_check_names_the_qualification_placeholder_left_in(fmt: BatchFormat, named: str, where: str) -> None:
    content = as_the_demo_aos(template(fmt, AO_ID, Catalogue(), today_in_england()))

    shown = _checked(content, f"batch.{fmt.value}", MEDIA_TYPES[fmt])

    assert 'data-placeholder-left="qualification_number"' in shown
    assert f"You left the template's placeholder qualification number in the file: the {named} of {where} is" in shown
    assert f"is {QUALIFICATION_PLACEHOLDER}. Put the number of one of your qualifications there" in shown


def test_the_help_page_shows_the_aos_own_template_and_qualification() -> None:
    client, _ = stubbed_portal().signed_in()

    shown = re.sub(r"\s+", " ", client.get("/help/batch-files").text)

    words = shown.split("data-template-words>", 1)[1].split("</p>", 1)[0]
    assert f"a batch of one record for {AO_ID}, of one of your qualifications" in words
    assert "YOUR-AO-ID" not in words and QUALIFICATION_PLACEHOLDER not in words
    assert "<code>results@your-organisation.example</code>" in words
    assert html.escape(demo_template(BatchFormat.CSV).decode(), quote=False) in client.get("/help/batch-files").text


def test_an_operator_sees_the_placeholders_to_replace() -> None:
    client, _ = stubbed_portal().signed_in(Role.OPERATOR)

    shown = re.sub(r"\s+", " ", client.get("/help/batch-files").text)

    words = shown.split("data-template-words>", 1)[1].split("</p>", 1)[0]
    assert "Replace <code>YOUR-AO-ID</code> with your awarding organisation's id" in words
    assert f"in place of <code>{QUALIFICATION_PLACEHOLDER}</code>" in words
    assert client.get("/help/batch-files/template.csv").content == template(
        BatchFormat.CSV, None, CATALOGUE, today_in_england()
    )


# ResultsIssuedDate before the award dates


def _record(line: int, award_date: str | None, action: str | None = None) -> SubmittedRecord:
    return SubmittedRecord(line=line, action=action, award_date=award_date)


def _header(issued: str | None) -> BatchHeader:
    return BatchHeader(awarding_organisation=AO_ID, notification_email="a@b.example", results_issued_date=issued)


def test_results_issued_before_the_earliest_award_date_is_found() -> None:
    records = [_record(4, "2026-12-02"), _record(5, "2026-12-01", "Update"), _record(6, "2026-12-03")]

    found = issued_before_award(_header("2024-08-22"), records, (), TODAY)

    assert found is not None and found.issued == date(2024, 8, 22) and found.earliest_award == date(2026, 12, 1)
    assert found.certainly_late


def test_results_issued_on_or_after_the_earliest_award_date_or_not_given_is_not_found() -> None:
    records = [_record(4, "2026-12-01"), _record(5, "2026-12-03")]

    assert issued_before_award(_header("2026-12-01"), records, (), TODAY) is None
    assert issued_before_award(_header("2026-12-02"), records, (), TODAY) is None
    assert issued_before_award(_header(None), records, (), TODAY) is None


def test_only_create_and_update_records_the_check_would_not_reject_count() -> None:
    rejected = RecordOutcome(
        line=4, status=RecordStatus.REJECTED, errors=(Finding(code="RV009", field="grade", message="Not a grade."),)
    )
    records = [_record(4, "2020-01-01"), _record(5, "2019-01-01", "Withdraw"), _record(6, "2026-12-01")]

    found = issued_before_award(_header("2024-08-22"), records, (rejected,), TODAY)

    assert found is not None and found.earliest_award == date(2026, 12, 1)
    assert issued_before_award(_header("2024-08-22"), records[:2], (rejected,), TODAY) is None


def test_late_is_said_for_certain_only_beyond_ten_working_days_whatever_the_bank_holidays() -> None:
    # 20 weekdays after Monday 9 November up to Monday 7 December: 10 of them could be bank holidays, so 10 working
    # days, in time; Friday 6 November is 21 weekdays before, so at least 11 working days: late
    assert not certainly_late(date(2026, 11, 9), TODAY)
    assert certainly_late(date(2026, 11, 6), TODAY)
    assert not certainly_late(TODAY, TODAY) and not certainly_late(TODAY - timedelta(days=1), TODAY)
    # across a new year, either year's bank holidays may fall between
    assert not certainly_late(date(2026, 12, 7), date(2027, 1, 4))


def _csv(issued: str, rows: list[tuple[str, str | None]]) -> bytes:
    """The demo AO's CSV template with its placeholders filled in, the header's ResultsIssuedDate `issued`, and one
    record a (award date, grade) pair, each for the template's learner (distinct award dates: distinct achievements,
    no RV020); grade None: the template's own."""
    names, values, headings, record = as_the_demo_aos(demo_template(BatchFormat.CSV)).decode().splitlines()
    values = ",".join([*values.split(",")[:-1], issued])
    fields = record.split(",")
    at = headings.split(",")
    lines = []
    own_grade = fields[at.index("Grade")]
    for award_date, grade in rows:
        fields[at.index("AwardDate")], fields[at.index("Grade")] = award_date, grade or own_grade
        lines.append(",".join(fields))
    return "\r\n".join([names, values, headings, *lines, ""]).encode()


def test_the_check_page_warns_that_mi_will_count_a_batch_issued_before_its_awards_as_late() -> None:
    today = today_in_england()
    awarded = today - timedelta(days=6)
    content = _csv("2024-08-22", [(awarded.isoformat(), None), ((awarded - timedelta(days=1)).isoformat(), None)])

    shown = _checked(content)

    assert "data-issued-before-award" in shown
    earliest = f"{(awarded - timedelta(days=1)).day} {(awarded - timedelta(days=1)):%B %Y}"
    assert (
        f"The ResultsIssuedDate in the file's header, 22 August 2024, is before the earliest award date of its"
        f" records, {earliest}: results are issued to learners once they are awarded, not before." in shown
    )
    assert "so it will count this batch as late, and sending the records again later does not undo that." in shown
    assert "Check the date, then check the file again." in shown
    assert "Submit this batch" in shown  # a warning, not a rejection


def test_a_results_issued_date_after_the_awards_is_not_warned_of() -> None:
    today = today_in_england()
    content = _csv((today - timedelta(days=2)).isoformat(), [((today - timedelta(days=9)).isoformat(), None)])

    assert "data-issued-before-award" not in _checked(content)
    assert "data-issued-long-ago" not in _checked(content)


def test_the_check_page_warns_that_a_file_of_past_years_keeping_its_issue_date_counts_late() -> None:
    content = _csv("2012-08-23", [("2012-08-16", None), ("2012-08-17", None)])

    shown = _checked(content)

    assert "data-issued-long-ago" in shown and "data-issued-before-award" not in shown
    assert (
        "The ResultsIssuedDate in the file's header, 23 August 2012, is more than 10 working days ago, so MI will"
        " count this batch as late" in shown
    )
    assert "If the file holds results of past years, leave the ResultsIssuedDate empty" in shown
    assert "Submit this batch" in shown  # a warning, not a rejection


# How near RS005 a batch is


@pytest.mark.parametrize(
    ("rejected", "total", "more"),
    [
        (3, 10, 1),  # exactly 30% passes: one more fails
        (2, 10, 2),
        (4, 10, 0),  # 40% fails already
        (0, 1, 1),
        (1, 7, 2),  # 3 of 7 (42.9%) fails, 2 of 7 (28.6%) passes
        (0, 10, 4),
        (2_999, 10_000, 2),
        (3_000, 10_000, 1),
        (3_001, 10_000, 0),
        (600, 2_003, 1),  # 601 of 2,003 is 30.005%: fails
        (0, 0, 0),
    ],
)
def test_more_rejections_to_fail_at_the_boundaries(rejected: int, total: int, more: int) -> None:
    assert more_rejections_to_fail(rejected, total) == more


def test_more_rejections_to_fail_is_the_least_that_crosses_the_threshold() -> None:
    for total in range(1, 101):
        for rejected in range(total + 1):
            more = more_rejections_to_fail(rejected, total)
            if exceeds_rejection_threshold(rejected, total):
                assert more == 0
            else:
                assert rejected + more <= total
                assert exceeds_rejection_threshold(rejected + more, total)
                assert not exceeds_rejection_threshold(rejected + more - 1, total)


@pytest.mark.parametrize(
    ("rejected", "total", "said"),
    [
        (3, 10, 1),
        (1, 7, 2),
        (20, 100, 11),  # 20% rejected: near
        (19, 100, None),  # 19%, 12 short: not near
        (25, 100, 6),
        (1, 100, None),
        (0, 10, None),  # nothing rejected: nothing to say
        (4, 10, None),  # fails: the page says so
        (2_000, 10_000, 1_001),
    ],
)
def test_a_batch_is_said_to_be_near_the_threshold_only_when_it_is(rejected: int, total: int, said: int | None) -> None:
    assert near_threshold(rejected, total) == said


def test_the_check_page_says_how_many_more_rejections_would_fail_a_batch_at_the_threshold() -> None:
    """The walk's 10 records, 3 of them with the grade PASS (RV009): exactly 30%, which passes."""
    today = today_in_england()
    rows = [((today - timedelta(days=10 + day)).isoformat(), "PASS" if day < 3 else None) for day in range(10)]

    shown = _checked(_csv((today - timedelta(days=2)).isoformat(), rows))

    assert "The check found nothing that would fail the whole batch." in shown
    assert 'data-near-threshold="1"' in shown
    assert (
        "But 3 of 10 records would already be rejected: one more rejection among the checks only the LRS can make"
        " once the batch is submitted (RV004, RV012 to RV017, below) would fail the whole batch (RS005)" in shown
    )


def test_the_check_page_counts_several_more_rejections_and_is_quiet_far_from_the_threshold() -> None:
    today = today_in_england()
    issued = (today - timedelta(days=2)).isoformat()
    seven = [((today - timedelta(days=10 + day)).isoformat(), "PASS" if day < 1 else None) for day in range(7)]
    clean: list[tuple[str, str | None]] = [((today - timedelta(days=10 + day)).isoformat(), None) for day in range(7)]

    assert "But 1 of 7 records would already be rejected: 2 more rejections among" in _checked(_csv(issued, seven))
    assert "data-near-threshold" not in _checked(_csv(issued, clean))


def test_results_issued_more_than_ten_working_days_ago_is_found_for_a_file_of_past_years() -> None:
    assert issued_long_ago(_header("2012-08-23"), TODAY) == date(2012, 8, 23)
    assert issued_long_ago(_header("2026-11-06"), TODAY) == date(2026, 11, 6)
    assert issued_long_ago(_header("2026-11-09"), TODAY) is None  # within 10 working days, whatever the holidays
    assert issued_long_ago(_header(None), TODAY) is None
