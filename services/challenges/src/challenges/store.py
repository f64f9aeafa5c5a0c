"""PostgreSQL: challenge rows and the outbox, always written together in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from challenges.domain import Challenge, ChallengeState
from lrs_contracts.challenge import ChallengeResolution
from lrs_contracts.envelope import Envelope
from lrs_contracts.registry import encode


class OpenChallengeExists(Exception):
    def __init__(self, challenge_id: uuid.UUID) -> None:
        super().__init__(f"an open challenge already exists: {challenge_id}")
        self.challenge_id = challenge_id


def _challenge(row: asyncpg.Record) -> Challenge:
    return Challenge(
        challenge_id=row["challenge_id"],
        achievement_id=row["achievement_id"],
        ao_id=row["ao_id"],
        uln=row["uln"],
        reason=row["reason"],
        state=ChallengeState(row["state"]),
        raised_at=row["raised_at"],
        acknowledged_at=row["acknowledged_at"],
        resolved_at=row["resolved_at"],
        resolution=ChallengeResolution(row["resolution"]) if row["resolution"] else None,
        note=row["note"],
    )


class ChallengeUnitOfWork:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def get_for_update(self, challenge_id: uuid.UUID) -> Challenge | None:
        row = await self._connection.fetchrow(
            "SELECT * FROM challenges.challenges WHERE challenge_id = $1 FOR UPDATE", challenge_id
        )
        return _challenge(row) if row else None

    async def insert(self, challenge: Challenge) -> None:
        try:
            async with self._connection.transaction():
                await self._connection.execute(
                    "INSERT INTO challenges.challenges"
                    " (challenge_id, achievement_id, ao_id, uln, reason, state, raised_at, updated_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                    challenge.challenge_id,
                    challenge.achievement_id,
                    challenge.ao_id,
                    challenge.uln,
                    challenge.reason,
                    challenge.state.value,
                    challenge.raised_at,
                )
        except asyncpg.UniqueViolationError as error:
            existing = await self._connection.fetchval(
                "SELECT challenge_id FROM challenges.challenges"
                " WHERE uln = $1 AND achievement_id = $2 AND state <> 'resolved'",
                challenge.uln,
                challenge.achievement_id,
            )
            raise OpenChallengeExists(existing) from error

    async def update(self, challenge: Challenge) -> None:
        await self._connection.execute(
            "UPDATE challenges.challenges SET state = $2, acknowledged_at = $3, resolved_at = $4,"
            " resolution = $5, note = $6, updated_at = now() WHERE challenge_id = $1",
            challenge.challenge_id,
            challenge.state.value,
            challenge.acknowledged_at,
            challenge.resolved_at,
            challenge.resolution.value if challenge.resolution else None,
            challenge.note,
        )

    async def add_to_outbox(self, envelope: Envelope, partition_key: str) -> None:
        await self._connection.execute(
            "INSERT INTO challenges.outbox (event_id, partition_key, envelope) VALUES ($1, $2, $3)"
            " ON CONFLICT (event_id) DO NOTHING",
            envelope.event_id,
            partition_key,
            encode(envelope),
        )


class ChallengeStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[ChallengeUnitOfWork]:
        async with self._pool.acquire() as connection, connection.transaction():
            yield ChallengeUnitOfWork(connection)

    async def get(self, challenge_id: uuid.UUID) -> Challenge | None:
        row = await self._pool.fetchrow("SELECT * FROM challenges.challenges WHERE challenge_id = $1", challenge_id)
        return _challenge(row) if row else None

    async def list(
        self,
        *,
        ao_id: str | None = None,
        uln: str | None = None,
        state: ChallengeState | None = None,
        limit: int = 100,
    ) -> list[Challenge]:
        rows = await self._pool.fetch(
            "SELECT * FROM challenges.challenges"
            " WHERE ($1::text IS NULL OR ao_id = $1) AND ($2::text IS NULL OR uln = $2)"
            " AND ($3::text IS NULL OR state = $3)"
            " ORDER BY raised_at DESC, challenge_id LIMIT $4",
            ao_id,
            uln,
            state.value if state else None,
            limit,
        )
        return [_challenge(row) for row in rows]
