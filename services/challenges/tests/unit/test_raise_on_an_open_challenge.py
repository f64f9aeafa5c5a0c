"""A raise that clashed with an open challenge which was resolved before it could be named goes in: nothing
stands in its way any more (it used to answer "an open challenge already exists: None")."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
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


class ClashingConnection:
    """The clash on the first insert; the open challenge it clashed with: `open_after_clash`, or resolved."""

    def __init__(self, open_after_clash: uuid.UUID | None) -> None:
        self.open_after_clash = open_after_clash
        self.clashes_left = 1
        self.inserted = 0

    async def execute(self, query: str, *args: Any) -> str:
        if query.startswith("INSERT INTO challenges.challenges"):
            if self.clashes_left:
                self.clashes_left -= 1
                raise asyncpg.UniqueViolationError("duplicate key value violates unique constraint")
            self.inserted += 1
        return "OK"

    async def fetchval(self, query: str, *args: Any) -> Any:
        if "erased_learners" in query:
            return None
        return self.open_after_clash

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        yield


async def test_a_clash_with_a_challenge_resolved_meanwhile_is_raised_after_all() -> None:
    connection = ClashingConnection(open_after_clash=None)
    await ChallengeUnitOfWork(connection).insert(RAISED)
    assert connection.inserted == 1


async def test_a_clash_with_a_challenge_still_open_names_it() -> None:
    open_one = uuid.uuid4()
    with pytest.raises(OpenChallengeExists) as clash:
        await ChallengeUnitOfWork(ClashingConnection(open_after_clash=open_one)).insert(RAISED)
    assert clash.value.challenge_id == open_one
