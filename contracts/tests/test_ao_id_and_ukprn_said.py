"""An AO id or a UKPRN a route takes is refused in words, not with its pattern's regular expression; an AO id in
lower case is the register's in capitals, as a batch's header reads it. The pattern stays in the JSON schema."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from lrs_contracts.identifiers import AO_ID_PATTERN, UKPRN_PATTERN, AoIdText, UkprnText

AO_ID: TypeAdapter[str] = TypeAdapter(AoIdText)
UKPRN: TypeAdapter[str] = TypeAdapter(UkprnText)


@pytest.mark.parametrize(("sent", "read"), [("RN9093", "RN9093"), ("rn9093", "RN9093"), ("Rn5133", "RN5133")])
def test_an_ao_id_is_read_in_capitals(sent: str, read: str) -> None:
    assert AO_ID.validate_python(sent) == read


@pytest.mark.parametrize(
    "sent",
    [
        "XX",
        "2026-02-30",
        "RN",
        "RN123456789",
        "RN9093 ",
        "\uff32\uff2e\uff19\uff10\uff19\uff13",
        "RN\u0669\u0660\u0669\u0663",
    ],
)
def test_anything_else_is_refused_in_words(sent: str) -> None:
    with pytest.raises(ValidationError) as refused:
        AO_ID.validate_python(sent)
    assert [error["ctx"]["error"].args[0] for error in refused.value.errors()] == [
        "an AO id is RN followed by 1 to 8 digits, e.g. RN9093"
    ]
    assert "pattern" not in str(refused.value)


@pytest.mark.parametrize("sent", ["12", "1234567", "123456789", "1234567a", "\uff11" * 8])
def test_a_ukprn_of_another_form_is_refused_in_words(sent: str) -> None:
    with pytest.raises(ValidationError) as refused:
        UKPRN.validate_python(sent)
    assert [error["ctx"]["error"].args[0] for error in refused.value.errors()] == ["a UKPRN is 8 digits"]


def test_a_ukprn_is_taken_as_it_is() -> None:
    assert UKPRN.validate_python("10000001") == "10000001"


def test_the_schema_still_gives_the_pattern() -> None:
    assert AO_ID.json_schema() == {"type": "string", "pattern": AO_ID_PATTERN}
    assert UKPRN.json_schema() == {"type": "string", "pattern": UKPRN_PATTERN}
