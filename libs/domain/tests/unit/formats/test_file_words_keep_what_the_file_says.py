"""`in_file_words` says a field as a JSON file names it, but leaves what a refusal quotes from the file as the file
has it: a JSON file written with the CSV headings as keys was told "record 1 has the field 'givenName': field
names are case-sensitive, so write 'givenName'", which names no fault (a review of the portal found it)."""

import json

import pytest

from lrs_contracts.batch import BatchFormat
from lrs_domain.formats import BatchRefused, in_file_words, parse_batch

HEADER = {"awardingOrganisation": "RN5133", "notificationEmail": "results@ao.example"}
RECORD = {
    "action": "Create",
    "uln": "1000000043",
    "familyName": "McCarthy",
    "dateOfBirth": "1999-11-27",
    "qualificationNumber": "500/0002/0",
    "awardDate": "2021-06-30",
    "grade": "Distinction",
}


def _refusal_said(document: dict[str, object]) -> str:
    with pytest.raises(BatchRefused) as refused:
        parse_batch(json.dumps(document).encode(), BatchFormat.JSON)
    return in_file_words(refused.value.detail, BatchFormat.JSON)


def test_a_record_key_written_as_its_csv_heading_is_said_as_the_file_has_it() -> None:
    said = _refusal_said({"header": HEADER, "records": [{**RECORD, "GivenName": "Lily"}]})

    assert said == "record 1 has the field 'GivenName': field names are case-sensitive, so write 'givenName'"


def test_a_header_key_written_as_its_csv_heading_is_said_as_the_file_has_it() -> None:
    header = {"awardingOrganisation": "RN5133", "NotificationEmail": "results@ao.example"}
    said = _refusal_said({"header": header, "records": [RECORD]})

    assert (
        said == "header has the field 'NotificationEmail': field names are case-sensitive, so write 'notificationEmail'"
    )


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("the header has no AwardingOrganisation", "the header has no awardingOrganisation"),
        ("has the field 'GivenName'", "has the field 'GivenName'"),
        ('DateOfBirth "DateOfBirth" is no date', 'dateOfBirth "DateOfBirth" is no date'),
        ("the learner's GivenName and 'FamilyName'", "the learner's givenName and 'FamilyName'"),
    ],
)
def test_headings_in_words_are_json_keys_and_quoted_text_is_kept(text: str, said: str) -> None:
    assert in_file_words(text, BatchFormat.JSON) == said
    assert in_file_words(text, BatchFormat.CSV) == text
