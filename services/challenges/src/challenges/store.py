"""PostgreSQL: challenge rows and the outbox, always written together in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager

import asyncpg

from challenges.domain import (
    OPEN_STATES,
    Challenge,
    ChallengeState,
    LearnerDataErased,
    RaiseLimit,
    event_ids_of,
    raise_allowed,
)
from lrs_contracts.challenge import ChallengedAchievement, ChallengeResolution
from lrs_contracts.envelope import Envelope
from lrs_contracts.plr import ResultStatus
from lrs_contracts.registry import encode
from lrs_platform.database import where_given
from lrs_platform.paging import PagePosition, beyond

# Raising a challenge and erasing its learner take the same lock, so neither misses the other.
_LEARNER_LOCK = "SELECT pg_advisory_xact_lock(hashtext('challenges.learner|' || $1::text))"
# Raises on one achievement take turns: one open challenge an achievement, whichever of a merged learner's ULNs
# raised it (an achievement is on one person's PLR).
_ACHIEVEMENT_LOCK = "SELECT pg_advisory_xact_lock(hashtext('challenges.achievement|' || $1::text))"
_OPEN_ON_ACHIEVEMENT = (
    "SELECT challenge_id FROM challenges.challenges WHERE achievement_id = $1 AND state <> 'resolved'"
    " ORDER BY raised_at LIMIT 1"
)
# The newest raises of an achievement since a moment, open or not (migration 0014's index): how often it was challenged.
_RAISED_SINCE = (
    "SELECT raised_at FROM challenges.challenges WHERE achievement_id = $1 AND raised_at > $2"
    " ORDER BY raised_at DESC LIMIT $3"
)


class OpenChallengeExists(Exception):
    def __init__(self, challenge_id: uuid.UUID | None) -> None:
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
        acknowledged_by=row["acknowledged_by"],
        resolved_by=row["resolved_by"],
        acknowledged_with_key=row["acknowledged_with_key"],
        resolved_with_key=row["resolved_with_key"],
        resolution=ChallengeResolution(row["resolution"]) if row["resolution"] else None,
        note=row["note"],
        personal_data_erased=row["personal_data_erased"],
        achievement=(
            ChallengedAchievement(
                qualification_number=row["qualification_number"],
                title=row["title"],
                award_date=row["award_date"],
                grade=row["grade"],
                uln=row["recorded_uln"],
                status=ResultStatus(row["result_status"]) if row["result_status"] is not None else None,
                pathway=row["pathway"],
                ukprn=row["ukprn"],
                language_for_assessment=row["language_for_assessment"],
                credits=row["credits"],
            )
            if row["qualification_number"] is not None and row["award_date"] is not None
            else None
        ),
        correcting_batch_id=row["correcting_batch_id"],
    )


def _status_of(achievement: ChallengedAchievement | None) -> str | None:
    return achievement.status.value if achievement is not None and achievement.status is not None else None


def _data_of(achievement: ChallengedAchievement | None) -> tuple[str | None, str | None, str | None, int | None]:
    """Its pathway, centre UKPRN, language for assessment and credits, as the challenge's columns keep them."""
    if achievement is None:
        return (None, None, None, None)
    return (achievement.pathway, achievement.ukprn, achievement.language_for_assessment, achievement.credits)


def _written_before_its_data(achievement: ChallengedAchievement | None) -> bool:
    """The challenge's own event was written before it carried the achievement's pathway, centre, language and
    credits (decision 0192): put back, it waits to take them from the record as the challenges migration 0012 found
    did (`PlrRecord.fill_challenges_data`)."""
    return achievement is not None and not (achievement.model_fields_set & _ACHIEVEMENT_DATA)


_ACHIEVEMENT_DATA = frozenset({"pathway", "ukprn", "language_for_assessment", "credits"})


def _filtered(
    ao_id: str | None,
    ulns: Collection[str] | None,
    ulns_as_recorded: bool,
    also: list[str],
    arguments: list[object],
) -> tuple[str, list[object]]:
    """The WHERE clause of the conditions `also` (of `arguments`, from $1) and the filters given, and every
    argument in order. With `ulns_as_recorded` (an AO's, decision 0162) a ULN finds a challenge raised under it
    or on an achievement recorded under it: PostgreSQL reads both columns' indexes together (a bitmap OR). One
    ULN is an equality, as `where_given` makes it: planned generically, `= ANY` of both columns drew the AO's
    whole index into the bitmap."""
    if ulns is not None and ulns_as_recorded:
        number, asked = len(arguments) + 1, sorted(ulns)
        matches = f"= ${number}" if len(asked) == 1 else f"= ANY(${number}::text[])"
        also = [*also, f"(uln {matches} OR recorded_uln {matches})"]
        arguments = [*arguments, asked[0] if len(asked) == 1 else asked]
        ulns = None
    where, values = where_given({"ao_id": ao_id, "uln": ulns}, also=also, first=len(arguments) + 1)
    return where, [*arguments, *values]


def _in_states(states: Collection[ChallengeState]) -> str:
    """The states named in the statement, in their order (there are three): each set of them has a plan
    of its own, and the open ones (raised, acknowledged) match the partial indexes of migration 0007."""
    named = ", ".join(f"'{state.value}'" for state in ChallengeState if state in states)
    return f"state IN ({named})" if named else "false"


class ChallengeUnitOfWork:
    def __init__(self, connection: asyncpg.Connection, raise_limit: RaiseLimit | None = None) -> None:
        self._connection = connection
        self._raise_limit = raise_limit or RaiseLimit()

    async def get_for_update(self, challenge_id: uuid.UUID) -> Challenge | None:
        row = await self._connection.fetchrow(
            "SELECT * FROM challenges.challenges WHERE challenge_id = $1 FOR UPDATE", challenge_id
        )
        return _challenge(row) if row else None

    async def insert(self, challenge: Challenge) -> None:
        """Raises LearnerDataErased when this service has seen the learner's erasure; OpenChallengeExists when the
        achievement has an open challenge; RaisedTooOften when it was challenged as often as the raise limit allows
        within its window before `challenge.raised_at`. Both are counted holding the achievement's lock, which every
        raise on it takes: raises at once, or a raise and a withdrawal at once, cannot both pass."""
        await self._connection.execute(_LEARNER_LOCK, challenge.uln)
        if await self._connection.fetchval("SELECT 1 FROM challenges.erased_learners WHERE uln = $1", challenge.uln):
            raise LearnerDataErased(challenge.uln)
        # Looked for before inserting, never found by a refused insert: PostgreSQL would write the clashing
        # key, a full ULN, into its server log.
        await self._connection.execute(_ACHIEVEMENT_LOCK, str(challenge.achievement_id))
        existing = await self._connection.fetchval(_OPEN_ON_ACHIEVEMENT, challenge.achievement_id)
        if existing is not None:
            raise OpenChallengeExists(existing)
        limit = self._raise_limit
        recent = await self._connection.fetch(
            _RAISED_SINCE, challenge.achievement_id, challenge.raised_at - limit.window, limit.raises
        )
        raise_allowed(challenge.achievement_id, limit, [row["raised_at"] for row in recent], challenge.raised_at)
        inserted = await self._connection.execute(
            "INSERT INTO challenges.challenges"
            " (challenge_id, achievement_id, ao_id, uln, reason, state, raised_at, updated_at,"
            " qualification_number, award_date, grade, title, recorded_uln, result_status,"
            " pathway, ukprn, language_for_assessment, credits)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
            " ON CONFLICT DO NOTHING",
            challenge.challenge_id,
            challenge.achievement_id,
            challenge.ao_id,
            challenge.uln,
            challenge.reason,
            challenge.state.value,
            challenge.raised_at,
            achievement.qualification_number if (achievement := challenge.achievement) else None,
            achievement.award_date if achievement else None,
            achievement.grade if achievement else None,
            achievement.title if achievement else None,
            achievement.uln if achievement else None,
            _status_of(achievement),
            *_data_of(achievement),
        )
        if inserted != "INSERT 0 1":
            raise OpenChallengeExists(await self._connection.fetchval(_OPEN_ON_ACHIEVEMENT, challenge.achievement_id))

    async def restore(self, challenge: Challenge) -> bool:
        """Puts back a challenge its own event told of (`challenges.recovery`): as the event left it, unless another
        challenge of the achievement is open (raised again meanwhile: one open challenge an achievement). False when
        it is not put back."""
        await self._connection.execute(_ACHIEVEMENT_LOCK, str(challenge.achievement_id))
        still_open = challenge.state is not ChallengeState.RESOLVED
        if still_open and await self._connection.fetchval(_OPEN_ON_ACHIEVEMENT, challenge.achievement_id) is not None:
            return False
        achievement = challenge.achievement
        inserted = await self._connection.execute(
            "INSERT INTO challenges.challenges"
            " (challenge_id, achievement_id, ao_id, uln, reason, state, raised_at, updated_at, acknowledged_at,"
            " resolved_at, resolution, note, personal_data_erased, correcting_batch_id,"
            " qualification_number, award_date, grade, title, recorded_uln, result_status,"
            " pathway, ukprn, language_for_assessment, credits, achievement_data_pending)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, now(), $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,"
            " $20, $21, $22, $23, $24)"
            " ON CONFLICT DO NOTHING",
            challenge.challenge_id,
            challenge.achievement_id,
            challenge.ao_id,
            challenge.uln,
            challenge.reason,
            challenge.state.value,
            challenge.raised_at,
            challenge.acknowledged_at,
            challenge.resolved_at,
            challenge.resolution.value if challenge.resolution else None,
            challenge.note,
            challenge.personal_data_erased,
            challenge.correcting_batch_id,
            achievement.qualification_number if achievement else None,
            achievement.award_date if achievement else None,
            achievement.grade if achievement else None,
            achievement.title if achievement else None,
            achievement.uln if achievement else None,
            _status_of(achievement),
            *_data_of(achievement),
            _written_before_its_data(achievement),
        )
        return bool(inserted == "INSERT 0 1")

    async def is_erased(self, uln: str) -> bool:
        return bool(await self._connection.fetchval("SELECT 1 FROM challenges.erased_learners WHERE uln = $1", uln))

    async def update(self, challenge: Challenge) -> None:
        await self._connection.execute(
            "UPDATE challenges.challenges SET state = $2, acknowledged_at = $3, resolved_at = $4,"
            " resolution = $5, note = $6, correcting_batch_id = $7, acknowledged_by = $8, resolved_by = $9,"
            " acknowledged_with_key = $10, resolved_with_key = $11, updated_at = now() WHERE challenge_id = $1",
            challenge.challenge_id,
            challenge.state.value,
            challenge.acknowledged_at,
            challenge.resolved_at,
            challenge.resolution.value if challenge.resolution else None,
            challenge.note,
            challenge.correcting_batch_id,
            challenge.acknowledged_by,
            challenge.resolved_by,
            challenge.acknowledged_with_key,
            challenge.resolved_with_key,
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
    def __init__(self, pool: asyncpg.Pool, raise_limit: RaiseLimit | None = None) -> None:
        """`raise_limit`: how often an achievement may be challenged (`RaiseLimit`, by default 3 times a day)."""
        self._pool = pool
        self._raise_limit = raise_limit or RaiseLimit()

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[ChallengeUnitOfWork]:
        async with self._pool.acquire() as connection, connection.transaction():
            yield ChallengeUnitOfWork(connection, self._raise_limit)

    async def forget_learners(self, connection: asyncpg.Connection, ulns: Collection[str]) -> int:
        """Erased learners' challenges lose their reason and note, here and in the relayed outbox rows
        (an event written before sealing held them in clear); state, dates and resolution stay.
        Idempotent; returns how many challenges were redacted now. On `connection`, in the transaction it is in
        (the log follower's poll: it commits with the poll's positions)."""
        return await _forget(connection, ulns)

    async def get(self, challenge_id: uuid.UUID) -> Challenge | None:
        row = await self._pool.fetchrow("SELECT * FROM challenges.challenges WHERE challenge_id = $1", challenge_id)
        return _challenge(row) if row else None

    async def open_on(self, achievement_id: uuid.UUID) -> uuid.UUID | None:
        """The id of the achievement's open challenge, if it has one."""
        found: uuid.UUID | None = await self._pool.fetchval(_OPEN_ON_ACHIEVEMENT, achievement_id)
        return found

    async def list(
        self,
        *,
        ao_id: str | None = None,
        ulns: Collection[str] | None = None,
        ulns_as_recorded: bool = False,
        states: Collection[ChallengeState] | None = None,
        after: PagePosition | None = None,
        limit: int = 100,
    ) -> list[Challenge]:
        """The newest `limit` challenges that match every filter given (any of the ULNs, any of the
        states), after `after` in the list's order (newest first, then by id). The ULNs are the raising
        learner's; with `ulns_as_recorded` those the achievements were recorded under too.

        Each set of filters has a statement of its own (`where_given`), over an index in the list's
        order (migrations 0006, 0007): one statement for all of them read the whole table once generic."""
        also, positions = beyond(after, at="raised_at", row_id="challenge_id", newest_first=True) if after else ([], [])
        if states is not None:
            also.append(_in_states(states))
        where, values = _filtered(ao_id, ulns, ulns_as_recorded, also, positions)
        rows = await self._pool.fetch(
            f"SELECT * FROM challenges.challenges{where} ORDER BY raised_at DESC, challenge_id"
            f" LIMIT ${len(values) + 1}",
            *values,
            limit,
        )
        return [_challenge(row) for row in rows]

    async def open_counts(
        self, *, ao_id: str | None = None, ulns: Collection[str] | None = None, ulns_as_recorded: bool = False
    ) -> dict[ChallengeState, int]:
        """How many open challenges match the filters given (the ULNs as `list` takes them), by state: read
        over the open ones alone (an AO's from migration 0007's index)."""
        where, values = _filtered(ao_id, ulns, ulns_as_recorded, [_in_states(OPEN_STATES)], [])
        rows = await self._pool.fetch(
            f"SELECT state, count(*) AS n FROM challenges.challenges{where} GROUP BY state", *values
        )
        return {ChallengeState(row["state"]): row["n"] for row in rows}


async def _forget(connection: asyncpg.Connection, ulns: Collection[str]) -> int:
    for uln in sorted(ulns):
        await connection.execute(_LEARNER_LOCK, uln)
    await connection.execute(
        "INSERT INTO challenges.erased_learners (uln) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING", list(ulns)
    )
    redacted = await connection.fetch(
        "UPDATE challenges.challenges SET reason = NULL, note = NULL, personal_data_erased = true,"
        " updated_at = now() WHERE uln = ANY($1::text[]) AND NOT personal_data_erased RETURNING challenge_id",
        list(ulns),
    )
    if redacted:
        await connection.execute(
            "DELETE FROM challenges.outbox WHERE published_at IS NOT NULL AND event_id = ANY($1::uuid[])",
            [event_id for row in redacted for event_id in event_ids_of(row["challenge_id"])],
        )
    return len(redacted)
