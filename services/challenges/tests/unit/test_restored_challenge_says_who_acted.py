"""A challenge restored from its own events (a database restored to an earlier point, decision 0172) says who
acknowledged, resolved or withdrew it: each event's envelope names the principal that acted in its `causation_id`
(`ChallengeService._append`), and `challenges.recovery` keeps it as `acknowledged_by` / `resolved_by`. It read
null for every restored change (walk report "challenges", finding 4). An envelope naming no principal leaves them
null; the key the principal used is on no event, so it is never restored."""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime

from challenges.domain import Challenge, ChallengeState
from challenges.recovery import OwnEvents
from lrs_contracts.challenge import ChallengeAcknowledged, ChallengeResolution, ChallengeResolved
from lrs_contracts.envelope import Contract
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import CHALLENGE_EVENTS
from lrs_platform.consumer import Message
from lrs_platform.keyring import DATA_KEY_BYTES, LearnerKey, Purpose

LEARNER, AO = "1000000043", "RN5133"
KEY = LearnerKey(LEARNER, secrets.token_bytes(DATA_KEY_BYTES))


class _Keyring:
    async def find(self, ulns: Iterable[str]) -> dict[str, LearnerKey]:
        return {uln: KEY for uln in ulns if uln == LEARNER}


class _UnitOfWork:
    def __init__(self, challenges: dict[uuid.UUID, Challenge]) -> None:
        self._challenges = challenges

    async def get_for_update(self, challenge_id: uuid.UUID) -> Challenge | None:
        return self._challenges.get(challenge_id)

    async def update(self, changed: Challenge) -> None:
        self._challenges[changed.challenge_id] = changed


class _Store:
    def __init__(self, *known: Challenge) -> None:
        self.challenges = {challenge.challenge_id: challenge for challenge in known}

    async def get(self, challenge_id: uuid.UUID) -> Challenge | None:
        return self.challenges.get(challenge_id)

    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[_UnitOfWork]:
        yield _UnitOfWork(self.challenges)


def _raised() -> Challenge:
    """The challenge as the restored database has it: raised, its answers lost."""
    return Challenge(uuid.uuid4(), uuid.uuid4(), AO, LEARNER, "wrong grade", ChallengeState.RAISED, datetime.now(UTC))


def _own(*written: tuple[Contract, str | None]) -> list[Message]:
    """Each event as the service wrote it, `causation_id` the principal that acted (None: written without one)."""
    return [
        Message(
            CHALLENGE_EVENTS.name,
            0,
            offset,
            LEARNER.encode(),
            encode(wrap(event, source="challenges", correlation_id=str(uuid.uuid4()), causation_id=by)),
        )
        for offset, (event, by) in enumerate(written)
    ]


def _acknowledged(challenge: Challenge) -> ChallengeAcknowledged:
    return ChallengeAcknowledged(challenge_id=challenge.challenge_id, achievement_id=challenge.achievement_id, ao_id=AO)


def _resolved(challenge: Challenge, resolution: ChallengeResolution, note: str | None = None) -> ChallengeResolved:
    return ChallengeResolved(
        challenge_id=challenge.challenge_id,
        achievement_id=challenge.achievement_id,
        ao_id=AO,
        uln=LEARNER,
        resolution=resolution,
        note_sealed=KEY.seal_text(Purpose.CHALLENGE_NOTE, note) if note is not None else None,
    )


async def test_the_aos_acknowledgement_and_resolution_come_back_with_the_ao_that_gave_them() -> None:
    challenge = _raised()
    store = _Store(challenge)

    await OwnEvents(store, _Keyring()).apply(  # type: ignore[arg-type]
        _own(
            (_acknowledged(challenge), f"ao:{AO}"),
            (_resolved(challenge, ChallengeResolution.UPHELD, "The grade is as awarded."), f"ao:{AO}"),
        )
    )

    restored = store.challenges[challenge.challenge_id]
    assert (restored.state, restored.resolution, restored.note) == (
        ChallengeState.RESOLVED,
        ChallengeResolution.UPHELD,
        "The grade is as awarded.",
    )
    assert (restored.acknowledged_by, restored.resolved_by) == (f"ao:{AO}", f"ao:{AO}")
    assert (restored.acknowledged_with_key, restored.resolved_with_key) == (None, None)  # on no event


async def test_an_operators_resolution_comes_back_with_the_operator() -> None:
    challenge = _raised()
    store = _Store(challenge)

    await OwnEvents(store, _Keyring()).apply(  # type: ignore[arg-type]
        _own((_resolved(challenge, ChallengeResolution.REJECTED, "An appeal: contact the AO."), "operator:desk"))
    )

    restored = store.challenges[challenge.challenge_id]
    assert (restored.acknowledged_by, restored.resolved_by) == (None, "operator:desk")


async def test_a_withdrawal_comes_back_with_the_learner_who_withdrew() -> None:
    challenge = _raised()
    store = _Store(challenge)

    await OwnEvents(store, _Keyring()).apply(  # type: ignore[arg-type]
        _own((_resolved(challenge, ChallengeResolution.WITHDRAWN), f"learner:{LEARNER}"))
    )

    restored = store.challenges[challenge.challenge_id]
    assert (restored.resolution, restored.resolved_by) == (ChallengeResolution.WITHDRAWN, f"learner:{LEARNER}")


async def test_an_envelope_naming_no_principal_restores_the_change_without_anyone() -> None:
    challenge = _raised()
    store = _Store(challenge)

    await OwnEvents(store, _Keyring()).apply(  # type: ignore[arg-type]
        _own(
            (_acknowledged(challenge), None),
            (_resolved(challenge, ChallengeResolution.CORRECTED), "req-8f14e45fceea167a"),
        )
    )

    restored = store.challenges[challenge.challenge_id]
    assert restored.state is ChallengeState.RESOLVED
    assert (restored.acknowledged_by, restored.resolved_by) == (None, None)
