"""A challenge resolved as corrected names the batch that corrected the data: a completed batch with an
accepted record of the same learner's achievement of the same qualification, decided after the challenge was
raised (decision 0142). The service answers it from its copy of the PLR log, so the API and the CLI keep the
rule as the portal does."""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator, Collection
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from challenges.api import ChallengePublic, _translate
from challenges.domain import (
    AchievementOnRecord,
    BatchOnRecord,
    Challenge,
    ChallengeState,
    CorrectingBatchDoesNotFit,
    CorrectingBatchRequired,
    correction,
    event_id_of,
    evolve,
    raise_challenge,
)
from challenges.service import ChallengeService, RecordBehind
from lrs_contracts.challenge import ChallengedAchievement, ChallengeRaised, ChallengeResolution, ChallengeResolved
from lrs_contracts.codes import ProblemCode
from lrs_contracts.registry import decode, encode
from lrs_platform.identity import Principal
from lrs_platform.keyring import DATA_KEY_BYTES, LearnerKey

RAISED_AT = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
ULN, MERGED_ULN, AO = "1000000043", "1026893096", "RN5133"
ACHIEVEMENT_ID = uuid.UUID("66666666-7777-4888-9999-000000000000")
MATHS = ChallengedAchievement(
    qualification_number="6001166X", title="GCSE Mathematics", award_date=date(2026, 8, 20), grade="4", uln=ULN
)
CORRECTING, OTHER_LEARNERS, EARLIER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
AS_AO = Principal.parse(f"ao:{AO}")
CORRECTED = ChallengeResolution.CORRECTED


def challenge(achievement: ChallengedAchievement | None = MATHS) -> Challenge:
    return Challenge(
        challenge_id=uuid.uuid4(),
        achievement_id=ACHIEVEMENT_ID,
        ao_id=AO,
        uln=ULN,
        reason="My grade was a 5",
        state=ChallengeState.ACKNOWLEDGED,
        raised_at=RAISED_AT,
        achievement=achievement,
    )


# --- the rule --------------------------------------------------------------------------------------


def test_a_batch_that_touched_the_achievement_after_the_raise_corrected_it() -> None:
    touching = BatchOnRecord(CORRECTING, RAISED_AT + timedelta(days=1))
    assert correction(challenge(), CORRECTED, CORRECTING, touching) == CORRECTING


def test_a_batch_that_did_not_touch_the_achievement_did_not_correct_it() -> None:
    with pytest.raises(CorrectingBatchDoesNotFit) as refused:
        correction(challenge(), CORRECTED, OTHER_LEARNERS, None)
    assert refused.value.reason == "not_for_this_achievement"


def test_a_batch_decided_before_the_raise_cannot_have_corrected_it() -> None:
    with pytest.raises(CorrectingBatchDoesNotFit) as refused:
        correction(challenge(), CORRECTED, EARLIER, BatchOnRecord(EARLIER, RAISED_AT - timedelta(seconds=1)))
    assert refused.value.reason == "before_the_challenge"


def test_corrected_names_a_batch_and_the_other_resolutions_name_none() -> None:
    with pytest.raises(CorrectingBatchRequired):
        correction(challenge(), CORRECTED, None, None)
    with pytest.raises(CorrectingBatchRequired):
        correction(challenge(), ChallengeResolution.UPHELD, CORRECTING, None)
    assert correction(challenge(), ChallengeResolution.REJECTED, None, None) is None


# --- the service, over fakes ----------------------------------------------------------------------


class FakeRecord:
    """The service's copy of the PLR log: `touches` as (batch, uln, qan, decided at); ULN merged into MERGED_ULN."""

    def __init__(self, touches: list[tuple[uuid.UUID, str, str, datetime]], known: bool = True) -> None:
        self.touches = touches
        self.known = known

    async def learner_ulns(self, uln: str) -> frozenset[str]:
        return frozenset({ULN, MERGED_ULN})

    async def achievement(self, achievement_id: uuid.UUID) -> AchievementOnRecord | None:
        if not self.known:
            return None
        return AchievementOnRecord(achievement_id, ULN, AO, False, "6001166X", MATHS.award_date, "4", None)

    async def withdrawn_among(self, achievement_ids: Collection[uuid.UUID]) -> frozenset[uuid.UUID]:
        return frozenset()

    async def batches_touching(
        self,
        ao_id: str,
        qualification_number: str,
        ulns: Collection[str],
        since: datetime | None = None,
        batch_id: uuid.UUID | None = None,
        limit: int = 50,
    ) -> list[BatchOnRecord]:
        found = {
            batch: decided
            for batch, uln, qan, decided in self.touches
            if ao_id == AO
            and qan == qualification_number
            and uln in ulns
            and (since is None or decided >= since)
            and (batch_id is None or batch == batch_id)
        }
        return sorted((BatchOnRecord(b, d) for b, d in found.items()), key=lambda b: b.decided_at, reverse=True)


class FakeUnitOfWork:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    async def get_for_update(self, challenge_id: uuid.UUID) -> Challenge | None:
        return self.store.rows.get(challenge_id)

    async def update(self, changed: Challenge) -> None:
        self.store.rows[changed.challenge_id] = changed

    async def add_to_outbox(self, envelope: Any, partition_key: str) -> None:
        self.store.outbox.append(envelope)


class FakeStore:
    def __init__(self, *challenges: Challenge) -> None:
        self.rows = {c.challenge_id: c for c in challenges}
        self.outbox: list[Any] = []

    async def get(self, challenge_id: uuid.UUID) -> Challenge | None:
        return self.rows.get(challenge_id)

    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[FakeUnitOfWork]:
        yield FakeUnitOfWork(self)


class FakeKeys:
    """The learner key store: the key that seals an AO's note."""

    async def issue(self, ulns: Collection[str]) -> dict[str, LearnerKey]:
        return {uln: LearnerKey(uln, secrets.token_bytes(DATA_KEY_BYTES)) for uln in ulns}


async def _held_not_asked(ulns: Collection[str]) -> bool:
    raise AssertionError("only raising a challenge asks whether the learner's events are held")


def service(store: FakeStore, record: FakeRecord, caught_up: bool = True) -> ChallengeService:
    async def catch_up() -> bool:
        return caught_up

    return ChallengeService(store, record, keyring=FakeKeys(), catch_up=catch_up, held=_held_not_asked)  # type: ignore[arg-type]


AFTER = RAISED_AT + timedelta(hours=2)
TOUCHES = [
    (CORRECTING, MERGED_ULN, "6001166X", AFTER),  # the learner's other ULN: one person
    (OTHER_LEARNERS, "6936002314", "6001166X", AFTER),  # the same qualification, another learner
    (OTHER_LEARNERS, ULN, "60012345", AFTER),  # the same learner, another qualification
    (EARLIER, ULN, "6001166X", RAISED_AT - timedelta(days=3)),
]


async def test_the_service_refuses_a_later_completed_batch_that_did_not_touch_the_achievement() -> None:
    open_one = challenge()
    store = FakeStore(open_one)
    with pytest.raises(CorrectingBatchDoesNotFit) as refused:
        await service(store, FakeRecord(TOUCHES)).resolve(AS_AO, open_one.challenge_id, CORRECTED, None, OTHER_LEARNERS)
    problem = _translate(refused.value).problem
    assert (problem.status, problem.code) == (422, ProblemCode.CORRECTING_BATCH_DOES_NOT_FIT)
    assert store.rows[open_one.challenge_id].state is ChallengeState.ACKNOWLEDGED
    assert store.outbox == []


async def test_the_service_refuses_corrected_without_a_batch() -> None:
    open_one = challenge()
    with pytest.raises(CorrectingBatchRequired) as refused:
        await service(FakeStore(open_one), FakeRecord(TOUCHES)).resolve(AS_AO, open_one.challenge_id, CORRECTED, None)
    assert _translate(refused.value).problem.code == ProblemCode.CORRECTING_BATCH_REQUIRED


async def test_the_service_takes_the_batch_that_corrected_and_keeps_its_id() -> None:
    open_one = challenge()
    store = FakeStore(open_one)
    changed = await service(store, FakeRecord(TOUCHES)).resolve(
        AS_AO, open_one.challenge_id, CORRECTED, None, CORRECTING
    )
    resolved = changed.challenge
    assert not changed.achievement_withdrawn
    assert (resolved.state, resolved.correcting_batch_id) == (ChallengeState.RESOLVED, CORRECTING)
    assert ChallengePublic.of(resolved, AS_AO).correcting_batch_id == CORRECTING
    assert (resolved.resolved_by, ChallengePublic.of(resolved, AS_AO).resolved_by) == (
        f"ao:{AO}",
        "the awarding organisation",
    )
    assert len(store.outbox) == 1


async def test_the_resolved_event_names_the_batch_that_corrected_for_the_logs_readers() -> None:
    open_one = challenge()
    store = FakeStore(open_one)
    await service(store, FakeRecord(TOUCHES)).resolve(AS_AO, open_one.challenge_id, CORRECTED, None, CORRECTING)
    [envelope] = store.outbox
    envelope_again, event = decode(encode(envelope))
    assert isinstance(event, ChallengeResolved)
    assert event.correcting_batch_id == CORRECTING
    assert envelope_again.event_id == event_id_of(event)  # one resolution, one event, however often it is sent
    assert evolve(open_one, event, AFTER).correcting_batch_id == CORRECTING


async def test_a_resolution_other_than_corrected_names_no_batch_on_the_log() -> None:
    open_one = challenge()
    store = FakeStore(open_one)
    await service(store, FakeRecord(TOUCHES)).resolve(
        AS_AO, open_one.challenge_id, ChallengeResolution.REJECTED, "An appeal, not a data error."
    )
    [envelope] = store.outbox
    assert envelope.data["correcting_batch_id"] is None


async def test_a_challenge_raised_before_its_facts_were_kept_takes_the_qualification_from_the_record() -> None:
    old = challenge(achievement=None)
    resolved = await service(FakeStore(old), FakeRecord(TOUCHES)).resolve(
        AS_AO, old.challenge_id, CORRECTED, None, CORRECTING
    )
    assert resolved.challenge.correcting_batch_id == CORRECTING


async def test_a_batch_unknown_while_the_record_is_behind_the_log_is_not_yet_refused() -> None:
    open_one = challenge()
    with pytest.raises(RecordBehind):
        await service(FakeStore(open_one), FakeRecord(TOUCHES), caught_up=False).resolve(
            AS_AO, open_one.challenge_id, CORRECTED, None, OTHER_LEARNERS
        )


async def test_the_batches_offered_are_those_that_touched_the_achievement_after_the_raise() -> None:
    open_one = challenge()
    offered = await service(FakeStore(open_one), FakeRecord(TOUCHES)).correcting_batches(AS_AO, open_one.challenge_id)
    assert [batch.batch_id for batch in offered] == [CORRECTING]


# --- what the challenge says the achievement is -----------------------------------------------------


def test_a_raised_challenge_carries_what_the_achievement_is_to_the_ao() -> None:
    key = LearnerKey(ULN, secrets.token_bytes(DATA_KEY_BYTES))
    event = raise_challenge(uuid.uuid4(), ACHIEVEMENT_ID, AO, ULN, "My grade was a 5", key, MATHS)
    assert isinstance(event, ChallengeRaised)
    assert event.achievement == MATHS
    challenged = evolve(None, event, RAISED_AT, key)
    assert ChallengePublic.of(challenged, AS_AO).achievement is not None
    assert ChallengePublic.of(replace(challenged, achievement=None), AS_AO).achievement is None
    on_record = AchievementOnRecord(
        ACHIEVEMENT_ID, ULN, AO, False, "6001166X", MATHS.award_date, "4", "GCSE Mathematics"
    )
    assert on_record.described() == MATHS


@pytest.mark.parametrize(
    ("viewer", "said"),
    [
        ("operator:jo", ("operator:jo", "ao:RN5133")),
        ("ao:RN5133", ("an LRS operator", "the awarding organisation")),
        ("learner:1000000043", ("an LRS operator", "the awarding organisation")),
    ],
)
def test_who_acknowledged_and_resolved_is_said_by_name_to_operators_and_by_kind_to_the_ao_and_learner(
    viewer: str, said: tuple[str, str]
) -> None:
    handled = replace(challenge(), acknowledged_by="operator:jo", resolved_by="ao:RN5133")
    shown = ChallengePublic.of(handled, Principal.parse(viewer))
    assert (shown.acknowledged_by, shown.resolved_by) == said
