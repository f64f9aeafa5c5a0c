"""An AO's ULN filter names the learner (decision 0162): a challenge raised, and its achievement recorded, under a
ULN later merged into the master is found by the master's ULN too, and only among the AO's own challenges."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import UTC, date, datetime

from challenges.domain import Challenge, ChallengeQuery, ChallengeState
from challenges.service import ChallengeService
from lrs_contracts.challenge import ChallengedAchievement
from lrs_platform.identity import Principal

MASTER, MERGED, STRANGER = "1000000043", "1026893096", "6936002314"
AO, OTHER_AO = "RN5133", "RN9093"
MERGES = {MERGED: MASTER}  # merged ULN -> master ULN, as the PLR log's LearnersMerged told


class MergingRecord:
    """The challenges service's copy of the log's merges: every ULN of the learner a ULN belongs to."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def learner_ulns(self, uln: str) -> frozenset[str]:
        self.asked.append(uln)
        master = MERGES.get(uln, uln)
        return frozenset({master, *(merged for merged, into in MERGES.items() if into == master)})

    async def ulns_of_learners(self, ulns: Collection[str]) -> frozenset[str]:
        found: set[str] = set()
        for uln in sorted(ulns):
            found |= await self.learner_ulns(uln)
        return frozenset(found)


class FilteringStore:
    """Filters as `ChallengeStore` does: the AO, then any ULN raising (or, as recorded, recording) it."""

    def __init__(self, challenges: list[Challenge]) -> None:
        self.challenges = challenges

    async def list(
        self,
        *,
        ao_id: str | None = None,
        ulns: Collection[str] | None = None,
        ulns_as_recorded: bool = False,
        **_: object,
    ) -> list[Challenge]:
        return [challenge for challenge in self.challenges if _matches(challenge, ao_id, ulns, ulns_as_recorded)]

    async def open_counts(
        self, *, ao_id: str | None = None, ulns: Collection[str] | None = None, ulns_as_recorded: bool = False
    ) -> dict[ChallengeState, int]:
        found = await self.list(ao_id=ao_id, ulns=ulns, ulns_as_recorded=ulns_as_recorded)
        return {ChallengeState.RAISED: len(found)} if found else {}


def _matches(challenge: Challenge, ao_id: str | None, ulns: Collection[str] | None, as_recorded: bool) -> bool:
    recorded = challenge.achievement.uln if challenge.achievement else None
    return (ao_id is None or challenge.ao_id == ao_id) and (
        ulns is None or challenge.uln in ulns or (as_recorded and recorded in ulns)
    )


def _challenge(ao_id: str, uln: str) -> Challenge:
    achievement = ChallengedAchievement(qualification_number="6001166X", award_date=date(2024, 8, 22), uln=uln)
    return Challenge(
        uuid.uuid4(),
        uuid.uuid4(),
        ao_id,
        uln,
        "wrong grade",
        ChallengeState.RAISED,
        datetime.now(UTC),
        achievement=achievement,
    )


async def _held_not_asked(ulns: Collection[str]) -> bool:
    raise AssertionError("only raising a challenge asks whether the learner's events are held")


async def _unused() -> bool:
    raise AssertionError("listing never waits for the record")


async def test_an_aos_filter_by_the_master_uln_finds_the_challenges_raised_under_a_uln_merged_into_it() -> None:
    before_the_merge = _challenge(AO, MERGED)
    after_the_merge = _challenge(AO, MASTER)
    another_aos = _challenge(OTHER_AO, MERGED)
    someone_elses = _challenge(AO, STRANGER)
    store = FilteringStore([before_the_merge, after_the_merge, another_aos, someone_elses])
    service = ChallengeService(store, MergingRecord(), None, _unused, held=_held_not_asked)  # type: ignore[arg-type]
    ao = Principal.parse(f"ao:{AO}")

    by_master = await service.list(ao, _query(MASTER))
    by_merged = await service.list(ao, _query(MERGED))

    # the learner is one person whichever of their ULNs is asked; another AO's challenge stays out of sight
    assert {c.challenge_id for c in by_master.challenges} == {
        before_the_merge.challenge_id,
        after_the_merge.challenge_id,
    }
    assert {c.challenge_id for c in by_merged.challenges} == {
        before_the_merge.challenge_id,
        after_the_merge.challenge_id,
    }
    assert (await service.open_counts(ao, _query(MASTER)))[ChallengeState.RAISED] == 2
    assert {c.challenge_id for c in (await service.list(ao, _query(STRANGER))).challenges} == {
        someone_elses.challenge_id
    }


async def test_an_aos_unfiltered_list_and_an_operators_filter_look_up_no_merges() -> None:
    record = MergingRecord()
    service = ChallengeService(FilteringStore([_challenge(AO, MERGED)]), record, None, _unused, held=_held_not_asked)  # type: ignore[arg-type]

    await service.list(Principal.parse(f"ao:{AO}"), _query())
    found = await service.list(Principal.parse("operator:ops"), _query(MASTER))

    assert record.asked == [] and found.challenges == []  # an operator's filter matches the raising ULN, as before


def _query(*ulns: str) -> ChallengeQuery:
    return ChallengeQuery(ulns=frozenset(ulns) if ulns else None)
