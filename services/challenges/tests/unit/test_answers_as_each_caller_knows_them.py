"""What a learner and an awarding organisation are told, in terms each of them knows and can act on:

- an AO is told the ULN it recorded the challenged achievement under, never the one a learner merged into it raised
  the challenge under (decision 0162: it learns of a merge only where it recorded something); learners and
  operators keep the raising ULN;
- a ULN filter no learner can have (a wrong check digit, the temporary ULN) is answered 422 with its rule's code
  before anything else, as the projector answers it, not as "no challenges" or "not yours";
- a learner refused a challenge on a withdrawn achievement is told which AO withdrew it (`ao_id`, and its name),
  and where to turn if they cannot reach it;
- an AO refused a change of state is told what to do next (resolve an acknowledged challenge)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from challenges.api import (
    ChallengeCreate,
    ChallengePublic,
    _translate,
    get_challenge,
    list_challenges,
    open_challenge_counts,
    raise_challenge,
)
from challenges.bootstrap import ao_names_of
from challenges.config import ChallengesSettings
from challenges.domain import AchievementOnRecord, Challenge, ChallengeState, InvalidTransition
from challenges.service import ChallengeService
from lrs_contracts.challenge import ChallengedAchievement
from lrs_contracts.codes import ProblemCode, RecordCode
from lrs_platform.identity import Principal
from lrs_platform.problems import ProblemError

MASTER, MERGED = "1000000078", "1000000086"  # the learner raised under MASTER; the AO recorded under MERGED
AO = "RN9093"
AS_AO, AS_LEARNER, AS_OPERATOR = (
    Principal.parse(f"ao:{AO}"),
    Principal.parse(f"learner:{MASTER}"),
    Principal.parse("operator:ops"),
)
AS_PROVIDER = Principal.parse("provider:10000001")
WITHDRAWN_ACHIEVEMENT = uuid.UUID("66666666-7777-4888-9999-00000000000c")


def _raised_under_the_master() -> Challenge:
    achievement = ChallengedAchievement(
        qualification_number="60301211", award_date=date(2026, 8, 20), grade="5", uln=MERGED
    )
    return Challenge(
        uuid.uuid4(),
        uuid.uuid4(),
        AO,
        MASTER,
        "Grade should be 6",
        ChallengeState.RAISED,
        datetime.now(UTC),
        achievement=achievement,
    )


class _Record:
    """The learner's two ULNs are one learner; no achievement is withdrawn, but `WITHDRAWN_ACHIEVEMENT`."""

    async def learner_ulns(self, uln: str) -> frozenset[str]:
        return frozenset({MASTER, MERGED}) if uln in (MASTER, MERGED) else frozenset({uln})

    async def ulns_of_learners(self, ulns: Collection[str]) -> frozenset[str]:
        return frozenset({MASTER, MERGED})

    async def withdrawn_among(self, achievement_ids: Collection[uuid.UUID]) -> frozenset[uuid.UUID]:
        return frozenset()

    async def achievement(self, achievement_id: uuid.UUID) -> AchievementOnRecord | None:
        if achievement_id != WITHDRAWN_ACHIEVEMENT:
            return None
        return AchievementOnRecord(achievement_id, MERGED, AO, True, "60301211", date(2026, 8, 20), "5", "GCSE")


class _Store:
    def __init__(self, challenges: list[Challenge]) -> None:
        self.challenges = challenges
        self.asked = 0

    async def list(self, **_: Any) -> list[Challenge]:
        self.asked += 1
        return self.challenges

    async def open_counts(self, **_: Any) -> dict[ChallengeState, int]:
        self.asked += 1
        return {ChallengeState.RAISED: len(self.challenges)}

    async def get(self, challenge_id: uuid.UUID) -> Challenge | None:
        return next((challenge for challenge in self.challenges if challenge.challenge_id == challenge_id), None)

    async def open_on(self, achievement_id: uuid.UUID) -> uuid.UUID | None:
        return next((each.challenge_id for each in self.challenges if each.achievement_id == achievement_id), None)


async def _not_held(ulns: Collection[str]) -> bool:
    return False


async def _caught_up() -> bool:
    return True


def _request(store: _Store, ao_names: dict[str, str] | None = None) -> Any:
    service = ChallengeService(store, _Record(), None, _caught_up, held=_not_held, ao_names=ao_names)  # type: ignore[arg-type]
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(challenges=service)))


async def test_the_ao_is_told_the_uln_it_recorded_the_achievement_under_not_the_raising_one() -> None:
    raised = _raised_under_the_master()
    request = _request(_Store([raised]))

    one = await get_challenge(raised.challenge_id, AS_AO, request)
    page = await list_challenges(AS_AO, request, state=None, ao_id=None, uln=None, after=None, limit=100)

    assert (one.uln, one.achievement and one.achievement.uln) == (MERGED, MERGED)
    assert [item.uln for item in page.items] == [MERGED]
    assert MASTER not in one.model_dump_json()


@pytest.mark.parametrize("viewer", [AS_LEARNER, AS_OPERATOR], ids=["learner", "operator"])
async def test_the_learner_and_operators_keep_the_uln_it_was_raised_under(viewer: Principal) -> None:
    raised = _raised_under_the_master()

    one = await get_challenge(raised.challenge_id, viewer, _request(_Store([raised])))

    assert (one.uln, one.achievement and one.achievement.uln) == (MASTER, MERGED)


def test_a_challenge_raised_before_the_recorded_uln_was_kept_shows_the_ao_the_raising_one() -> None:
    raised = Challenge(uuid.uuid4(), uuid.uuid4(), AO, MASTER, "wrong", ChallengeState.RAISED, datetime.now(UTC))

    assert ChallengePublic.of(raised, AS_AO).uln == MASTER


@pytest.mark.parametrize(
    ("uln", "code"),
    [("1000000042", RecordCode.ULN_CHECK_DIGIT), ("9999999999", RecordCode.ULN_TEMPORARY)],
    ids=["check digit", "temporary"],
)
@pytest.mark.parametrize(
    "caller", [AS_AO, AS_LEARNER, AS_OPERATOR, AS_PROVIDER], ids=["ao", "learner", "operator", "provider"]
)
async def test_a_uln_no_learner_can_have_is_refused_by_its_rule_before_anything_else(
    uln: str, code: RecordCode, caller: Principal
) -> None:
    store = _Store([_raised_under_the_master()])
    request = _request(store)

    with pytest.raises(ProblemError) as listed:
        await list_challenges(caller, request, state=None, ao_id=None, uln=[MASTER, uln], after=None, limit=100)
    with pytest.raises(ProblemError) as counted:
        await open_challenge_counts(caller, request, ao_id=None, uln=[uln])

    for refused in (listed.value.problem, counted.value.problem):
        assert (refused.status, refused.code) == (422, code)
        assert refused.detail is not None and f"({code})" in refused.detail
    assert store.asked == 0


async def test_a_well_typed_uln_filter_is_answered_as_before() -> None:
    store = _Store([_raised_under_the_master()])

    page = await list_challenges(AS_AO, _request(store), state=None, ao_id=None, uln=[MERGED], after=None, limit=100)
    counts = await open_challenge_counts(AS_OPERATOR, _request(store), ao_id=None, uln=[MASTER])

    assert (len(page.items), counts.open) == (1, 1)


async def test_a_withdrawn_achievement_names_the_ao_that_withdrew_it_and_the_service_desk() -> None:
    request = _request(_Store([]), ao_names={AO: "Pearson Education Ltd"})
    body = ChallengeCreate(achievement_id=WITHDRAWN_ACHIEVEMENT, reason="Grade should be 6")

    with pytest.raises(ProblemError) as refused:
        await raise_challenge(body, AS_LEARNER, request, SimpleNamespace(headers={}))  # type: ignore[arg-type]

    problem = refused.value.problem
    assert (problem.status, problem.code) == (409, ProblemCode.ACHIEVEMENT_WITHDRAWN)
    assert problem.model_dump()["ao_id"] == AO
    assert problem.detail is not None
    assert problem.detail.startswith("The awarding organisation Pearson Education Ltd (RN9093) has withdrawn")
    assert "contact Pearson Education Ltd (RN9093) about it" in problem.detail
    assert problem.detail.endswith("contact the LRS service desk.")


async def test_a_withdrawn_achievement_of_an_ao_whose_name_is_not_known_names_it_by_its_id() -> None:
    body = ChallengeCreate(achievement_id=WITHDRAWN_ACHIEVEMENT, reason="Grade should be 6")

    with pytest.raises(ProblemError) as refused:
        await raise_challenge(body, AS_LEARNER, _request(_Store([])), SimpleNamespace(headers={}))  # type: ignore[arg-type]

    assert refused.value.problem.detail is not None
    assert "contact RN9093 about it" in refused.value.problem.detail


def test_acknowledging_an_acknowledged_challenge_says_to_resolve_it_and_keeps_its_state_member() -> None:
    problem = _translate(InvalidTransition(ChallengeState.ACKNOWLEDGED, "acknowledged")).problem

    assert (problem.status, problem.code) == (409, ProblemCode.CHALLENGE_NOT_IN_THAT_STATE)
    assert problem.model_dump()["state"] == "acknowledged"
    assert problem.detail is not None
    assert "It is acknowledged already" in problem.detail
    assert "resolve it" in problem.detail


@pytest.mark.parametrize("action", ["acknowledged", "resolved"])
def test_changing_a_resolved_challenge_says_the_resolution_is_final(action: str) -> None:
    problem = _translate(InvalidTransition(ChallengeState.RESOLVED, action)).problem

    assert problem.detail is not None
    assert problem.detail.startswith("This challenge is closed, so it cannot be ")
    assert problem.detail.endswith("Nothing more is needed.")
    assert "{challenge_id}" not in problem.detail


def test_the_service_names_the_aos_as_the_reference_files_do() -> None:
    assert ao_names_of(ChallengesSettings())[AO] == "Pearson Education Ltd"


def test_an_operators_own_reference_files_name_an_ao_that_joined_since(tmp_path: Path) -> None:
    (tmp_path / "awarding-organisations.csv").write_text("AwardingOrganisationId,Name\nRN9999,New Awards Ltd\n")

    assert ao_names_of(ChallengesSettings(reference_dir=str(tmp_path))) == {"RN9999": "New Awards Ltd"}
