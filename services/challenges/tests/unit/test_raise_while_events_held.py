"""A learner whose events the challenges service holds parked (a poison of theirs on the PLR log, and what came after
it) raises no challenge until an operator has retried or skipped it: the service's copy of their record is short of
those events, and a challenge keeps the grade and status that copy shows ("Grade when raised: Distinction" while the
PLR said Pass). Refused as the projector refuses a credential then: 409 `EVENTS_HELD_IN_DEAD_LETTERS`."""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator, Collection
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest

from challenges.api import ChallengeCreate, _translate, raise_challenge
from challenges.domain import AchievementOnRecord, Challenge
from challenges.service import ChallengeService, EventsHeld
from lrs_contracts.codes import ProblemCode
from lrs_platform.identity import Principal
from lrs_platform.keyring import DATA_KEY_BYTES, LearnerKey
from lrs_platform.problems import ProblemError

LEARNER, MERGED_INTO_LEARNER, SOMEONE_ELSE = "1000000043", "1026893096", "6936002314"
AO = "RN9093"
ACHIEVEMENT_ID = uuid.UUID("66666666-7777-4888-9999-00000000000a")
UNKNOWN_ACHIEVEMENT_ID = uuid.UUID("66666666-7777-4888-9999-00000000000b")


class MergedRecord:
    """The service's copy of the PLR log: a learner with a ULN merged into theirs, the achievement recorded under the
    merged one with the grade the record last applied."""

    async def learner_ulns(self, uln: str) -> frozenset[str]:
        return frozenset({LEARNER, MERGED_INTO_LEARNER}) if uln in (LEARNER, MERGED_INTO_LEARNER) else frozenset({uln})

    async def achievement(self, achievement_id: uuid.UUID) -> AchievementOnRecord | None:
        if achievement_id != ACHIEVEMENT_ID:
            return None
        return AchievementOnRecord(
            achievement_id, MERGED_INTO_LEARNER, AO, False, "60175886", date(2025, 6, 10), "Distinction", "BTEC"
        )


class Parked:
    """`HeldLearners`: the ULNs with events parked, and each question asked of it."""

    def __init__(self, *ulns: str) -> None:
        self.ulns = frozenset(ulns)
        self.asked: list[frozenset[str]] = []

    async def __call__(self, ulns: Collection[str]) -> bool:
        self.asked.append(frozenset(ulns))
        return bool(self.ulns & set(ulns))


class Keyring:
    def __init__(self) -> None:
        self.issued: list[str] = []

    async def issue(self, ulns: Collection[str]) -> dict[str, LearnerKey]:
        self.issued.extend(ulns)
        return {uln: LearnerKey(uln, secrets.token_bytes(DATA_KEY_BYTES)) for uln in ulns}


class UnitOfWork:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def insert(self, challenge: Challenge) -> None:
        self.store.rows.append(challenge)

    async def add_to_outbox(self, envelope: Any, partition_key: str) -> None:
        self.store.outbox.append(envelope)


class Store:
    def __init__(self) -> None:
        self.rows: list[Challenge] = []
        self.outbox: list[Any] = []

    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        yield UnitOfWork(self)


class CatchUp:
    def __init__(self) -> None:
        self.waited = 0

    async def __call__(self) -> bool:
        self.waited += 1
        return True


def _service(parked: Parked) -> tuple[ChallengeService, Store, Keyring, CatchUp]:
    store, keyring, catch_up = Store(), Keyring(), CatchUp()
    service = ChallengeService(store, MergedRecord(), keyring, catch_up, held=parked)  # type: ignore[arg-type]
    return service, store, keyring, catch_up


@pytest.mark.parametrize("parked_under", [LEARNER, MERGED_INTO_LEARNER])
async def test_a_learner_with_events_parked_under_any_of_their_ulns_raises_nothing(parked_under: str) -> None:
    parked = Parked(parked_under)
    service, store, keyring, _ = _service(parked)

    with pytest.raises(EventsHeld):
        await service.raise_(Principal.parse(f"learner:{LEARNER}"), ACHIEVEMENT_ID, None, "my grade was a Pass")

    assert parked.asked == [frozenset({LEARNER, MERGED_INTO_LEARNER})], "every ULN of theirs, in one question"
    assert (store.rows, store.outbox, keyring.issued) == ([], [], [])


async def test_an_achievement_not_on_the_record_while_events_are_held_is_held_not_waited_for_nor_not_found() -> None:
    """Recorded after the poison, it waits parked behind it: "not on your record" would be wrong, and waiting for
    the record to catch up waits for an operator."""
    service, store, _, catch_up = _service(Parked(LEARNER))

    with pytest.raises(EventsHeld):
        await service.raise_(Principal.parse(f"learner:{LEARNER}"), UNKNOWN_ACHIEVEMENT_ID, None, "not mine")

    assert (catch_up.waited, store.rows) == (0, [])


async def test_events_parked_for_another_learner_hold_no_one_else_back() -> None:
    parked = Parked(SOMEONE_ELSE)
    service, store, keyring, _ = _service(parked)

    raised = await service.raise_(Principal.parse(f"learner:{LEARNER}"), ACHIEVEMENT_ID, None, "my grade was a Pass")

    assert store.rows == [raised] and len(store.outbox) == 1 and keyring.issued == [LEARNER]
    assert raised.achievement is not None and raised.achievement.grade == "Distinction"
    assert parked.asked == [frozenset({LEARNER, MERGED_INTO_LEARNER})]


def test_the_learner_is_told_their_record_is_being_repaired_and_to_try_again_later() -> None:
    problem = _translate(EventsHeld(LEARNER)).problem

    assert (problem.status, problem.code) == (409, ProblemCode.EVENTS_HELD_IN_DEAD_LETTERS)
    assert problem.type == "/problems/EVENTS_HELD_IN_DEAD_LETTERS"
    assert problem.detail is not None
    assert "No challenge was raised" in problem.detail
    assert "An operator is repairing your record: try again later." in problem.detail


async def test_the_route_answers_409_events_held_and_no_challenge() -> None:
    service, store, _, _ = _service(Parked(MERGED_INTO_LEARNER))
    request: Any = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(challenges=service)))
    response: Any = SimpleNamespace(headers={})
    body = ChallengeCreate(achievement_id=ACHIEVEMENT_ID, reason="my grade was a Pass")

    with pytest.raises(ProblemError) as refused:
        await raise_challenge(body, Principal.parse(f"learner:{LEARNER}"), request, response)

    assert (refused.value.problem.status, refused.value.problem.code) == (409, "EVENTS_HELD_IN_DEAD_LETTERS")
    assert (store.rows, response.headers) == ([], {})
