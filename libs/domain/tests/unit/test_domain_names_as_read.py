"""Names as a reader reads them (decision 0167, later note of 2026-12-07):

- a name is counted as a reader counts (`name_length`: the composed form's characters that are not combining marks),
  so a Yoruba, Igbo or Lithuanian letter with two marks, which has no composed form, is one character;
- RV021's "at character N" is counted so, the same for a name written composed or decomposed;
- a name holding '?' or U+FFFD, where a letter was lost when the file was saved in an encoding without it (Excel's
  "CSV (Comma delimited)" has no Welsh ŵ), is RV021 at that name, saying so, in CSV, XML and JSON, offline too;
- the door's 1,024-character limit of a value counts as a name does, so its verdict does not depend on the form;
- a name written with a typographic apostrophe or hyphen (O<U+2019>Neill) that is RV004 is told so, from the record alone
  (decision 0157), and the offline check warns of it (WV003)."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from libs.domain.tests.unit.domain_builders import (
    AO,
    CATALOGUE,
    LEARNERS,
    TODAY,
    ULN,
    ULN_3,
    UNREGISTERED_ULN,
    codes,
    decide,
    record,
    warning_codes,
)
from libs.domain.tests.unit.formats.batch_documents import HEADER, document

from lrs_contracts.batch import BatchFormat, SubmittedRecord
from lrs_contracts.outcomes import RecordStatus
from lrs_domain.decision import check_batch_offline
from lrs_domain.formats import parse_batch
from lrs_domain.formats.errors import BatchRefused
from lrs_domain.formats.values import value_fault
from lrs_domain.merges import LearnerMerges
from lrs_domain.names import name_length, typographic_in_name
from lrs_domain.reference import Learner
from lrs_domain.rules import check_name_characters, details_do_not_match, verify_learner

SAVE_AGAIN = 'save it again from the original as UTF-8 (in Excel, "CSV UTF-8 (Comma delimited)")'
YORUBA = unicodedata.normalize("NFC", "Olúwaṣẹ́gun Olúwadámilọ́lá Adéyọ̀sẹ́")  # 32 characters, 36 code points


def _nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def _file(fmt: BatchFormat, *records: SubmittedRecord) -> bytes:
    rows = [submitted.model_dump(exclude={"line", "personal", "learner_erased"}) for submitted in records]
    return document(fmt, {**HEADER, "awarding_organisation": AO}, rows)


# --- finding 2: counted as a reader counts -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "length"),
    [
        (YORUBA, 32),
        (_nfd(YORUBA), 32),
        ("Ọ̀lá", 3),
        ("Ụ̀chẹ́", 4),  # Igbo: a dotted u with a grave
        ("Jė̃", 2),  # Lithuanian
        ("Siân", 4),
        ("Sia\u0302n", 4),
        ("Lily", 4),
    ],
)
def test_a_letter_with_two_marks_counts_once(name: str, length: int) -> None:
    assert name_length(name) == length


@given(st.text(max_size=50))
def test_a_names_length_is_the_same_in_either_unicode_form(name: str) -> None:
    assert name_length(unicodedata.normalize("NFC", name)) == name_length(_nfd(name))


@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=50))
def test_an_ascii_names_length_is_its_length(name: str) -> None:
    assert name_length(name) == len(name)


def test_a_35_letter_yoruba_name_is_not_rv021_though_it_is_more_code_points_composed() -> None:
    """Three letters of two marks each beyond 32: composed, 35 letters are 41 code points, and were "41 characters
    long" before."""
    name = unicodedata.normalize("NFC", "Adéyọ̀sẹ́ " * 3 + "Ẹ́mẹ́ " + "Ọ̀")  # 8*3 + 4 + 1 + 2... counted below
    assert len(name) > 35
    reads = name_length(name)
    assert reads <= 35
    decided = decide(record(uln=UNREGISTERED_ULN, given_name=name))
    assert "RV021" not in codes(decided)
    too_long = name + "Ẹ́" * (36 - reads)
    [finding] = [
        finding for finding in decide(record(given_name=too_long)).outcomes[0].errors if finding.code == "RV021"
    ]
    assert finding.message == "Given name is 36 characters long: at most 35 are allowed."


# --- finding 4: RV021's position -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("Siân\u00a0Ŵyn", "Given name holds U+00A0 (a no-break space) at character 5: write an ordinary space."),
        (
            "Llŷr\u200d",
            "Given name holds U+200D (a zero-width joiner) at character 5, which shows as nothing: delete it.",
        ),
        ("Ẹ́mẹ́\nLily", "Given name holds a line break (U+000A) at character 4: a name is one line."),
        (
            "Siân Ŵ?n",
            f"Given name holds '?' at character 7, where a letter was lost when the file was saved: {SAVE_AGAIN}.",
        ),
    ],
)
def test_rv021_names_the_same_place_in_a_name_written_composed_or_decomposed(name: str, said: str) -> None:
    for written in (unicodedata.normalize("NFC", name), _nfd(name)):
        [finding] = check_name_characters(SubmittedRecord(line=4, given_name=written, family_name="Jones"))
        assert (finding.code, finding.field, finding.message) == ("RV021", "given_name", said)


# --- finding 1: a letter lost when the file was saved ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("Ll?r", "'?' at character 3"),
        ("?", "'?' at character 1"),
        ("Gw\ufffdr", "U+FFFD (the replacement character) at character 3"),
        ("Si?n ?yn", "'?' at character 3"),
    ],
)
@pytest.mark.parametrize("fmt", list(BatchFormat))
def test_a_name_that_lost_a_letter_is_rv021_saying_so_in_every_format_offline_and_decided(
    fmt: BatchFormat, name: str, said: str
) -> None:
    given_record = record(given_name=name)
    family_record = record(line=5, uln=UNREGISTERED_ULN, family_name=name)
    parsed = parse_batch(_file(fmt, given_record, family_record), fmt)
    why = f"{said}, where a letter was lost when the file was saved: {SAVE_AGAIN}."
    expected = [
        [("RV021", "given_name", f"Given name holds {why}")],
        [("RV021", "family_name", f"Family name holds {why}")],
    ]

    offline = check_batch_offline(parsed.header, parsed.records, CATALOGUE, TODAY)
    decided = decide(*parsed.records)

    for outcomes in (offline.outcomes, decided.outcomes):
        assert [
            [(finding.code, finding.field, finding.message) for finding in outcome.errors if finding.code == "RV021"]
            for outcome in outcomes
        ] == expected
        assert all(outcome.status is RecordStatus.REJECTED for outcome in outcomes)
    assert codes(decided, 0) == ["RV004", "RV021"]  # still compared with the registry (decision 0157)


def test_a_name_with_a_question_mark_the_sender_kept_from_an_ascii_file_is_still_refused() -> None:
    """A file of plain ASCII passes the door as UTF-8: only the rule sees the lost letter."""
    content = _file(BatchFormat.CSV, record(given_name="Ll?r", family_name="Ynys-Gw?r"))
    assert content.isascii()
    [parsed] = parse_batch(content, BatchFormat.CSV).records
    assert codes(decide(parsed)) == ["RV004", "RV021", "RV021"]


# --- finding 7: the door's limit counts as a name does ----------------------------------------------------------


@pytest.mark.parametrize("fmt", list(BatchFormat))
def test_a_long_name_is_judged_alike_composed_and_decomposed(fmt: BatchFormat) -> None:
    """600 accented letters: 600 code points composed, 1,200 decomposed; both pass the door and are RV021 alike."""
    said = []
    for name in ("â" * 600, "a\u0302" * 600):
        parsed = parse_batch(_file(fmt, record(given_name=name)), fmt)
        [finding] = [finding for finding in decide(*parsed.records).outcomes[0].errors if finding.code == "RV021"]
        said.append(finding.message)
    assert said == ["Given name is 600 characters long: at most 35 are allowed."] * 2


@pytest.mark.parametrize("fmt", list(BatchFormat))
def test_a_value_over_the_limit_is_refused_alike_composed_and_decomposed(fmt: BatchFormat) -> None:
    said = []
    for name in ("â" * 1_100, "a\u0302" * 1_100):
        with pytest.raises(BatchRefused) as refused:
            parse_batch(_file(fmt, record(given_name=name)), fmt)
        said.append(refused.value.detail)
    assert len(set(said)) == 1
    assert said[0].endswith("is 1,100 characters long; a value may have at most 1,024")


def test_value_fault_counts_as_a_reader_and_an_ascii_value_by_its_length() -> None:
    assert value_fault("a\u0302" * 1_024, in_header=False) is None
    assert value_fault("a\u0302" * 1_025, in_header=False) == "is 1,025 characters long; a value may have at most 1,024"
    assert value_fault("A" * 1_024, in_header=False) is None
    assert value_fault("A" * 1_025, in_header=False) == "is 1,025 characters long; a value may have at most 1,024"


# --- finding 5: a typographic apostrophe or hyphen ---------------------------------------------------------------

CURLY = "The family name is written with \u2019 (U+2019), not the ' on a keyboard: if the learner is registered with ', write that."


def test_rv004_for_a_curly_apostrophe_says_so() -> None:
    """Siân O'Neill is registered with the keyboard's apostrophe; the record writes O<U+2019>Neill, as Word does."""
    decided = decide(record(uln=ULN_3, given_name="Siân", family_name="O\u2019Neill"))
    [finding] = decided.outcomes[0].errors
    assert finding.code == "RV004" and finding.field == "uln"
    assert finding.message == f"{details_do_not_match(ULN_3)} {CURLY}"


def test_what_rv004_says_of_it_depends_on_the_record_alone() -> None:
    """Said alike whatever the learner is registered as (decision 0157): Lily McCarthy has no apostrophe at all."""
    decided = decide(record(uln=ULN, family_name="O\u2019Neill"))
    [finding] = decided.outcomes[0].errors
    assert finding.message == f"{details_do_not_match(ULN)} {CURLY}"
    assert finding.message.replace(ULN[-4:], "####") == details_do_not_match(ULN_3, None, "O\u2019Neill").replace(
        ULN_3[-4:], "####"
    )


@pytest.mark.parametrize(
    ("given_name", "family_name", "said"),
    [
        ("Siân", "O'Neill", ""),
        (
            "D\u2018Arcy",
            "O'Neill",
            " The given name is written with \u2018 (U+2018), not the ' on a keyboard: if the"
            " learner is registered with ', write that.",
        ),
        (
            "Siân",
            "Smith\u2010Jones",
            " The family name is written with \u2010 (U+2010), not the - on a keyboard: if"
            " the learner is registered with -, write that.",
        ),
        (
            "Siân",
            "O\u02bcNeill\u2013Byrne",
            " The family name is written with \u02bc (U+02BC) and \u2013 (U+2013), not"
            " the ' and - on a keyboard: if the learner is registered with ' and -, write those.",
        ),
        (
            "Siân",
            "O`Neill",
            " The family name is written with ` (U+0060), not the ' on a keyboard: if the learner is"
            " registered with ', write that.",
        ),
        (
            "Siân",
            "O\u00b4Neill\u2011Lee",
            " The family name is written with \u00b4 (U+00B4) and \u2011 (U+2011), not"
            " the ' and - on a keyboard: if the learner is registered with ' and -, write those.",
        ),
    ],
)
def test_rv004_names_each_typographic_character_of_each_name(given_name: str, family_name: str, said: str) -> None:
    decided = decide(record(uln=ULN_3, given_name=given_name, family_name=family_name, date_of_birth="1999-01-01"))
    if not said:  # the record matches: nothing to say
        assert decided.outcomes[0].errors == ()
        return
    [finding] = decided.outcomes[0].errors
    assert finding.message == details_do_not_match(ULN_3) + said


def test_a_learner_registered_with_the_curly_apostrophe_matches_and_the_service_warns_of_nothing() -> None:
    learners = {**LEARNERS, ULN_3: Learner(ULN_3, "Máire", "O\u2019Neill", None, 2, 1)}
    merges = LearnerMerges.of(learners.values())
    assert verify_learner(ULN_3, "Máire", "O\u2019Neill", date(2000, 1, 1), learners, merges) == (ULN_3, ())
    decided = decide(record(uln=ULN_3, given_name="Siân", family_name="O\u2019Neill"))
    assert warning_codes(decided) == []  # the service says it in RV004 only, never as a warning


def test_a_name_of_keyboard_characters_adds_nothing_to_rv004() -> None:
    decided = decide(record(family_name="O'Neill-Byrne"))
    [finding] = decided.outcomes[0].errors
    assert finding.message == details_do_not_match(ULN)
    assert typographic_in_name("The family name", "O'Neill-Byrne") is None


@pytest.mark.parametrize("fmt", list(BatchFormat))
def test_the_offline_check_warns_of_a_typographic_apostrophe_or_hyphen(fmt: BatchFormat) -> None:
    records = [
        record(uln=ULN, given_name="Lily\u2010May", family_name="McCarthy"),
        record(line=5, uln=ULN, given_name="Lily", family_name="McCarthy", award_date="2023-08-22"),
        record(line=6, uln=ULN_3, given_name="Siân", family_name="O\u2019Neill"),
    ]
    parsed = parse_batch(_file(fmt, *records), fmt)
    offline = check_batch_offline(parsed.header, parsed.records, CATALOGUE, TODAY)

    assert [outcome.status for outcome in offline.outcomes] == [RecordStatus.ACCEPTED] * 3  # a warning only
    assert [
        [(finding.code, finding.field, finding.message) for finding in outcome.warnings] for outcome in offline.outcomes
    ] == [
        [
            (
                "WV003",
                "given_name",
                "Given name is written with \u2010 (U+2010), not the - on a keyboard: if the learner is registered"
                " with -, write that, or the LRS rejects the record (RV004).",
            )
        ],
        [],
        [
            (
                "WV003",
                "family_name",
                "Family name is written with \u2019 (U+2019), not the ' on a keyboard: if the learner is registered"
                " with ', write that, or the LRS rejects the record (RV004).",
            )
        ],
    ]
    assert offline.counts.warnings == 2
