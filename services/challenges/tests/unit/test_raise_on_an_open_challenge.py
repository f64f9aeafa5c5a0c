"""A raise on an achievement that has an open challenge is refused by looking first, never by an insert that
PostgreSQL refuses: its server log would hold the clashing key, a full ULN. An achievement has one open
challenge, whichever of a merged learner's ULNs raised it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from challenges.domain import Challenge, ChallengeState
from challenges.store import ChallengeUnitOfWork, OpenChallengeExists

RAISED = Challenge(
    challenge_id=uuid.uuid4(),
    achievement_id=uuid.uuid4(),
    ao_id="RN5133",
    uln="1000000043",
    reason="The grade is wrong",
    state=ChallengeState.RAISED,
    raised_at=datetime(2026, 12, 1, tzinfo=UTC),
)


class Connection:
    """Answers the look-up of an open challenge on the achievement with `open_one`; records what was run."""

    def __init__(self, open_one: uuid.UUID | None) -> None:
        self.open_one = open_one
        self.run: list[str] = []

    async def execute(self, query: str, *args: Any) -> str:
        self.run.append(query)
        return "INSERT 0 1" if query.startswith("INSERT INTO challenges.challenges") else "SELECT 1"

    async def fetchval(self, query: str, *args: Any) -> Any:
        self.run.append(query)
        if "erased_learners" in query:
            return None
        assert "WHERE achievement_id = $1 AND state <> 'resolved'" in query  # any ULN's: one person's achievement
        return self.open_one

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        self.run.append(query)
        return []  # the achievement's raises of the last day: none

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        yield


def _inserts(connection: Connection) -> list[str]:
    return [query for query in connection.run if query.startswith("INSERT")]


async def test_an_achievement_without_an_open_challenge_takes_the_raise_after_its_lock() -> None:
    connection = Connection(open_one=None)
    await ChallengeUnitOfWork(connection).insert(RAISED)
    assert len(_inserts(connection)) == 1
    locks = [query for query in connection.run if "pg_advisory_xact_lock" in query]
    assert ["challenges.learner|" in locks[0], "challenges.achievement|" in locks[1]] == [True, True]


async def test_an_open_challenge_is_named_and_nothing_is_inserted() -> None:
    open_one = uuid.uuid4()
    connection = Connection(open_one=open_one)
    with pytest.raises(OpenChallengeExists) as clash:
        await ChallengeUnitOfWork(connection).insert(RAISED)
    assert clash.value.challenge_id == open_one
    assert _inserts(connection) == []
