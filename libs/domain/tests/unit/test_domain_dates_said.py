"""Dates a batch gives, said alike at every door (decision 0176):

- a date written day first, as a spreadsheet set to UK dates writes one back (22/08/2024), is told how it should be
  written, for the award date (RV008) and the header's ResultsIssuedDate (RS001), never for a date of birth (which
  messages never repeat);
- a date of birth no learner can be registered with (before 1900-01-01, or after the day the batch was received) is
  RV021, as the learner registry refuses it, without repeating it; the AO's own check says the same;
- the words are one source: `lrs_contracts.text`, which API bodies' dates use too."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from libs.domain.tests.unit.domain_builders import REFERENCE, TODAY, ULN_3, codes, decide, header, record
from libs.domain.tests.unit.formats.batch_documents import HEADER, document, records

from lrs_contracts import text
from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_contracts.outcomes import RecordStatus
from lrs_domain import reference_data, rules
from lrs_domain.decision import check_batch_offline
from lrs_domain.formats import BatchRefused, parse_batch


def test_the_words_for_a_refused_date_and_the_earliest_birth_date_have_one_source() -> None:
    assert rules.why_not_a_date is text.why_not_a_date
    assert reference_data.EARLIEST_BIRTH_DATE is rules.EARLIEST_BIRTH_DATE == date(1900, 1, 1)


@pytest.mark.parametrize(
    ("written", "said"),
    [
        (
            "22/08/2024",
            "Award date '22/08/2024' is not a date written yyyy-mm-dd: write it as 2024-08-22 (22 August 2024).",
        ),
        (
            "06/07/2010",
            "Award date '06/07/2010' is not a date written yyyy-mm-dd: write it as 2010-07-06 (6 July 2010).",
        ),
        (
            "6 July 2010",
            "Award date '6 July 2010' is not a date written yyyy-mm-dd: write it as 2010-07-06 (6 July 2010).",
        ),
        ("31/02/2024", "Award date '31/02/2024' is not a date written yyyy-mm-dd."),
    ],
)
def test_an_award_date_written_day_first_is_told_how_to_write_it(written: str, said: str) -> None:
    [finding] = decide(record(award_date=written)).outcomes[0].errors
    assert (finding.code, finding.field, finding.message) == ("RV008", "award_date", said)


def test_a_date_of_birth_written_day_first_is_not_repeated_in_any_spelling() -> None:
    [finding] = decide(record(uln=ULN_3, date_of_birth="27/11/1999")).outcomes[0].errors
    assert (finding.code, finding.message) == ("RV021", "Date of birth is not a date written yyyy-mm-dd.")


@pytest.mark.parametrize("fmt", list(BatchFormat))
def test_a_results_issued_date_written_day_first_is_told_how_to_write_it(fmt: BatchFormat) -> None:
    with pytest.raises(BatchRefused) as refused:
        parse_batch(document(fmt, {**HEADER, "results_issued_date": "22/08/2024"}, records(1)), fmt)
    assert refused.value.code is BatchCode.MALFORMED
    assert (
        "ResultsIssuedDate '22/08/2024' is not a date written yyyy-mm-dd: write it as 2024-08-22 (22 August 2024)"
        in refused.value.detail
    )


BORN_TOO_SOON_OR_LATE = f"Date of birth is not a date of birth from 1900-01-01 to {TODAY.isoformat()}."


@pytest.mark.parametrize(
    "born", ["2030-01-01", (TODAY + timedelta(days=1)).isoformat(), "1899-12-31", "1066-10-14", "0001-01-01"]
)
def test_a_date_of_birth_no_learner_is_registered_with_is_rv021_without_repeating_it(born: str) -> None:
    """ULN_3 is registered without a date of birth: such a date used to "match" it and be accepted."""
    outcome = decide(record(uln=ULN_3, date_of_birth=born)).outcomes[0]

    assert outcome.status is RecordStatus.REJECTED
    [finding] = outcome.errors
    assert (finding.code, finding.field, finding.message) == ("RV021", "date_of_birth", BORN_TOO_SOON_OR_LATE)
    assert born not in finding.message


@pytest.mark.parametrize("born", ["1900-01-01", TODAY.isoformat()])
def test_a_date_of_birth_from_1900_to_the_day_the_batch_was_received_is_accepted(born: str) -> None:
    assert codes(decide(record(uln=ULN_3, date_of_birth=born))) == []


def test_a_date_of_birth_out_of_range_is_not_compared_with_the_registrys() -> None:
    """Refused, it is not a learner's date of birth: RV021 alone, not RV004 beside it for a learner born otherwise."""
    assert codes(decide(record(date_of_birth="2030-01-01"))) == ["RV021"]


def test_the_aos_own_check_says_the_same() -> None:
    """`lrs batch check`, the portal's upload check and direct entry judge with the offline check."""
    report = check_batch_offline(header(), [record(uln=ULN_3, date_of_birth="2030-01-01")], REFERENCE.catalogue, TODAY)
    [finding] = report.outcomes[0].errors
    assert (finding.code, finding.message) == ("RV021", BORN_TOO_SOON_OR_LATE)


@pytest.mark.parametrize(
    ("written", "said"),
    [
        (
            "46234",
            "Award date '46234' is not a date written yyyy-mm-dd: it looks like a date a spreadsheet turned into a"
            " number (46234 is 31 July 2026): format the column as Text and write 2026-07-31.",
        ),
        (
            "31/07/2026 00:00",
            "Award date '31/07/2026 00:00' is not a date written yyyy-mm-dd: it is a date and a time; write the date"
            " alone, 2026-07-31 (31 July 2026).",
        ),
        (
            "31-Jul-26",
            "Award date '31-Jul-26' is not a date written yyyy-mm-dd: write it as 2026-07-31 (31 July 2026).",
        ),
    ],
)
def test_an_award_date_as_a_spreadsheet_writes_it_is_told_how_to_write_it(written: str, said: str) -> None:
    [finding] = decide(record(award_date=written)).outcomes[0].errors
    assert (finding.code, finding.message) == ("RV008", said)


@pytest.mark.parametrize(
    ("written", "said"),
    [
        (
            "36491",
            "Date of birth is not a date written yyyy-mm-dd: it looks like a date a spreadsheet turned into a number:"
            " format the column as Text and write the date as yyyy-mm-dd.",
        ),
        (
            "1999-11-27 00:00:00",
            "Date of birth is not a date written yyyy-mm-dd: it is a date and a time; write the date alone.",
        ),
        ("27-Nov-99", "Date of birth is not a date written yyyy-mm-dd."),
    ],
)
def test_a_date_of_birth_as_a_spreadsheet_writes_it_is_told_so_without_its_day(written: str, said: str) -> None:
    [finding] = decide(record(uln=ULN_3, date_of_birth=written)).outcomes[0].errors
    assert (finding.code, finding.message) == ("RV021", said)


def test_a_results_issued_date_a_spreadsheet_turned_into_a_number_is_told_how_to_write_it() -> None:
    with pytest.raises(BatchRefused) as refused:
        parse_batch(document(BatchFormat.CSV, {**HEADER, "results_issued_date": "45526"}, records(1)), BatchFormat.CSV)
    assert (
        "ResultsIssuedDate '45526' is not a date written yyyy-mm-dd: it looks like a date a spreadsheet turned into a"
        " number (45526 is 22 August 2024): format the column as Text and write 2024-08-22"
    ) in refused.value.detail
