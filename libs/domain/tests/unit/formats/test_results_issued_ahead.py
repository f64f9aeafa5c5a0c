"""A ResultsIssuedDate more than a year (366 days) after the day the file is received is a slip of the year, refused
at the door with RS001 in every format (decision 0133): timeliness MI could not count it, and would leave the batch
out unseen. Loading results ahead of results day, up to a year, stays accepted."""

from datetime import date, timedelta

import pytest
from libs.domain.tests.unit.formats.batch_documents import HEADER, document, records

from lrs_contracts.batch import LATEST_RESULTS_ISSUED_AHEAD, BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_domain.formats import BatchRefused, parse_batch

RECEIVED_ON = date(2026, 12, 6)
ALL_FORMATS = list(BatchFormat)


def _file(fmt: BatchFormat, issued: str) -> bytes:
    return document(fmt, {**HEADER, "results_issued_date": issued}, records(2))


def test_the_span_is_a_year_of_366_days() -> None:
    assert timedelta(days=366) == LATEST_RESULTS_ISSUED_AHEAD


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize("issued", ["2026-12-06", "2027-08-22", "2027-12-07"])
def test_a_date_up_to_366_days_ahead_is_accepted(fmt: BatchFormat, issued: str) -> None:
    batch = parse_batch(_file(fmt, issued), fmt, received_on=RECEIVED_ON)

    assert batch.header.results_issued_date == issued


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize("issued", ["2027-12-08", "2062-08-22", "9999-12-31"])
def test_a_date_more_than_366_days_ahead_is_rs001_saying_to_check_the_year(fmt: BatchFormat, issued: str) -> None:
    with pytest.raises(BatchRefused) as refused:
        parse_batch(_file(fmt, issued), fmt, received_on=RECEIVED_ON)

    assert (refused.value.code, refused.value.line, refused.value.detail) == (
        BatchCode.MALFORMED,
        None,
        f"ResultsIssuedDate '{issued}' is more than a year ahead: check the year (it may be 2027-12-07 at the latest)",
    )
    assert refused.value.batch_reference == HEADER["batch_reference"]


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_the_header_is_refused_before_any_record_is_read(fmt: BatchFormat) -> None:
    faulty = document(fmt, {**HEADER, "results_issued_date": "2062-08-22"}, [{"uln": "1"}] * 10_001)  # RS003 else

    with pytest.raises(BatchRefused) as refused:
        parse_batch(faulty, fmt, received_on=RECEIVED_ON)

    assert refused.value.code is BatchCode.MALFORMED and "more than a year ahead" in refused.value.detail


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_a_reader_that_judges_no_day_leaves_the_year_unchecked(fmt: BatchFormat) -> None:
    # the pure core reads no clock: ingest gives the day received, `lrs batch check` and the portal's check today
    assert parse_batch(_file(fmt, "2062-08-22"), fmt).header.results_issued_date == "2062-08-22"
