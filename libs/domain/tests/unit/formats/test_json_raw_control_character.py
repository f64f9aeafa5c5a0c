"""A control character standing as it is inside a JSON string (not written as an escape) is refused naming it and
saying what to do, at its line and column, as a value holding one is refused in every format; the json module's
own words were cut off: "malformed JSON: Invalid control character at" (a review of the ingest door found it)."""

import pytest

from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import BatchCode
from lrs_domain.formats import BatchRefused, parse_batch

HEADER = '"header": {"awardingOrganisation": "RN5133"}'
REFUSED = "malformed JSON: a string holds the control character U+{:04X}, which cannot be stored or sent: remove it"


def _refused_at_the_mark(marked: str, control: str) -> BatchRefused:
    """The refusal of `marked` with `control` in place of its `@`, which is where it is to be said to stand."""
    before = marked[: marked.index("@")]
    with pytest.raises(BatchRefused) as refused:
        parse_batch(marked.replace("@", control).encode(), BatchFormat.JSON)
    assert (refused.value.code, refused.value.line, refused.value.column) == (
        BatchCode.MALFORMED,
        before.count("\n") + 1,
        len(before) - before.rfind("\n"),
    )
    return refused.value


@pytest.mark.parametrize("control", ["\x00", "\x01", "\x1b", "\x1f"])
def test_a_raw_control_character_in_a_value_is_named_and_to_be_removed(control: str) -> None:
    refusal = _refused_at_the_mark(f'{{{HEADER},\n "records": [{{"misIdentifier": "PE@1"}}]}}', control)

    assert refusal.detail == REFUSED.format(ord(control))


@pytest.mark.parametrize(
    ("control", "said"),
    [
        ("\t", "a tab (U+0009) as it is, which JSON does not allow: write it as \\t"),
        ("\n", "a line break (U+000A) as it is, which JSON does not allow: write it as \\n"),
        ("\r", "a line break (U+000D) as it is, which JSON does not allow: write it as \\r"),
    ],
)
def test_a_raw_tab_or_line_break_in_a_value_is_to_be_written_as_its_escape(control: str, said: str) -> None:
    refusal = _refused_at_the_mark(f'{{{HEADER}, "records": [{{"givenName": "Ann@Marie"}}]}}', control)

    assert refusal.detail == f"malformed JSON: a string holds {said}"


def test_a_raw_control_character_in_a_key_or_the_header_is_said_alike() -> None:
    in_key = _refused_at_the_mark(f'{{{HEADER}, "records": [{{"mis@Identifier": "PE1"}}]}}', "\x02")
    in_header = _refused_at_the_mark('{\n\n"header": {"awardingOrganisation": "RN@5133"}}', "\x07")

    assert (in_key.detail, in_header.detail) == (REFUSED.format(2), REFUSED.format(7))


def test_other_json_faults_keep_the_parsers_words() -> None:
    with pytest.raises(BatchRefused) as refused:
        parse_batch(b'{"header": {"awardingOrganisation": "RN5133",}}', BatchFormat.JSON)
    assert refused.value.detail.startswith("malformed JSON: Expecting")
