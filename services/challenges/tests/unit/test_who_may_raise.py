"""Only a learner raises a challenge, against their own PLR: an awarding organisation, a provider or an operator
is refused by the kind of principal it is, before the record or the learner's key is looked at, and nothing is
stored or published."""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator, Collection
from datetime import date
from typing import Any

import pytest

from challenges.domain import AchievementOnRecord, Challenge, ChallengeState
from challenges.service import ChallengeService, NotAllowed
from lrs_platform.identity import Principal
from lrs_platform.keyring import DATA_KEY_BYTES, LearnerKey

ULN, AO = "1000000043", "RN5133"
ACHIEVEMENT_ID = uuid.UUID("66666666-7777-4888-9999-000000000001")


class AnyoneRecord:
    """A copy of the PLR log that would put the achievement on anyone's PLR: only the kind check refuses."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def learner_ulns(self, uln: str) -> frozenset[str]:
        self.asked.append(f"learner_ulns {uln}")
        return frozenset({ULN})

    async def achievement(self, achievement_id: uuid.UUID) -> AchievementOnRecord | None:
        self.asked.append(f"achievement {achievement_id}")
        return AchievementOnRecord(achievement_id, ULN, AO, False, "6001166X", date(2026, 8, 20), "4", "GCSE Maths")


class Keyring:
    def __init__(self) -> None:
        self.issued: list[str] = []

    async def issue(self, ulns: Collection[str]) -> dict[str, LearnerKey]:
        self.issued.extend(ulns)
        return {uln: LearnerKey(uln, secrets.token_bytes(DATA_KEY_BYTES)) for uln in ulns}


class FakeUnitOfWork:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    async def insert(self, challenge: Challenge) -> None:
        self.store.rows[challenge.challenge_id] = challenge

    async def add_to_outbox(self, envelope: Any, partition_key: str) -> None:
        self.store.outbox.append(envelope)


class FakeStore:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Challenge] = {}
        self.outbox: list[Any] = []

    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[FakeUnitOfWork]:
        yield FakeUnitOfWork(self)


async def _caught_up() -> bool:
    return True


async def _nothing_held(ulns: Collection[str]) -> bool:
    return False


@pytest.mark.parametrize("principal", [f"ao:{AO}", "provider:10000001", "operator:ops"])
async def test_anyone_but_a_learner_is_refused_a_raise_and_nothing_is_stored(principal: str) -> None:
    store, record, keyring = FakeStore(), AnyoneRecord(), Keyring()
    service = ChallengeService(store, record, keyring, _caught_up, held=_nothing_held)  # type: ignore[arg-type]

    with pytest.raises(NotAllowed):
        await service.raise_(Principal.parse(principal), ACHIEVEMENT_ID, AO, "My grade was a 5")

    assert (store.rows, store.outbox) == ({}, [])
    assert (record.asked, keyring.issued) == ([], [])


async def test_a_learner_gets_past_the_check_and_raises_the_challenge() -> None:
    store, keyring = FakeStore(), Keyring()
    service = ChallengeService(store, AnyoneRecord(), keyring, _caught_up, held=_nothing_held)  # type: ignore[arg-type]

    raised = await service.raise_(Principal.parse(f"learner:{ULN}"), ACHIEVEMENT_ID, AO, "My grade was a 5")

    assert (raised.state, raised.uln, raised.ao_id, raised.achievement_id) == (
        ChallengeState.RAISED,
        ULN,
        AO,
        ACHIEVEMENT_ID,
    )
    assert list(store.rows.values()) == [raised]
    assert len(store.outbox) == 1 and keyring.issued == [ULN]
