"""A batch record's name holding a line break or a bidirectional control (decision 0138's one-line rule, as the
learner registry keeps it): the door lets it through, as a record value may span lines, and the record rules reject
it with RV021 at the name, naming the character and its position, alike in CSV, XML and JSON, and alike in the
decider and the offline check (`lrs batch check`, the portal's upload check)."""

from __future__ import annotations

import pytest
from libs.domain.tests.unit.domain_builders import AO, CATALOGUE, TODAY, UNREGISTERED_ULN, codes, decide, record
from libs.domain.tests.unit.formats.batch_documents import HEADER, document

from lrs_contracts.batch import BatchFormat, SubmittedRecord
from lrs_contracts.outcomes import Finding, RecordStatus
from lrs_domain.decision import check_batch_offline
from lrs_domain.formats import parse_batch

ONE_LINE_BREAKERS = [
    ("\n", "a line break (U+000A) at character 3: a name is one line"),
    ("\r", "a line break (U+000D) at character 3: a name is one line"),
    ("\r\n", "a line break (U+000D) at character 3: a name is one line"),
    ("\x85", "a line break (U+0085) at character 3: a name is one line"),
    ("\u2028", "a line break (U+2028) at character 3: a name is one line"),
    ("\u2029", "a line break (U+2029) at character 3: a name is one line"),
    ("\u202b", "the bidirectional control U+202B at character 3 (a name is shown as it is written)"),
    ("\u202d", "the bidirectional control U+202D at character 3 (a name is shown as it is written)"),
    ("\u2067", "the bidirectional control U+2067 at character 3 (a name is shown as it is written)"),
    ("\u2068", "the bidirectional control U+2068 at character 3 (a name is shown as it is written)"),
]


def _file(fmt: BatchFormat, *records: SubmittedRecord) -> bytes:
    rows = [submitted.model_dump(exclude={"line", "personal", "learner_erased"}) for submitted in records]
    written = document(fmt, {**HEADER, "awarding_organisation": AO}, rows)
    # a CR in XML text is read as LF (XML's end-of-line handling): only a reference keeps it
    return written.replace(b"\r", b"&#13;") if fmt is BatchFormat.XML else written


def _name_findings(findings: tuple[Finding, ...]) -> list[tuple[str, str | None, str]]:
    return [(finding.code, finding.field, finding.message) for finding in findings if finding.code == "RV021"]


@pytest.mark.parametrize(("character", "said"), ONE_LINE_BREAKERS)
@pytest.mark.parametrize("fmt", list(BatchFormat))
def test_a_name_that_is_not_one_line_passes_the_door_and_is_rv021_in_every_format(
    fmt: BatchFormat, character: str, said: str
) -> None:
    given = record(given_name=f"Li{character}ly", mis_identifier=f"CAND{character}4")
    family = record(line=5, uln=UNREGISTERED_ULN, family_name=f"Mc{character}Carthy")
    parsed = parse_batch(_file(fmt, given, family), fmt)
    assert [submitted.given_name for submitted in parsed.records] == [f"Li{character}ly", "Test"]
    assert [submitted.family_name for submitted in parsed.records] == ["McCarthy", f"Mc{character}Carthy"]
    assert parsed.records[0].mis_identifier == f"CAND{character}4"  # other record values may span lines

    expected = [
        [("RV021", "given_name", f"Given name holds {said}.")],
        [("RV021", "family_name", f"Family name holds {said}.")],
    ]
    offline = check_batch_offline(parsed.header, parsed.records, CATALOGUE, TODAY)
    assert [_name_findings(outcome.errors) for outcome in offline.outcomes] == expected
    assert [[finding.code for finding in outcome.errors] for outcome in offline.outcomes] == [["RV021"], ["RV021"]]
    decided = decide(*parsed.records)
    assert [_name_findings(outcome.errors) for outcome in decided.outcomes] == expected
    # no learner is registered with such a name: RV004 too, as for a name too long (decision 0157)
    assert codes(decided, 0) == codes(decided, 1) == ["RV004", "RV021"]
    assert all(outcome.status is RecordStatus.REJECTED for outcome in (*offline.outcomes, *decided.outcomes))
    for outcome in (*offline.outcomes, *decided.outcomes):
        assert all("Li" not in finding.message and "Carthy" not in finding.message for finding in outcome.errors)
