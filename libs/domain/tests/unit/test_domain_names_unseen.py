"""A batch record's name holding what a reader cannot see, or cannot tell from one ordinary space (a no-break space
from a spreadsheet, a run of spaces, a TAB, a zero-width space, a soft hyphen, a byte order mark, a tag character):
it looks like the registered name on every screen, so a bare RV004 "do not match" sent the AO to a centre that
would confirm the details. The record rules name the character and its position with RV021 at the name, alike in
CSV, XML and JSON and in the decider and the offline check (`lrs batch check`); a name of such characters alone is
RV021 as a name the registry refuses (`has_visible_text`)."""

from __future__ import annotations

import pytest
from libs.domain.tests.unit.domain_builders import (
    AO,
    CATALOGUE,
    TODAY,
    ULN,
    UNREGISTERED_ULN,
    codes,
    decide,
    record,
)
from libs.domain.tests.unit.formats.batch_documents import HEADER, document

from lrs_contracts.batch import BatchFormat, SubmittedRecord
from lrs_contracts.outcomes import Finding, RecordStatus
from lrs_contracts.text import unseen_in_name
from lrs_domain.decision import check_batch_offline
from lrs_domain.formats import parse_batch

UNSEEN = [
    ("\u00a0", "U+00A0 (a no-break space) at character 3: write an ordinary space"),
    ("\u202f", "U+202F (a narrow no-break space) at character 3: write an ordinary space"),
    ("\u2009", "U+2009 (a thin space) at character 3: write an ordinary space"),
    ("\u3000", "U+3000 (an ideographic space) at character 3: write an ordinary space"),
    ("\u205f", "U+205F (an unusual space) at character 3: write an ordinary space"),
    ("\t", "U+0009 (a tab) at character 3: write an ordinary space"),
    ("  ", "2 spaces in a row at character 3: separate the name's words with one space"),
    ("   ", "3 spaces in a row at character 3: separate the name's words with one space"),
    ("\u00ad", "U+00AD (a soft hyphen) at character 3, which shows as nothing: delete it"),
    ("\u200b", "U+200B (a zero-width space) at character 3, which shows as nothing: delete it"),
    ("\u200c", "U+200C (a zero-width non-joiner) at character 3, which shows as nothing: delete it"),
    ("\u200d", "U+200D (a zero-width joiner) at character 3, which shows as nothing: delete it"),
    ("\u200e", "U+200E (a left-to-right mark) at character 3, which shows as nothing: delete it"),
    ("\u200f", "U+200F (a right-to-left mark) at character 3, which shows as nothing: delete it"),
    ("\u2060", "U+2060 (a word joiner) at character 3, which shows as nothing: delete it"),
    ("\ufeff", "U+FEFF (a byte order mark) at character 3, which shows as nothing: delete it"),
    ("\U000e0041", "U+E0041 (a tag character) at character 3, which shows as nothing: delete it"),
    ("\u3164", "U+3164 (a Hangul filler) at character 3, which shows as nothing: delete it"),  # printable
    ("\u034f", "U+034F (a combining grapheme joiner) at character 3, which shows as nothing: delete it"),
    ("\ufe0f", "U+FE0F (an invisible character) at character 3, which shows as nothing: delete it"),
]


def _file(fmt: BatchFormat, *records: SubmittedRecord) -> bytes:
    rows = [submitted.model_dump(exclude={"line", "personal", "learner_erased"}) for submitted in records]
    return document(fmt, {**HEADER, "awarding_organisation": AO}, rows)


def _name_findings(findings: tuple[Finding, ...]) -> list[tuple[str, str | None, str]]:
    return [(finding.code, finding.field, finding.message) for finding in findings if finding.code == "RV021"]


@pytest.mark.parametrize(("character", "said"), UNSEEN)
@pytest.mark.parametrize("fmt", list(BatchFormat))
def test_a_name_holding_an_unseen_character_or_unusual_space_is_rv021_naming_it_in_every_format(
    fmt: BatchFormat, character: str, said: str
) -> None:
    given = record(given_name=f"Li{character}ly")
    family = record(line=5, uln=UNREGISTERED_ULN, family_name=f"Mc{character}Carthy")
    parsed = parse_batch(_file(fmt, given, family), fmt)
    assert [submitted.given_name for submitted in parsed.records] == [f"Li{character}ly", "Test"]
    assert [submitted.family_name for submitted in parsed.records] == ["McCarthy", f"Mc{character}Carthy"]

    expected = [
        [("RV021", "given_name", f"Given name holds {said}.")],
        [("RV021", "family_name", f"Family name holds {said}.")],
    ]
    offline = check_batch_offline(parsed.header, parsed.records, CATALOGUE, TODAY)
    assert [_name_findings(outcome.errors) for outcome in offline.outcomes] == expected
    assert [[finding.code for finding in outcome.errors] for outcome in offline.outcomes] == [["RV021"], ["RV021"]]
    decided = decide(*parsed.records)
    assert [_name_findings(outcome.errors) for outcome in decided.outcomes] == expected
    # still compared with the registry, as a name too long is (decision 0157)
    assert codes(decided, 0) == codes(decided, 1) == ["RV004", "RV021"]
    assert all(outcome.status is RecordStatus.REJECTED for outcome in (*offline.outcomes, *decided.outcomes))
    for outcome in (*offline.outcomes, *decided.outcomes):
        assert all("Li" not in finding.message and "Carthy" not in finding.message for finding in outcome.errors)


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("\u200b", "U+200B (a zero-width space) at character 1"),
        ("\u2060\u200b", "U+2060 (a word joiner) at character 1"),
        ("\u3164", "U+3164 (a Hangul filler) at character 1"),
        ("\u2800", "U+2800 (a braille blank) at character 1"),
        ("\U000e0041\U000e0042", "U+E0041 (a tag character) at character 1"),
        ("\ufeff \u200b", "U+FEFF (a byte order mark) at character 1"),
    ],
)
@pytest.mark.parametrize("fmt", list(BatchFormat))
def test_a_name_of_invisible_characters_alone_is_rv021_as_the_registry_refuses_it(
    fmt: BatchFormat, name: str, said: str
) -> None:
    second = record(line=5, uln=UNREGISTERED_ULN, family_name=name)
    parsed = parse_batch(_file(fmt, record(given_name=name), second), fmt)
    expected = [
        [
            (
                "RV021",
                "given_name",
                f"Given name has no character a reader sees, only {said}: write the learner's name as it reads.",
            )
        ],
        [
            (
                "RV021",
                "family_name",
                f"Family name has no character a reader sees, only {said}: write the learner's name as it reads.",
            )
        ],
    ]
    offline = check_batch_offline(parsed.header, parsed.records, CATALOGUE, TODAY)
    assert [_name_findings(outcome.errors) for outcome in offline.outcomes] == expected
    decided = decide(*parsed.records)
    assert [_name_findings(outcome.errors) for outcome in decided.outcomes] == expected
    assert codes(decided, 0) == codes(decided, 1) == ["RV004", "RV021"]


@pytest.mark.parametrize(
    "name",
    [
        "Mary Ann",
        "Siân",
        "Sia\u0302n",
        "O'Neill",
        "\u0646\u0627\u062f\u064a\u0629 \u200fSmith\u200e",  # an Arabic name's marks beside Latin text (decision 0138)
        "\u0645\u06cc\u200c\u0646\u0627",  # a Persian name's zero-width non-joiner
        "\u0915\u094d\u200d\u0937",  # a Devanagari joiner
        "\u845b\U000e0100\u57ce",  # a Japanese name's ideographic variation selector
        "\u1822\u1828\u180e\u1820",  # a traditional Mongolian name's vowel separator
    ],
)
def test_a_name_written_on_purpose_is_not_refused(name: str) -> None:
    assert unseen_in_name(name) is None
    assert codes(decide(record(uln=UNREGISTERED_ULN, given_name=name, family_name=name))) == ["RV004"]


@pytest.mark.parametrize("given_name", ["\u00a0Lily", "Lily\u3000", " Lily  ", "\tLily"])
def test_spaces_of_any_kind_at_either_end_are_trimmed_and_no_fault(given_name: str) -> None:
    decided = decide(record(uln=ULN, given_name=given_name))
    assert decided.outcomes[0].errors == ()
    assert decided.outcomes[0].status is RecordStatus.ACCEPTED


def test_the_first_fault_by_position_is_named_once_per_name() -> None:
    decided = decide(record(given_name="Ma\u200bry\u00a0Ann  Lee", family_name="Mc  Carthy\u00ad"))
    assert _name_findings(decided.outcomes[0].errors) == [
        (
            "RV021",
            "given_name",
            "Given name holds U+200B (a zero-width space) at character 3, which shows as nothing: delete it.",
        ),
        (
            "RV021",
            "family_name",
            "Family name holds 2 spaces in a row at character 3: separate the name's words with one space.",
        ),
    ]


def test_a_line_break_or_bidi_control_is_named_before_an_unseen_character() -> None:
    decided = decide(record(given_name="Li\u200bly\u202e"))
    assert _name_findings(decided.outcomes[0].errors) == [
        (
            "RV021",
            "given_name",
            "Given name holds the bidirectional control U+202E at character 6 (a name is shown as it is written).",
        )
    ]
