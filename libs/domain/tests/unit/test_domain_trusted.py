"""What the decision builds without validating again is exactly what pydantic's validation builds."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from libs.domain.tests.unit.domain_builders import (
    AO,
    GCSE,
    MERGED_ULN,
    QCF_UNIT,
    TWO_PATHWAYS,
    ULN,
    ULN_2,
    decide,
    record,
    state,
)
from pydantic import BaseModel

from lrs_contracts.batch import JobType
from lrs_contracts.plr import AchievementKey, ResultStatus
from lrs_domain.achievements import achievement_id
from lrs_domain.decision import AchievementIds, BatchDecision
from lrs_domain.trusted import trusted_builder


def validated_again(model: BaseModel) -> BaseModel:
    """The model as pydantic builds it from its own fields, nested models included."""
    values: dict[str, Any] = {
        name: validated_again(value) if isinstance(value, BaseModel) else value
        for name, value in model.__dict__.items()
    }
    for name, value in values.items():
        if isinstance(value, tuple):
            values[name] = tuple(validated_again(item) if isinstance(item, BaseModel) else item for item in value)
    return type(model)(**values)


def assert_as_validated(model: BaseModel) -> None:
    again = validated_again(model)
    assert model == again
    assert model.model_fields_set == again.model_fields_set
    assert list(model.__dict__) == list(again.__dict__)
    assert {name: type(value) for name, value in model.__dict__.items()} == {
        name: type(value) for name, value in again.__dict__.items()
    }
    assert model.model_dump_json() == again.model_dump_json()


def every_model(decision: BatchDecision) -> list[BaseModel]:
    states = [model for state in decision.new_states for model in (state.key, state.data)]
    return [*decision.outcomes, *decision.events, *states]


def test_every_kind_of_event_and_outcome_is_built_as_pydantic_validates_it() -> None:
    decisions = [
        decide(
            record(line=4),
            record(line=5, uln=ULN_2, qualification_number=TWO_PATHWAYS, pathway="Science", grade="Pass"),
            record(line=6, uln="1000000042"),  # rejected: check digit
            record(line=7, uln=MERGED_ULN, award_date="2023-08-24"),  # recorded under the master ULN
            record(line=8, qualification_number=QCF_UNIT, grade="Pass", credits="12", centre_ukprn=None),
        ),
        decide(record(line=4, action="Update", grade="7"), existing=[state()]),
        decide(record(line=4, grade="5"), existing=[state(status=ResultStatus.PROVISIONAL)]),  # superseded
        decide(record(line=4, action="Withdraw", grade=None), existing=[state()]),
        decide(record(line=4, action="Reinstate", grade=None), existing=[state(withdrawn=True)]),
        decide(record(line=4), existing=[state()]),  # no-op
        decide(record(line=4), job_type=JobType.PROVISIONAL),
    ]
    kinds = {type(event).__name__ for decision in decisions for event in decision.events}
    assert kinds == {
        "AchievementRecorded",
        "AchievementUpdated",
        "AchievementSuperseded",
        "AchievementWithdrawn",
        "AchievementReinstated",
    }
    for decision in decisions:
        for model in every_model(decision):
            assert_as_validated(model)


@given(
    uln=st.from_regex(r"[1-9][0-9]{9}", fullmatch=True),
    qualification_number=st.sampled_from([GCSE, QCF_UNIT, "6001166X"]),
    award_date=st.dates(min_value=date(2006, 9, 1), max_value=date(2030, 12, 31)),
    ao_id=st.sampled_from([AO, "RN5133", "ÅO with spaces|and bars"]),
)
def test_achievement_ids_of_one_ao_are_the_achievement_id_of_each_key(
    uln: str, qualification_number: str, award_date: date, ao_id: str
) -> None:
    key = AchievementKey(ao_id=ao_id, uln=uln, qualification_number=qualification_number, award_date=award_date)
    assert AchievementIds(ao_id).of(key) == achievement_id(key)


def test_a_decision_records_each_achievement_under_its_achievement_id() -> None:
    decision = decide(record(line=4), record(line=5, uln=ULN_2))
    assert [event.achievement_id for event in decision.events] == [
        achievement_id(event.key) for event in decision.events
    ]
    assert ULN in {event.key.uln for event in decision.events}


def test_a_copy_of_a_model_built_so_has_its_own_field_names() -> None:
    first, second = decide(record(line=4), record(line=5, uln=ULN_2)).outcomes
    copied = first.model_copy(update={"mis_identifier": "changed"})
    copied.__pydantic_fields_set__.discard("line")
    assert "line" in first.model_fields_set and "line" in second.model_fields_set


def test_a_models_builder_builds_what_pydantic_validates() -> None:
    values = {"ao_id": AO, "uln": ULN, "qualification_number": GCSE, "award_date": date(2024, 8, 22)}
    build = trusted_builder(AchievementKey)

    built = build(dict(values))

    assert_as_validated(built)
    assert built == AchievementKey(**values)
    assert build(dict(values)) is not built  # a model a call
