"""The notifier says "cannot be corrected, leave it out" under a batch email's RV004 only when a record's finding says
the learner's record was erased (onboarding walk, finding 8). It reads that from the finding's message, which
validation writes: this ties the notifier's reading to validation's words, so that a change of one is seen here."""

from __future__ import annotations

from lrs_contracts.outcomes import Finding, RecordOutcome, RecordStatus
from lrs_domain.rules import details_do_not_match
from notifier.emails import ERASED_TALLY, count_record_codes, top_rejections
from validation.personal import ERASED_LEARNER, UNREADABLE_DETAILS


def _rejected(line: int, message: str) -> RecordOutcome:
    return RecordOutcome(
        line=line, status=RecordStatus.REJECTED, errors=(Finding(code="RV004", field="uln", message=message),)
    )


def test_only_validations_erased_learner_finding_is_counted_as_erased() -> None:
    counts = count_record_codes(
        [
            _rejected(4, ERASED_LEARNER),
            _rejected(5, details_do_not_match("1000000043")),
            _rejected(6, UNREADABLE_DETAILS),
        ]
    )
    assert counts == {"RV004": 3, ERASED_TALLY: 1}
    [rv004] = top_rejections(counts)
    assert rv004.erased == 1 and rv004.note is not None and "erased" in rv004.note


def test_an_rv004_for_details_that_do_not_match_carries_no_note() -> None:
    [rv004] = top_rejections(count_record_codes([_rejected(4, details_do_not_match("1000000043"))]))
    assert rv004.note is None
