"""A challenge says whether the AO has withdrawn its achievement since it was raised (`achievement_withdrawn`), from
the challenges service's copy of the PLR log as it is now: the learner's list and one challenge alike, the record
asked once a page."""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator, Collection
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from challenges.api import acknowledge_challenge, get_challenge, list_challenges
from challenges.domain import Challenge, ChallengeState
from challenges.record_store import PlrRecord
from challenges.service import ChallengeService
from lrs_contracts.challenge import ChallengeResolution
from lrs_platform.identity import Principal
from lrs_platform.keyring import DATA_KEY_BYTES, LearnerKey

LEARNER, AO = "1000000043", "RN5133"
LIVE, WITHDRAWN = uuid.uuid4(), uuid.uuid4()


class _Record:
    """The learner has one ULN; `WITHDRAWN` is withdrawn now."""

    def __init__(self) -> None:
        self.asked: list[list[uuid.UUID]] = []

    async def learner_ulns(self, uln: str) -> frozenset[str]:
        return frozenset({uln})

    async def ulns_of_learners(self, ulns: Collection[str]) -> frozenset[str]:
        return frozenset(ulns)

    async def withdrawn_among(self, achievement_ids: Collection[uuid.UUID]) -> frozenset[uuid.UUID]:
        self.asked.append(sorted(achievement_ids))
        return frozenset(achievement_ids) & {WITHDRAWN}


class _Keys:
    """The learner key store: the key that seals an AO's note."""

    async def issue(self, ulns: Collection[str]) -> dict[str, LearnerKey]:
        return {uln: LearnerKey(uln, secrets.token_bytes(DATA_KEY_BYTES)) for uln in ulns}


class _Store:
    def __init__(self, challenges: list[Challenge]) -> None:
        self.challenges = challenges

    async def list(self, **_: Any) -> list[Challenge]:
        return self.challenges

    async def get(self, challenge_id: uuid.UUID) -> Challenge | None:
        return next((challenge for challenge in self.challenges if challenge.challenge_id == challenge_id), None)


def _challenge(achievement_id: uuid.UUID) -> Challenge:
    return Challenge(uuid.uuid4(), achievement_id, AO, LEARNER, "wrong grade", ChallengeState.RAISED, datetime.now(UTC))


async def _held_not_asked(ulns: Collection[str]) -> bool:
    raise AssertionError("only raising a challenge asks whether the learner's events are held")


async def _unused() -> bool:
    raise AssertionError("reading never waits for the record")


async def test_a_challenge_says_whether_its_achievement_is_withdrawn_now() -> None:
    on_withdrawn, on_live = _challenge(WITHDRAWN), _challenge(LIVE)
    record = _Record()
    service = ChallengeService(_Store([on_withdrawn, on_live]), record, None, _unused, held=_held_not_asked)  # type: ignore[arg-type]
    request: Any = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(challenges=service)))
    learner = Principal.parse(f"learner:{LEARNER}")

    page = await list_challenges(learner, request, state=None, ao_id=None, uln=None, after=None, limit=100)
    one = await get_challenge(on_withdrawn.challenge_id, learner, request)
    other = await get_challenge(on_live.challenge_id, Principal.parse(f"ao:{AO}"), request)

    assert [(item.achievement_id, item.state, item.achievement_withdrawn) for item in page.items] == [
        (WITHDRAWN, ChallengeState.RAISED, True),
        (LIVE, ChallengeState.RAISED, False),
    ]
    assert (one.achievement_withdrawn, other.achievement_withdrawn) == (True, False)
    assert record.asked[0] == sorted([WITHDRAWN, LIVE])  # the page's achievements, in one question


class _CountingPool:
    def __init__(self) -> None:
        self.statements: list[tuple[str, tuple[object, ...]]] = []

    async def fetch(self, sql: str, *arguments: object) -> list[dict[str, uuid.UUID]]:
        self.statements.append((sql, arguments))
        return [{"achievement_id": WITHDRAWN}]


async def test_the_record_is_asked_in_one_statement_and_not_at_all_for_no_challenges() -> None:
    pool = _CountingPool()
    record = PlrRecord(pool)

    assert await record.withdrawn_among([WITHDRAWN, LIVE, WITHDRAWN]) == {WITHDRAWN}
    assert await record.withdrawn_among([]) == frozenset()
    [(sql, arguments)] = pool.statements
    assert "withdrawn IS NOT NULL" in sql and arguments == (sorted([WITHDRAWN, LIVE]),)


class _Unreachable(_Record):
    """A record the database cannot be asked of (it went away after the challenge's row was changed)."""

    async def withdrawn_among(self, achievement_ids: Collection[uuid.UUID]) -> frozenset[uuid.UUID]:
        raise ConnectionResetError("the record's database went away")


class _TransactionalStore(_Store):
    """Keeps a unit of work's changes only when it ends without an error, as a database transaction does."""

    def __init__(self, challenges: list[Challenge]) -> None:
        super().__init__(challenges)
        self.outbox: list[Any] = []

    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[_TransactionalStore]:
        self.pending: tuple[list[Challenge], list[Any]] = ([], [])
        yield self
        changed, sent = self.pending
        for challenge in changed:
            self.challenges = [challenge if c.challenge_id == challenge.challenge_id else c for c in self.challenges]
        self.outbox += sent

    async def get_for_update(self, challenge_id: uuid.UUID) -> Challenge | None:
        return await self.get(challenge_id)

    async def update(self, changed: Challenge) -> None:
        self.pending[0].append(changed)

    async def add_to_outbox(self, envelope: Any, partition_key: str) -> None:
        self.pending[1].append(envelope)


async def test_an_acknowledgement_or_resolution_says_whether_the_achievement_is_withdrawn_now() -> None:
    on_withdrawn = _challenge(WITHDRAWN)
    store = _TransactionalStore([on_withdrawn])
    service = ChallengeService(store, _Record(), _Keys(), _unused, held=_held_not_asked)  # type: ignore[arg-type]
    request: Any = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(challenges=service)))

    shown = await acknowledge_challenge(on_withdrawn.challenge_id, Principal.parse(f"ao:{AO}"), request)

    assert (shown.state, shown.achievement_withdrawn) == (ChallengeState.ACKNOWLEDGED, True)
    resolved = await service.resolve(
        Principal.parse(f"ao:{AO}"), on_withdrawn.challenge_id, ChallengeResolution.REJECTED, "Not a data error."
    )
    assert (resolved.challenge.state, resolved.achievement_withdrawn) == (ChallengeState.RESOLVED, True)


async def test_a_change_whose_answer_cannot_be_read_is_not_made() -> None:
    """Asked after the change commits, a failed read would answer an error for a change made (and sent)."""
    raised = _challenge(LIVE)
    store = _TransactionalStore([raised])
    service = ChallengeService(store, _Unreachable(), None, _unused, held=_held_not_asked)  # type: ignore[arg-type]

    with pytest.raises(ConnectionResetError):
        await service.acknowledge(Principal.parse(f"ao:{AO}"), raised.challenge_id)

    assert (store.challenges, store.outbox) == ([raised], [])
