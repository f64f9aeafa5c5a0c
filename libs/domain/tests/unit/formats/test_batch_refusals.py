"""Every batch-level refusal, in every format, from files written by hand."""

import pytest
from libs.domain.tests.unit.formats.batch_documents import HEADER, document, first_record_line, record, records

from lrs_contracts.batch import BatchFormat, JobType
from lrs_contracts.codes import MAX_BATCH_BYTES, MAX_BATCH_RECORDS, BatchCode
from lrs_domain.formats import BatchRefused, parse_batch

ALL_FORMATS = list(BatchFormat)


def _refusal(fmt: BatchFormat, content: bytes) -> BatchRefused:
    with pytest.raises(BatchRefused) as refused:
        parse_batch(content, fmt)
    return refused.value


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize("awarding_organisation", [None, "", "   "])
def test_a_header_without_awarding_organisation_is_malformed(
    fmt: BatchFormat, awarding_organisation: str | None
) -> None:
    header = {**HEADER, "awarding_organisation": awarding_organisation}

    refusal = _refusal(fmt, document(fmt, header, records(2)))

    assert refusal.code is BatchCode.MALFORMED
    assert "AwardingOrganisation" in refusal.detail or "awardingOrganisation" in refusal.detail


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize(
    ("awarding_organisation", "read"),
    [
        ("RN5133", "RN5133"),
        ("rn5133", "RN5133"),
        ("  Rn5133 ", "RN5133"),
        ("rN9093", "RN9093"),
        # not an AO id however it is cased: left as written, for the AO check to refuse it naming what was sent
        ("rn51x3", "rn51x3"),
        ("Pearson", "Pearson"),
        ("rn123456789", "rn123456789"),
        ("\uff52\uff4e5133", "\uff52\uff4e5133"),  # full-width letters: not the register's id, left alone
    ],
)
def test_the_awarding_organisation_is_read_as_the_registers_upper_case_id(
    fmt: BatchFormat, awarding_organisation: str, read: str
) -> None:
    """`rn9093` is the AO RN9093, as the portal and `lrs credentials` read it: not "another AO's batch"."""
    batch = parse_batch(document(fmt, {**HEADER, "awarding_organisation": awarding_organisation}, records(1)), fmt)

    assert batch.header.awarding_organisation == read


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize("job_type", ["final", "FINAL", "Interim", "Provisional,Final", "P", "F"])
def test_a_job_type_other_than_provisional_or_final_is_rs004(fmt: BatchFormat, job_type: str) -> None:
    refusal = _refusal(fmt, document(fmt, {**HEADER, "job_type": job_type}, records(2)))

    assert refusal.code is BatchCode.BAD_JOB_TYPE
    assert job_type in refusal.detail


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize(
    ("job_type", "effective"),
    [("Provisional", JobType.PROVISIONAL), ("Final", JobType.FINAL), (" Final ", JobType.FINAL), ("", JobType.FINAL)],
)
def test_provisional_final_or_empty_job_types_are_read(fmt: BatchFormat, job_type: str, effective: JobType) -> None:
    batch = parse_batch(document(fmt, {**HEADER, "job_type": job_type}, records(1)), fmt)

    assert batch.header.effective_job_type is effective
    assert batch.header.job_type is (None if job_type == "" else effective)


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_an_absent_job_type_means_final(fmt: BatchFormat) -> None:
    batch = parse_batch(document(fmt, {**HEADER, "job_type": None}, records(1)), fmt)

    assert batch.header.job_type is None
    assert batch.header.effective_job_type is JobType.FINAL


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_a_file_with_a_header_and_no_records_is_rs006(fmt: BatchFormat) -> None:
    refusal = _refusal(fmt, document(fmt, HEADER, []))

    assert refusal.code is BatchCode.NO_RECORDS


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize(
    "email",
    [
        None,
        "",
        "  ",
        "results.example.org",
        "results@@example.org",
        "a@b@example.org",
        "@example.org",
        "results@example",
        "results@example.",
        "results@.org",
        "results@example..org",
        "res ults@example.org",
        "results@exa\tmple.org",
        "r" * 64 + "@" + "d" * 178 + ".example.org",
        "r" * 65 + "@example.org",
        "a..b@ao.example",
        ".ab@ao.example",
        "ab.@ao.example",
    ],
)
def test_a_missing_or_implausible_notification_email_is_rs007(fmt: BatchFormat, email: str | None) -> None:
    refusal = _refusal(fmt, document(fmt, {**HEADER, "notification_email": email}, records(1)))

    assert refusal.code is BatchCode.BAD_NOTIFICATION_EMAIL


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize(
    "email",
    [
        "a@b.co",
        "  results@example.org ",
        "first.last+tag@mail.example.ac.uk",
        "r" * 64 + "@" + "d" * 177 + ".example.org",
        "r" * 64 + "@example.org",
    ],
)
def test_a_plausible_notification_email_is_kept_trimmed(fmt: BatchFormat, email: str) -> None:
    batch = parse_batch(document(fmt, {**HEADER, "notification_email": email}, records(1)), fmt)

    assert batch.header.notification_email == email.strip()


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize(
    ("issued", "why"),
    [
        ("31/08/2026", "is not a date written yyyy-mm-dd"),
        ("next tuesday", "is not a date written yyyy-mm-dd"),
        ("2026-8-1", "is not a date written yyyy-mm-dd"),
        ("2026-08-20T09:00", "is not a date written yyyy-mm-dd"),
        ("2026-02-30", "is written yyyy-mm-dd, but the calendar has no such day"),
        (
            "2026\u201108\u201120",
            "is not a date written yyyy-mm-dd: it holds a character other than the digits 0-9 and '-'",
        ),
        ("0001-01-01", "is before 1 September 2006: no result on a PLR was issued before then"),
        ("2006-08-31", "is before 1 September 2006: no result on a PLR was issued before then"),
    ],
)
def test_a_results_issued_date_that_is_not_a_date_written_yyyy_mm_dd_or_before_any_plr_is_malformed(
    fmt: BatchFormat, issued: str, why: str
) -> None:
    refusal = _refusal(fmt, document(fmt, {**HEADER, "results_issued_date": issued}, records(1)))

    assert refusal.code is BatchCode.MALFORMED
    assert f"ResultsIssuedDate {issued!r} {why}" in refusal.detail


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize("issued", [None, "", "2024-08-22", " 2024-08-22 ", "2027-06-01", "2006-09-01"])
def test_a_results_issued_date_may_be_left_out_and_is_read_trimmed(fmt: BatchFormat, issued: str | None) -> None:
    batch = parse_batch(document(fmt, {**HEADER, "results_issued_date": issued}, records(1)), fmt)

    assert batch.header.results_issued_date == (issued.strip() or None if issued is not None else None)


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_ten_thousand_records_pass_and_ten_thousand_and_one_are_rs003(fmt: BatchFormat) -> None:
    rows = [record(number) for number in range(1, MAX_BATCH_RECORDS + 2)]

    accepted = parse_batch(document(fmt, HEADER, rows[:MAX_BATCH_RECORDS]), fmt)
    refusal = _refusal(fmt, document(fmt, HEADER, rows))

    assert len(accepted.records) == MAX_BATCH_RECORDS
    assert accepted.records[-1].mis_identifier == f"CAND-{MAX_BATCH_RECORDS:05d}"
    assert refusal.code is BatchCode.TOO_MANY_RECORDS
    assert "more than 10,000 records" in refusal.detail
    if fmt is not BatchFormat.XML:
        assert refusal.line == first_record_line(fmt) + MAX_BATCH_RECORDS


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_a_file_of_exactly_six_megabytes_is_read_and_one_byte_more_is_rs002(fmt: BatchFormat) -> None:
    content = document(fmt, HEADER, records(3))
    # trailing whitespace is insignificant in all three formats (blank lines in CSV)
    padding = b"\n" * (MAX_BATCH_BYTES - len(content))

    batch = parse_batch(content + padding, fmt)
    refusal = _refusal(fmt, content + padding + b"\n")

    assert len(content + padding) == MAX_BATCH_BYTES
    assert len(batch.records) == 3
    assert refusal.code is BatchCode.TOO_LARGE


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_size_is_judged_before_anything_else(fmt: BatchFormat) -> None:
    refusal = _refusal(fmt, b"\xff" * (MAX_BATCH_BYTES + 1))

    assert refusal.code is BatchCode.TOO_LARGE


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_faults_are_reported_in_reading_order_header_first(fmt: BatchFormat) -> None:
    everything_wrong = {**HEADER, "awarding_organisation": None, "job_type": "Interim", "notification_email": "no"}
    too_many = [record(1)] * (MAX_BATCH_RECORDS + 1)

    def code_of(header: dict[str, str | None], rows: list[dict[str, str | None]]) -> BatchCode:
        return _refusal(fmt, document(fmt, header, rows)).code

    assert code_of(everything_wrong, too_many) is BatchCode.MALFORMED
    assert code_of({**everything_wrong, "awarding_organisation": "RN5133"}, too_many) is BatchCode.BAD_JOB_TYPE
    assert code_of({**HEADER, "notification_email": "no"}, too_many) is BatchCode.BAD_NOTIFICATION_EMAIL
    assert code_of(HEADER, too_many) is BatchCode.TOO_MANY_RECORDS
    assert code_of(HEADER, []) is BatchCode.NO_RECORDS


# a structural fault in each format: an unknown field
UNKNOWN_FIELD = {
    BatchFormat.CSV: (b"CAND-00001", b"CAND-00001,extra field"),
    BatchFormat.XML: (b"<MISIdentifier>CAND-00001</MISIdentifier>", b"<Unknown>CAND-00001</Unknown>"),
    BatchFormat.JSON: (b'"misIdentifier": "CAND-00001"', b'"unknown": "CAND-00001"'),
}


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_reading_stops_at_the_record_past_the_limit(fmt: BatchFormat) -> None:
    content = document(fmt, HEADER, [record(1)] * (MAX_BATCH_RECORDS + 2))
    original, spoiled = UNKNOWN_FIELD[fmt]
    last = content.rindex(original)
    # the last record is never read, so its fault goes unseen
    content = content[:last] + spoiled + content[last + len(original) :]

    assert _refusal(fmt, content).code is BatchCode.TOO_MANY_RECORDS


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_a_structural_fault_before_the_limit_wins_over_too_many_records(fmt: BatchFormat) -> None:
    content = document(fmt, HEADER, [record(1)] * (MAX_BATCH_RECORDS + 2))
    original, spoiled = UNKNOWN_FIELD[fmt]

    refusal = _refusal(fmt, content.replace(original, spoiled, 1))

    assert refusal.code is BatchCode.MALFORMED
    # XML reports the physical line: the hand-written document has its first record on line 5
    assert refusal.line == {BatchFormat.CSV: 4, BatchFormat.XML: 5, BatchFormat.JSON: 1}[fmt]


@pytest.mark.parametrize("fmt", [BatchFormat.CSV, BatchFormat.JSON])
def test_a_file_that_is_not_utf8_is_malformed_wherever_the_byte_is(fmt: BatchFormat) -> None:
    content = document(fmt, HEADER, [record(1)] * (MAX_BATCH_RECORDS + 2))
    last = content.rindex(b"CAND-00001")

    refusal = _refusal(fmt, content[:last] + b"\xff" + content[last + 1 :])

    assert refusal.code is BatchCode.MALFORMED
    assert refusal.line is not None
    assert refusal.line > MAX_BATCH_RECORDS


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_a_refusal_after_the_header_was_read_names_the_batch_reference(fmt: BatchFormat) -> None:
    """The AO tells its refused files apart by the reference it gave them, whatever was wrong after it."""
    named = {**HEADER, "batch_reference": "JUNE-07"}
    too_many = records(MAX_BATCH_RECORDS + 1)

    assert _refusal(fmt, document(fmt, {**named, "job_type": "Interim"}, records(1))).batch_reference == "JUNE-07"
    assert _refusal(fmt, document(fmt, {**named, "notification_email": "no"}, records(1))).batch_reference == "JUNE-07"
    assert _refusal(fmt, document(fmt, named, [])).batch_reference == "JUNE-07"
    assert _refusal(fmt, document(fmt, named, too_many)).batch_reference == "JUNE-07"
    nul = [record(1, given_name="A\x00")]
    assert _refusal(fmt, document(fmt, named, nul)).batch_reference == "JUNE-07"
    assert _refusal(fmt, document(fmt, {**HEADER, "batch_reference": None}, [])).batch_reference is None
