"""A challenge keeps, beside who acknowledged and who resolved (or withdrew) it, the API key each of them used (its id,
never the secret), as a batch keeps `submitted_with_key`: an AO's systems and portal users all act as `ao:<id>`, and
only the key (a portal user's session key is labelled with their username) says which of them answered, or which
answers a leaked key gave (walk report "challenges", finding 2). Operators are told the keys; the AO only its own, as
it reads its own batches' `submitted_with_key` (not an operator's who acted for it); the learner none."""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator, Collection, Iterable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from challenges.api import (
    ChallengePublic,
    ChallengeResolve,
    acknowledge_challenge,
    get_challenge,
    resolve_challenge,
    withdraw_challenge,
)
from challenges.domain import Challenge, ChallengeState
from challenges.service import ChallengeService
from lrs_contracts.challenge import ChallengeResolution
from lrs_platform.identity import Principal, PrincipalKind
from lrs_platform.keyring import DATA_KEY_BYTES, LearnerKey

LEARNER, AO = "1000000043", "RN5133"
AO_KEY, DESK_KEY, LEARNER_KEY = "e106a2eb71d389fe", "5a0c9d1e2f3b4a67", "1fbcd3a539863d9a"
AS_AO = Principal(PrincipalKind.AO, AO, key_id=AO_KEY)
AS_DESK = Principal(PrincipalKind.OPERATOR, "desk", key_id=DESK_KEY)
AS_LEARNER = Principal(PrincipalKind.LEARNER, LEARNER, key_id=LEARNER_KEY)
AS_ANOTHER_DESK = Principal(PrincipalKind.OPERATOR, "oncall", key_id="0000000000000000")
KEY = LearnerKey(LEARNER, secrets.token_bytes(DATA_KEY_BYTES))


def _raised() -> Challenge:
    return Challenge(uuid.uuid4(), uuid.uuid4(), AO, LEARNER, "wrong grade", ChallengeState.RAISED, datetime.now(UTC))


class _Record:
    async def learner_ulns(self, uln: str) -> frozenset[str]:
        return frozenset({uln})

    async def withdrawn_among(self, achievement_ids: Collection[uuid.UUID]) -> frozenset[uuid.UUID]:
        return frozenset()


class _Keys:
    async def issue(self, ulns: Iterable[str]) -> dict[str, LearnerKey]:
        return {uln: KEY for uln in ulns}


class _Store:
    def __init__(self, challenge: Challenge) -> None:
        self.challenge = challenge

    async def get(self, challenge_id: uuid.UUID) -> Challenge | None:
        return self.challenge if challenge_id == self.challenge.challenge_id else None

    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[_Store]:
        yield self

    async def get_for_update(self, challenge_id: uuid.UUID) -> Challenge | None:
        return await self.get(challenge_id)

    async def update(self, changed: Challenge) -> None:
        self.challenge = changed

    async def add_to_outbox(self, envelope: Any, partition_key: str) -> None:
        pass


async def _unused(*_: object) -> bool:
    raise AssertionError("not asked")


def _request(store: _Store) -> Any:
    service = ChallengeService(store, _Record(), _Keys(), _unused, held=_unused)  # type: ignore[arg-type]
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(challenges=service)))


async def test_the_keys_the_ao_acknowledged_and_an_operator_resolved_with_are_kept() -> None:
    store = _Store(_raised())
    challenge_id = store.challenge.challenge_id

    await acknowledge_challenge(challenge_id, AS_AO, _request(store))
    await resolve_challenge(
        challenge_id,
        ChallengeResolve(resolution=ChallengeResolution.REJECTED, note="An appeal: ask the AO."),
        AS_DESK,
        _request(store),
    )

    kept = store.challenge
    assert (kept.acknowledged_by, kept.acknowledged_with_key) == (f"ao:{AO}", AO_KEY)
    assert (kept.resolved_by, kept.resolved_with_key) == ("operator:desk", DESK_KEY)


async def test_operators_are_told_every_key_the_ao_its_own_only_and_the_learner_none() -> None:
    store = _Store(_raised())
    challenge_id = store.challenge.challenge_id
    await acknowledge_challenge(challenge_id, AS_AO, _request(store))
    await resolve_challenge(
        challenge_id,
        ChallengeResolve(resolution=ChallengeResolution.REJECTED, note="An appeal: ask the AO."),
        AS_DESK,
        _request(store),
    )

    def keys(shown: ChallengePublic) -> tuple[str | None, str | None]:
        return (shown.acknowledged_with_key, shown.resolved_with_key)

    assert keys(await get_challenge(challenge_id, AS_ANOTHER_DESK, _request(store))) == (AO_KEY, DESK_KEY)
    assert keys(await get_challenge(challenge_id, AS_AO, _request(store))) == (AO_KEY, None)
    assert keys(await get_challenge(challenge_id, AS_LEARNER, _request(store))) == (None, None)


async def test_a_withdrawal_keeps_the_learners_key_told_to_operators_alone() -> None:
    store = _Store(_raised())
    challenge_id = store.challenge.challenge_id

    shown = await withdraw_challenge(challenge_id, AS_LEARNER, _request(store))

    assert (store.challenge.resolved_by, store.challenge.resolved_with_key) == (f"learner:{LEARNER}", LEARNER_KEY)
    assert shown.resolved_with_key is None  # the learner is told no key, their own included
    assert (await get_challenge(challenge_id, AS_AO, _request(store))).resolved_with_key is None
    assert (await get_challenge(challenge_id, AS_DESK, _request(store))).resolved_with_key == LEARNER_KEY


def test_a_challenge_answered_before_keys_were_kept_says_none() -> None:
    answered = Challenge(
        uuid.uuid4(),
        uuid.uuid4(),
        AO,
        LEARNER,
        "wrong grade",
        ChallengeState.RESOLVED,
        datetime.now(UTC),
        acknowledged_by=f"ao:{AO}",
        resolved_by=f"ao:{AO}",
        resolution=ChallengeResolution.CORRECTED,
    )

    shown = ChallengePublic.of(answered, AS_DESK)
    assert (shown.acknowledged_with_key, shown.resolved_with_key) == (None, None)
