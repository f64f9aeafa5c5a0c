"""A rejection says what to do next, as most already do: an unregistered ULN (RV004, whose check digit passed, so
most likely mistyped) to be checked with the centre or learner, a qualification number not in the catalogue
(RV005) to be checked."""

from __future__ import annotations

from libs.domain.tests.unit.domain_builders import UNREGISTERED_ULN, decide, record

from lrs_contracts.batch import SubmittedRecord
from lrs_contracts.outcomes import Finding


def _error(code: str, judged: SubmittedRecord) -> Finding:
    outcome = decide(judged).outcomes[0]
    return next(finding for finding in outcome.errors if finding.code == code)


def test_an_unregistered_uln_says_to_check_it_with_the_centre_or_learner() -> None:
    said = _error("RV004", record(uln=UNREGISTERED_ULN)).message

    assert said == (
        "ULN ******9390 is not registered with the Learning Records Service: check the ULN with the centre or learner."
    )


def test_a_qualification_number_not_in_the_catalogue_says_to_check_it() -> None:
    said = _error("RV005", record(qualification_number="603/1114/8")).message

    assert said == (
        "Qualification number 603/1114/8 is not in the qualification catalogue: check the qualification number; if the"
        " number is right and the qualification has left the register, ask the LRS service desk to add it."
    )


def test_an_update_of_nothing_recorded_says_what_to_check_and_that_a_new_result_is_a_create() -> None:
    said = _error("RV012", record(action="Update")).message

    assert said == (
        "There is no achievement of this learner for qualification 603/0304/9 with award date 2024-08-22 to update:"
        " check the qualification number and the award date against the achievement you sent (a result never sent"
        " before is sent as a Create)."
    )


def test_a_withdraw_of_nothing_recorded_says_what_to_check() -> None:
    said = _error("RV012", record(action="Withdraw")).message

    assert said.endswith(
        "to withdraw: check the qualification number and the award date against the achievement you sent."
    )
