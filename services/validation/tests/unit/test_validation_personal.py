"""Opening a record's sealed details: what counts as the four fields, whatever the sealed object holds."""

from __future__ import annotations

import secrets

import orjson
import pytest

from lrs_contracts.batch import SubmittedRecord
from lrs_platform.keyring import PERSONAL_FIELDS, LearnerKey, Purpose, sealed_personal
from validation.personal import UNREADABLE_DETAILS, open_personal

ULN = "9000000043"
KEY = LearnerKey(ULN, secrets.token_bytes(32))
CLEAR = {"given_name": "Ada", "family_name": "Lovelace", "date_of_birth": "2001-02-03", "gender": "2"}


def _record(personal: str) -> SubmittedRecord:
    return SubmittedRecord(line=1, action="Create", uln=ULN, personal=personal, **dict.fromkeys(PERSONAL_FIELDS))


def test_the_four_fields_as_ingest_seals_them_come_out_in_clear() -> None:
    record = _record(sealed_personal(KEY, Purpose.SUBMITTED_RECORD, CLEAR))
    opened = open_personal([record], {ULN: KEY})
    assert opened.unverifiable == {}
    assert opened.records == (record.model_copy(update={**CLEAR, "personal": None}),)


@pytest.mark.parametrize(
    ("sealed_object", "details"),
    [
        ({"given_name": "Ada", "family_name": "Lovelace"}, {"given_name": "Ada", "family_name": "Lovelace"}),
        ({**CLEAR, "uln": "1000000000", "note": "x"}, CLEAR),
    ],
)
def test_missing_fields_open_as_none_and_other_names_are_ignored(
    sealed_object: dict[str, str], details: dict[str, str]
) -> None:
    record = _record(KEY.seal(Purpose.SUBMITTED_RECORD, orjson.dumps(sealed_object)))
    opened = open_personal([record], {ULN: KEY})
    assert opened.unverifiable == {}
    assert opened.records == (
        record.model_copy(update={**dict.fromkeys(PERSONAL_FIELDS), **details, "personal": None}),
    )


@pytest.mark.parametrize(
    "sealed_value", [{**CLEAR, "gender": 2}, {**CLEAR, "uln": None, "given_name": ["Ada"]}, ["Ada"]]
)
def test_details_that_are_not_text_cannot_be_read(sealed_value: object) -> None:
    record = _record(KEY.seal(Purpose.SUBMITTED_RECORD, orjson.dumps(sealed_value)))
    opened = open_personal([record], {ULN: KEY})
    assert opened.unverifiable == {0: UNREADABLE_DETAILS}
    assert all(getattr(opened.records[0], name) is None for name in (*PERSONAL_FIELDS, "personal"))
