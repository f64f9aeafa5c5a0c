"""An API body's date (`WrittenDate`: registration's date of birth, a centre achievement's dates) is refused in the
batch files' words (decision 0176): a day the calendar lacks is said to be written as asked, a look-alike character
is named, and pydantic's own words ("Input should be a valid date or datetime") are not said; the value is never
repeated (it may be a date of birth). A date written day first is read the UK way, only where a message may repeat it.
"""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import BaseModel, ValidationError

from lrs_contracts.text import WrittenDate, day_first_date, why_not_a_date


class _Body(BaseModel):
    date_of_birth: WrittenDate | None = None


def _refusal(value: object) -> str:
    """What the API says of the value: the validator's own words, as `lrs_platform.problems` puts them in the 422."""
    with pytest.raises(ValidationError) as refused:
        _Body.model_validate({"date_of_birth": value})
    [issue] = refused.value.errors()
    assert issue["type"] == "value_error", issue
    said = str(issue["ctx"]["error"])
    assert "valid date or datetime" not in str(refused.value)
    return said


@pytest.mark.parametrize("value", ["1900-02-29", "2023-02-29", "2024-13-01", "2024-00-10", "0000-01-01"])
def test_a_day_the_calendar_lacks_is_said_to_be_written_as_asked(value: str) -> None:
    said = _refusal(value)
    assert said == "the date is written yyyy-mm-dd, but the calendar has no such day"
    assert value not in said


def test_a_look_alike_hyphen_is_said_to_be_another_character() -> None:
    said = _refusal("2024\u201003\u201001")
    assert said == "expected a date written yyyy-mm-dd: it holds a character other than the digits 0-9 and '-'"


@pytest.mark.parametrize("value", [1717372800, "20240301", "2024-03-01T00:00:00Z", "13/05/2007", "next tuesday"])
def test_what_is_not_written_yyyy_mm_dd_is_said_so_without_repeating_it(value: object) -> None:
    said = _refusal(value)
    assert said == "expected a date written yyyy-mm-dd"


def test_a_date_written_as_asked_is_read_trimmed() -> None:
    assert _Body.model_validate({"date_of_birth": " 2024-02-29 "}).date_of_birth == date(2024, 2, 29)
    assert _Body.model_validate({"date_of_birth": None}).date_of_birth is None


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("22/08/2024", date(2024, 8, 22)),
        ("06/07/2010", date(2010, 7, 6)),
        ("1.3.2001", date(2001, 3, 1)),
        (" 22-08-2024 ", date(2024, 8, 22)),
        ("6 July 2010", date(2010, 7, 6)),
        ("6 jul 2010", date(2010, 7, 6)),
        ("22 Sept 2024", date(2024, 9, 22)),
        ("29/02/2023", None),
        ("08/22/2024", None),  # no 22nd month: not read the US way either
        ("2024/08/22", None),
        ("22/08/24", None),
        ("6 Juillet 2010", None),
        ("2024-08-22", None),
    ],
)
def test_a_date_written_day_first_is_read_as_the_uk_writes_it(text: str, day: date | None) -> None:
    assert day_first_date(text) == day


def test_a_date_written_day_first_is_told_how_to_write_it_only_when_asked() -> None:
    """A batch's award date and header date suggest the spelling; a date of birth (not repeated) does not."""
    assert why_not_a_date("22/08/2024", suggest=True) == (
        "is not a date written yyyy-mm-dd: write it as 2024-08-22 (22 August 2024)"
    )
    assert why_not_a_date("6 July 2010", suggest=True) == (
        "is not a date written yyyy-mm-dd: write it as 2010-07-06 (6 July 2010)"
    )
    assert why_not_a_date("22/08/2024") == "is not a date written yyyy-mm-dd"
    assert why_not_a_date("31/02/2024", suggest=True) == "is not a date written yyyy-mm-dd"
