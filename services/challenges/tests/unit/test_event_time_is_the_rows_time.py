"""A challenge's event says it occurred at the very instant its row stores (raised_at, acknowledged_at, resolved_at,
a withdrawal's resolved_at too). Reporting dates a challenge's month and working days by the event's `occurred_at`,
the AO's inbox, the portal and `lrs challenges list` by the row, and a restore rebuilds the row from the event: a
second reading of the clock a few milliseconds later put a challenge raised just before a UK month end in month M in
the inbox and M+1 in MI."""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator, Collection
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from challenges.domain import AchievementOnRecord, Challenge, ChallengeState
from challenges.service import ChallengeService
from lrs_contracts.challenge import ChallengeResolution
from lrs_platform.identity import Principal
from lrs_platform.keyring import DATA_KEY_BYTES, LearnerKey

LEARNER, AO = "1000000043", "RN9093"
AS_LEARNER, AS_AO = Principal.parse(f"learner:{LEARNER}"), Principal.parse(f"ao:{AO}")
LAST_MS_OF_MARCH_IN_THE_UK = datetime(2027, 3, 31, 22, 59, 59, 999000, tzinfo=UTC)  # BST: 23:59:59.999 in London


class _Record:
    async def learner_ulns(self, uln: str) -> frozenset[str]:
        return frozenset({uln})

    async def achievement(self, achievement_id: uuid.UUID) -> AchievementOnRecord | None:
        return AchievementOnRecord(achievement_id, LEARNER, AO, False, "60175886", date(2025, 6, 10), "Pass", "BTEC")

    async def withdrawn_among(self, achievement_ids: Collection[uuid.UUID]) -> frozenset[uuid.UUID]:
        return frozenset()


class _Keyring:
    def __init__(self) -> None:
        self._key = LearnerKey(LEARNER, secrets.token_bytes(DATA_KEY_BYTES))

    async def issue(self, ulns: Collection[str]) -> dict[str, LearnerKey]:
        return dict.fromkeys(ulns, self._key)


class _Store:
    """Rows by id and the outbox, as the unit of work leaves them (this test's changes never fail)."""

    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Challenge] = {}
        self.outbox: list[Any] = []

    async def get(self, challenge_id: uuid.UUID) -> Challenge | None:
        return self.rows.get(challenge_id)

    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[_Store]:
        yield self

    async def get_for_update(self, challenge_id: uuid.UUID) -> Challenge | None:
        return self.rows.get(challenge_id)

    async def insert(self, challenge: Challenge) -> None:
        self.rows[challenge.challenge_id] = challenge

    async def update(self, challenge: Challenge) -> None:
        self.rows[challenge.challenge_id] = challenge

    async def add_to_outbox(self, envelope: Any, partition_key: str) -> None:
        self.outbox.append(envelope)


async def _ready(*_: object) -> bool:
    return True


async def _nothing_held(_: Collection[str]) -> bool:
    return False


@pytest.fixture(autouse=True)
def ticking_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every reading of the clock, the service's and the envelope's default alike, a millisecond after the last
    (the skew measured on a running service was 1.6-4 ms): two readings never agree by chance."""
    instants = (LAST_MS_OF_MARCH_IN_THE_UK + timedelta(milliseconds=n) for n in range(10**6))

    def now() -> datetime:
        return next(instants)

    monkeypatch.setattr("challenges.service.utc_now", now)
    monkeypatch.setattr("lrs_contracts.registry.utc_now", now)


def _service() -> tuple[ChallengeService, _Store]:
    store = _Store()
    service = ChallengeService(store, _Record(), _Keyring(), _ready, held=_nothing_held)  # type: ignore[arg-type]
    return service, store


async def test_raise_acknowledge_and_resolve_each_publish_the_instant_the_row_stores() -> None:
    service, store = _service()

    raised = await service.raise_(AS_LEARNER, uuid.uuid4(), None, "my grade was a Distinction")
    await service.acknowledge(AS_AO, raised.challenge_id)
    await service.resolve(AS_AO, raised.challenge_id, ChallengeResolution.UPHELD, "Checked: Pass as awarded.")

    row = store.rows[raised.challenge_id]
    assert row.state is ChallengeState.RESOLVED
    times = {envelope.event_type: envelope.occurred_at for envelope in store.outbox}
    assert times == {
        "lrs.challenge.raised.v2": row.raised_at,
        "lrs.challenge.acknowledged.v1": row.acknowledged_at,
        "lrs.challenge.resolved.v1": row.resolved_at,
    }
    # raised in the last millisecond of March in the UK: the inbox's month and MI's are the same month
    assert row.raised_at == LAST_MS_OF_MARCH_IN_THE_UK
    assert times["lrs.challenge.raised.v2"].astimezone(ZoneInfo("Europe/London")).strftime("%Y-%m") == "2027-03"


async def test_a_withdrawal_publishes_the_instant_the_row_stores() -> None:
    service, store = _service()

    raised = await service.raise_(AS_LEARNER, uuid.uuid4(), None, "not my achievement")
    withdrawn = await service.withdraw(AS_LEARNER, raised.challenge_id)

    assert withdrawn.challenge.resolution is ChallengeResolution.WITHDRAWN
    assert [envelope.occurred_at for envelope in store.outbox] == [raised.raised_at, withdrawn.challenge.resolved_at]
    assert store.rows[raised.challenge_id].resolved_at == withdrawn.challenge.resolved_at
