"""An AO withdraws or reinstates its own achievement whatever the register now says of its qualification (0198)."""

from __future__ import annotations

import pytest
from libs.domain.tests.unit.domain_builders import (
    AO,
    CATALOGUE,
    OTHER_AOS_QUALIFICATION,
    TODAY,
    TWO_PATHWAYS,
    codes,
    decide,
    header,
    record,
    state,
)

from lrs_contracts.plr import AchievementReinstated, AchievementWithdrawn
from lrs_domain.decision import check_batch_offline

GONE_FROM_THE_REGISTER = "60099991"  # well formed, in no catalogue of these tests


@pytest.mark.parametrize("qualification_number", [GONE_FROM_THE_REGISTER, OTHER_AOS_QUALIFICATION])
def test_a_held_achievement_is_withdrawn_after_its_qualification_left_the_register_or_moved(
    qualification_number: str,
) -> None:
    held = state(qualification_number=qualification_number)
    decision = decide(record(action="Withdraw", qualification_number=qualification_number, grade=None), existing=[held])
    assert codes(decision) == []
    assert isinstance(decision.events[0], AchievementWithdrawn)
    assert decision.events[0].achievement_id == held.achievement_id


@pytest.mark.parametrize("qualification_number", [GONE_FROM_THE_REGISTER, OTHER_AOS_QUALIFICATION])
def test_a_held_withdrawn_achievement_is_reinstated_after_its_qualification_left_the_register_or_moved(
    qualification_number: str,
) -> None:
    held = state(qualification_number=qualification_number, withdrawn=True)
    decision = decide(
        record(action="Reinstate", qualification_number=qualification_number, grade=None), existing=[held]
    )
    assert codes(decision) == []
    assert isinstance(decision.events[0], AchievementReinstated)


def test_an_achievement_the_ao_does_not_hold_is_still_told_what_the_register_says() -> None:
    assert codes(decide(record(action="Withdraw", qualification_number=GONE_FROM_THE_REGISTER))) == ["RV012", "RV005"]
    assert codes(decide(record(action="Withdraw", qualification_number=OTHER_AOS_QUALIFICATION, grade=None))) == [
        "RV012",
        "RV022",
    ]


@pytest.mark.parametrize("action", ["Create", "Update"])
def test_a_result_for_a_qualification_gone_from_the_register_is_still_rv005(action: str) -> None:
    held = state(qualification_number=GONE_FROM_THE_REGISTER)
    decision = decide(record(action=action, qualification_number=GONE_FROM_THE_REGISTER, grade="4"), existing=[held])
    assert "RV005" in codes(decision)


def test_a_pathway_the_qualification_does_not_have_is_still_rv005_on_a_withdraw() -> None:
    held = state(qualification_number=TWO_PATHWAYS, pathway="Science", grade="Pass")
    decision = decide(
        record(action="Withdraw", qualification_number=TWO_PATHWAYS, pathway="Chemistry", grade=None), existing=[held]
    )
    assert codes(decision) == ["RV005"]


def test_a_withdrawn_held_achievement_withdrawn_again_is_rv015_not_rv005() -> None:
    held = state(qualification_number=GONE_FROM_THE_REGISTER, withdrawn=True)
    assert codes(decide(record(action="Withdraw", qualification_number=GONE_FROM_THE_REGISTER), existing=[held])) == [
        "RV015"
    ]


def test_the_offline_check_which_sees_no_achievements_does_not_reject_such_a_withdraw() -> None:
    records = [
        record(line=4, action="Withdraw", qualification_number=GONE_FROM_THE_REGISTER, grade=None),
        record(line=5, action="Create", qualification_number=GONE_FROM_THE_REGISTER, award_date="2024-08-23"),
    ]
    report = check_batch_offline(header(ao_id=AO), records, CATALOGUE, TODAY)
    assert [finding.code for finding in report.outcomes[0].errors] == []
    assert [finding.code for finding in report.outcomes[1].errors] == ["RV005"]
