"""The compatibility check sees a change wherever a consumer would: inside objects behind `X | None`, array items,
map values and enums, and in the constraints of a value (lrs_contracts.compatibility's docstring has the rules)."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, create_model

from lrs_contracts import compatibility
from lrs_contracts.challenge import ChallengedAchievement, ChallengeRaised, ChallengeResolved
from lrs_contracts.compatibility import changes, check_snapshots, incompatibilities, snapshot_path
from lrs_contracts.registry import schema_of
from lrs_contracts.reporting import AoMonthlyChallenges, AoMonthlySubmissions

Schema = dict[str, Any]


def committed(event_type: str) -> Schema:
    loaded: Schema = json.loads(snapshot_path(event_type).read_text(encoding="utf-8"))
    return loaded


def changed(event_type: str, mutate: Callable[[Schema], object]) -> tuple[Schema, Schema]:
    old = committed(event_type)
    new = copy.deepcopy(old)
    mutate(new)
    return old, new


def _add_required(definition: str, name: str) -> Callable[[Schema], object]:
    def mutate(schema: Schema) -> None:
        model = schema["$defs"][definition]
        model["properties"][name] = {"type": "string"}
        model.setdefault("required", []).append(name)

    return mutate


PROBES: list[tuple[str, str, Callable[[Schema], object], list[str]]] = [
    (
        "new required field in the optional achievement object",
        "lrs.challenge.raised.v2",
        _add_required("ChallengedAchievement", "centre_name"),
        ["achievement.centre_name: new required field"],
    ),
    (
        "field removed from the optional achievement object",
        "lrs.challenge.raised.v2",
        lambda s: s["$defs"]["ChallengedAchievement"]["properties"].pop("grade"),
        ["achievement.grade: field removed"],
    ),
    (
        "achievement.award_date retyped",
        "lrs.challenge.raised.v2",
        lambda s: s["$defs"]["ChallengedAchievement"]["properties"].__setitem__("award_date", {"type": "integer"}),
        ["achievement.award_date: type changed from string to integer"],
    ),
    (
        "field removed from the items of a list | None",
        "lrs.batch.completed.v1",
        lambda s: s["$defs"]["QualificationOnPlr"]["properties"].pop("qualification_type"),
        ["on_plr[].qualification_type: field removed"],
    ),
    (
        "new required field in the optional pause",
        "lrs.maintenance.schedule.changed.v1",
        _add_required("MaintenancePause", "until"),
        ["pause.until: new required field"],
    ),
    (
        "enum value removed",
        "lrs.challenge.resolved.v1",
        lambda s: s["$defs"]["ChallengeResolution"]["enum"].remove("upheld"),
        ['resolution: enum value "upheld" removed'],
    ),
    (
        "enum of integers became one of strings",
        "lrs.learner.sharing.changed.v1",
        lambda s: s["$defs"]["AbilityToShare"].update({"enum": ["0", "1", "2"], "type": "string"}),
        ["ability_to_share: type changed from integer enum to string enum"],
    ),
    (
        "enum value removed from the items of a list",
        "lrs.batch.records.decided.v1",
        lambda s: s["$defs"]["RecordStatus"]["enum"].remove("no_op"),
        ['outcomes[].status: enum value "no_op" removed'],
    ),
    (
        "pattern tightened",
        "lrs.achievement.recorded.v1",
        lambda s: s["$defs"]["AchievementKey"]["properties"]["uln"].__setitem__("pattern", "^1[0-9]{9}$"),
        ['key.uln: pattern changed from "^[1-9][0-9]{9}$" to "^1[0-9]{9}$"'],
    ),
    (
        "pattern dropped",
        "lrs.achievement.recorded.v1",
        lambda s: s["$defs"]["AchievementKey"]["properties"]["uln"].pop("pattern"),
        ['key.uln: pattern "^[1-9][0-9]{9}$" removed'],
    ),
    (
        "format changed",
        "lrs.achievement.recorded.v1",
        lambda s: s["properties"]["achievement_id"].__setitem__("format", "date"),
        ['achievement_id: format changed from "uuid" to "date"'],
    ),
    (
        "map values retyped",
        "lrs.reporting.challenges.aggregated.v1",
        lambda s: s["properties"]["resolutions"].__setitem__("additionalProperties", {"type": "string"}),
        ["resolutions{}: type changed from integer to string"],
    ),
    (
        "map values retyped (rejections by code)",
        "lrs.reporting.submissions.aggregated.v1",
        lambda s: s["properties"]["rejections_by_code"].__setitem__("additionalProperties", {"type": "string"}),
        ["rejections_by_code{}: type changed from integer to string"],
    ),
    (
        "map closed",
        "lrs.reporting.submissions.aggregated.v1",
        lambda s: s["properties"]["rejections_by_code"].__setitem__("additionalProperties", False),
        ["rejections_by_code: no longer admits fields or keys the schema does not name"],
    ),
    (
        "minimum raised",
        "lrs.reporting.submissions.aggregated.v1",
        lambda s: s["properties"]["batches_completed"].__setitem__("minimum", 1),
        ["batches_completed: minimum changed from 0 to 1"],
    ),
    (
        "required field became optional",
        "lrs.reporting.submissions.aggregated.v1",
        lambda s: s["required"].remove("records_total"),
        ["records_total: required field became optional (events may lack it)"],
    ),
    (
        "optional field of a nested object became required",
        "lrs.challenge.raised.v2",
        lambda s: s["$defs"]["ChallengedAchievement"]["required"].append("grade"),
        ["achievement.grade: optional field became required"],
    ),
    (
        "nullable nested field no longer nullable",
        "lrs.challenge.raised.v2",
        lambda s: s["$defs"]["ChallengedAchievement"]["properties"].__setitem__("grade", {"type": "string"}),
        ["achievement.grade: type changed from string|null to string (it may no longer be null)"],
    ),
    (
        "optional object no longer nullable",
        "lrs.challenge.raised.v2",
        lambda s: s["properties"].__setitem__("achievement", {"$ref": "#/$defs/ChallengedAchievement"}),
        ["achievement: type changed from object|null to object (it may no longer be null)"],
    ),
    (
        "enum behind | None lost a value",
        "lrs.challenge.raised.v2",
        lambda s: s["$defs"]["ResultStatus"]["enum"].remove("P"),
        ['achievement.status: enum value "P" removed'],
    ),
]


@pytest.mark.parametrize(("name", "event_type", "mutate", "expected"), PROBES, ids=[probe[0] for probe in PROBES])
def test_a_change_below_the_top_level_is_incompatible(
    name: str, event_type: str, mutate: Callable[[Schema], object], expected: list[str]
) -> None:
    old, new = changed(event_type, mutate)
    assert incompatibilities(old, new) == expected, name


def test_a_new_enum_value_is_a_note_not_a_failure() -> None:
    # The committed schema of lrs.challenge.resolved.v1 before decision 0194 added `withdrawn`.
    old, _ = changed("lrs.challenge.resolved.v1", lambda s: None)
    old["$defs"]["ChallengeResolution"]["enum"].remove("withdrawn")
    found = changes(old, schema_of(ChallengeResolved))
    assert found.incompatible == []
    assert found.notes == ['resolution: new enum value "withdrawn"']


def test_a_new_optional_field_is_a_note() -> None:
    old = committed("lrs.challenge.raised.v2")
    changed_achievement = create_model(
        "ChallengedAchievementWithCentre",
        __base__=ChallengedAchievement,
        centre_name=(str | None, Field(default=None)),
    )
    raised = create_model(
        "ChallengeRaisedWithCentre",
        __base__=ChallengeRaised,
        achievement=(changed_achievement | None, Field(default=None)),
    )
    found = changes(old, schema_of(raised))
    assert found.incompatible == []
    assert found.notes == ["achievement.centre_name: new optional field"]


def test_a_new_required_field_in_a_nested_model_is_refused() -> None:
    old = committed("lrs.challenge.raised.v2")
    changed_achievement = create_model(
        "ChallengedAchievementCopy", __base__=ChallengedAchievement, centre_name=(str, ...)
    )
    raised = create_model(
        "ChallengeRaisedCopy", __base__=ChallengeRaised, achievement=(changed_achievement | None, Field(default=None))
    )
    assert incompatibilities(old, schema_of(raised)) == ["achievement.centre_name: new required field"]


def test_a_retyped_field_of_a_nested_model_is_refused() -> None:
    old = committed("lrs.challenge.raised.v2")
    changed_achievement = create_model(
        "ChallengedAchievementIntGrade", __base__=ChallengedAchievement, grade=(int | None, None)
    )
    raised = create_model(
        "ChallengeRaisedIntGrade",
        __base__=ChallengeRaised,
        achievement=(changed_achievement | None, Field(default=None)),
    )
    assert incompatibilities(old, schema_of(raised)) == [
        "achievement.grade: type changed from string|null to integer|null"
    ]


class ChallengeResolutionWithoutUpheld(StrEnum):
    CORRECTED = "corrected"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


def test_a_removed_enum_value_of_a_model_is_refused() -> None:
    resolved = create_model(
        "ChallengeResolvedCopy", __base__=ChallengeResolved, resolution=(ChallengeResolutionWithoutUpheld, ...)
    )
    assert incompatibilities(committed("lrs.challenge.resolved.v1"), schema_of(resolved)) == [
        'resolution: enum value "upheld" removed'
    ]


def test_retyped_map_values_of_a_model_are_refused() -> None:
    challenges = create_model(
        "AoMonthlyChallengesCopy", __base__=AoMonthlyChallenges, resolutions=(dict[str, str], Field())
    )
    assert incompatibilities(committed("lrs.reporting.challenges.aggregated.v1"), schema_of(challenges)) == [
        "resolutions{}: type changed from integer to string"
    ]


def test_a_required_field_made_optional_is_refused() -> None:
    submissions = create_model(
        "AoMonthlySubmissionsCopy", __base__=AoMonthlySubmissions, records_total=(int | None, Field(default=None, ge=0))
    )
    assert incompatibilities(committed("lrs.reporting.submissions.aggregated.v1"), schema_of(submissions)) == [
        "records_total: required field became optional (events may lack it)",
        "records_total: type changed from integer to integer|null (it may now be null)",
    ]


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    weight: int
    children: list[_Node] = []


class _NodeLight(BaseModel):
    model_config = ConfigDict(extra="forbid", title="_Node")
    name: str
    children: list[_NodeLight] = []


def test_a_recursive_model_is_walked_once() -> None:
    found = incompatibilities(_Node.model_json_schema(), _NodeLight.model_json_schema())
    assert found == ["weight: field removed"]  # the same model inside `children` is the same change


class _Card(BaseModel):
    kind: Literal["card"]
    last4: str


class _Transfer(BaseModel):
    kind: Literal["transfer"]
    iban: str


class _Paid(BaseModel):
    payment: _Card | _Transfer = Field(discriminator="kind")


class _PaidByCard(BaseModel):
    payment: _Card


def test_an_alternative_of_a_tagged_union_is_compared_and_its_removal_refused() -> None:
    old = _Paid.model_json_schema()
    new = copy.deepcopy(old)
    new["$defs"]["_Transfer"]["properties"]["iban"]["pattern"] = "^GB"
    assert incompatibilities(old, new) == ['payment.iban: pattern "^GB" added']
    assert incompatibilities(old, _PaidByCard.model_json_schema()) == [
        "payment: alternatives changed: ['object:kind=transfer'] removed, [] added"
    ]


def test_todays_models_are_compatible_with_the_committed_snapshots() -> None:
    assert check_snapshots().incompatible == []


@pytest.fixture
def snapshot_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(compatibility.SNAPSHOT_DIR, tmp_path, dirs_exist_ok=True)
    monkeypatch.setattr(compatibility, "SNAPSHOT_DIR", tmp_path)
    return tmp_path


def _rewrite(directory: Path, event_type: str, mutate: Callable[[Schema], object]) -> Path:
    path = directory / f"{event_type}.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    mutate(schema)
    path.write_text(json.dumps(schema), encoding="utf-8")
    return path


def test_the_command_prints_notes_and_writes_the_snapshots(
    snapshot_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _rewrite(
        snapshot_copy, "lrs.challenge.resolved.v1", lambda s: s["$defs"]["ChallengeResolution"]["enum"].pop()
    )
    assert compatibility.main(["--check"]) == 0
    assert "withdrawn" not in json.loads(path.read_text(encoding="utf-8"))["$defs"]["ChallengeResolution"]["enum"]
    assert 'note: lrs.challenge.resolved.v1: resolution: new enum value "withdrawn"' in capsys.readouterr().err
    assert compatibility.main([]) == 0
    assert json.loads(path.read_text(encoding="utf-8")) == schema_of(ChallengeResolved)


def test_the_command_writes_nothing_after_an_incompatible_change(
    snapshot_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _rewrite(
        snapshot_copy, "lrs.challenge.resolved.v1", lambda s: s["$defs"]["ChallengeResolution"]["enum"].append("x")
    )
    before = path.read_text(encoding="utf-8")
    assert compatibility.main([]) == 1
    assert path.read_text(encoding="utf-8") == before
    err = capsys.readouterr().err
    assert 'incompatible: lrs.challenge.resolved.v1: resolution: enum value "x" removed' in err
    assert "snapshots not written" in err


def test_a_ref_wrapped_in_all_of_is_the_same_type_and_a_changed_default_is_a_note() -> None:
    old = committed("lrs.challenge.raised.v2")
    new = copy.deepcopy(old)
    new["properties"]["achievement"]["anyOf"][0] = {"allOf": [{"$ref": "#/$defs/ChallengedAchievement"}]}
    new["$defs"]["ChallengedAchievement"]["properties"]["grade"]["default"] = "U"
    found = changes(old, new)
    assert found.incompatible == []
    assert found.notes == ['achievement.grade: default changed from null to "U"']
