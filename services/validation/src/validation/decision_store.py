"""The decider's durable memory: each AO's achievement states and every decided batch's messages."""

from __future__ import annotations

import asyncio
import struct
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import cramjam
import orjson

from lrs_contracts.plr import AchievementData, AchievementKey, ResultStatus
from lrs_domain.achievements import AchievementState
from lrs_platform.consumer import Failure, classify_failure
from lrs_platform.database import advisory_lock_key
from lrs_platform.logging import get_logger
from validation.text_arrays import text_array


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    topic: str
    key: str
    value: bytes


@dataclass(frozen=True)
class StoredDecision:
    batch_id: uuid.UUID
    failed: bool
    messages: tuple[OutgoingMessage, ...]  # () once published a week ago (`forget_published_messages`)
    published: bool
    # stored by the `record` call that answered it; False: the decision another decider stored first
    ours: bool = False


# A stored decision's messages: this marker, then per message the lengths of its topic, key and value
# and the three as they are. A JSON array of [topic, key, value] (decisions stored before) escaped every
# quote of every value again: 20% more bytes and a second pass over the decision's ~10 MB.
_FRAMED = b"\x00framed-messages-1\n"
_LENGTHS = struct.Struct(">HHI")
_PIECE_BYTES = 262_144
# Decisions stored since 0101: this marker, then the framed messages compressed by zstd at level 1.
# PostgreSQL keeps them as they come (the column's storage is EXTERNAL): its lz4 cost its backend
# ~30 ms more CPU a 10,000-record batch than zstd costs here, and left twice the bytes to write.
_COMPRESSED = b"\x00zstd-framed-messages-1\n"
_LEVEL = 1


def encode_messages(messages: Sequence[OutgoingMessage]) -> bytes:
    """The messages as stored: framed, then compressed a piece at a time (never the ~13 MB framed whole)."""
    compressor = cramjam.zstd.Compressor(level=_LEVEL)
    for piece in _framed_pieces(messages):
        compressor.compress(piece)
    return b"".join((_COMPRESSED, compressor.finish()))


def _framed_pieces(messages: Sequence[OutgoingMessage]) -> Iterator[bytes]:
    """The messages framed, in pieces of about `_PIECE_BYTES`."""
    pack = _LENGTHS.pack
    parts, size = [_FRAMED], len(_FRAMED)
    for message in messages:
        topic, key = message.topic.encode(), message.key.encode()
        parts += (pack(len(topic), len(key), len(message.value)), topic, key, message.value)
        size += _LENGTHS.size + len(topic) + len(key) + len(message.value)
        if size >= _PIECE_BYTES:
            yield b"".join(parts)
            parts, size = [], 0
    if parts:
        yield b"".join(parts)


_log = get_logger("validation.decision_store")

# How long a published decision keeps its messages, how many decisions forget theirs a statement, and how often
# the decisions are looked over.
MESSAGES_KEPT_AFTER_PUBLISHING = timedelta(days=7)
FORGOTTEN_AT_ONCE = 500
FORGET_EVERY_SECONDS = 3600.0


def decode_messages(raw: bytes | None) -> tuple[OutgoingMessage, ...]:
    if raw is None:  # forgotten a week after publishing: nothing will publish them again
        return ()
    if raw.startswith(_COMPRESSED):
        raw = bytes(cramjam.zstd.decompress(memoryview(raw)[len(_COMPRESSED) :]))
    if not raw.startswith(_FRAMED):
        return tuple(OutgoingMessage(topic, key, value.encode()) for topic, key, value in orjson.loads(raw))
    messages = []
    position, end = len(_FRAMED), len(raw)
    while position < end:
        topic_length, key_length, value_length = _LENGTHS.unpack_from(raw, position)
        position += _LENGTHS.size
        topic = raw[position : position + topic_length].decode()
        position += topic_length
        key = raw[position : position + key_length].decode()
        position += key_length
        messages.append(OutgoingMessage(topic, key, raw[position : position + value_length]))
        position += value_length
    return tuple(messages)


# PostgreSQL's binary COPY: its signature, no flags, no header extension; a row of 4 fields; the end.
_COPY_START = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_DECISION_ROW = struct.Struct(">hi16si")
_COPY_END = struct.pack(">h", -1)


async def _decision_copy(batch_id: uuid.UUID, ao_id: str, failed: bool, stored: bytes) -> AsyncIterator[bytes]:
    """The decision's row as a binary COPY stream; `stored`: its messages as `encode_messages` wrote them."""
    ao = ao_id.encode()
    yield b"".join(
        (
            _COPY_START,
            _DECISION_ROW.pack(4, 16, batch_id.bytes, len(ao)),
            ao,
            struct.pack(">i?i", 1, failed, len(stored)),
        )
    )
    yield stored
    yield _COPY_END


def ao_decision_lock_key(ao_id: str) -> int:
    """The lock an AO's decisions and Sandpit resets take turns on."""
    return advisory_lock_key(f"decide:{ao_id}")


class DecisionStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def stored(self, batch_id: uuid.UUID) -> StoredDecision | None:
        """The batch's decision; for one a Sandpit reset forgot, a decision published with nothing left to send
        (read again after the reset, it is never decided again against the emptied Sandpit)."""
        row = await self._pool.fetchrow(
            "SELECT failed, messages, published_at FROM validation.decisions WHERE batch_id = $1"
            " UNION ALL SELECT false, NULL, forgotten_at FROM validation.forgotten_batches WHERE batch_id = $1"
            " LIMIT 1",
            batch_id,
        )
        if row is None:
            return None
        return StoredDecision(
            batch_id, row["failed"], decode_messages(row["messages"]), row["published_at"] is not None
        )

    async def is_decided(self, batch_id: uuid.UUID) -> bool:
        decided: bool = await self._pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM validation.decisions WHERE batch_id = $1)"
            " OR EXISTS (SELECT 1 FROM validation.forgotten_batches WHERE batch_id = $1)",
            batch_id,
        )
        return decided

    async def existing_states(
        self, ao_id: str, learner_qualifications: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], list[AchievementState]]:
        pairs = sorted(set(learner_qualifications))
        ulns, uln_argument = text_array([uln for uln, _ in pairs], 2)
        qans, qan_argument = text_array([qan for _, qan in pairs], 3)
        # Each pair looked up in the primary key (OFFSET 0 keeps the subquery a lateral probe): a plan made
        # for a batch's 10,000 pairs scanned the AO's achievements, sorted them and merged, with parallel
        # workers, ~1.7 times the server's CPU; PostgreSQL's generic plan, used after five executions on a
        # connection, probed already (decision 0112).
        rows = await self._pool.fetch(
            f"SELECT a.* FROM unnest({ulns}, {qans}) AS wanted(uln, qan)"
            " CROSS JOIN LATERAL (SELECT * FROM validation.achievements a WHERE a.ao_id = $1"
            " AND a.uln = wanted.uln AND a.qualification_number = wanted.qan OFFSET 0) a",
            ao_id,
            uln_argument,
            qan_argument,
        )
        states: dict[tuple[str, str], list[AchievementState]] = defaultdict(list)
        for row in rows:
            states[(row["uln"], row["qualification_number"])].append(_state_of(row))
        return dict(states)

    async def ulns_with_achievements(self, ao_id: str, ulns: Collection[str]) -> frozenset[str]:
        """Those of `ulns` under which the AO has an achievement, of any state (a prefix of the primary key)."""
        if not ulns:
            return frozenset()
        rows = await self._pool.fetch(
            "SELECT DISTINCT uln FROM validation.achievements WHERE ao_id = $1 AND uln = ANY($2::text[])",
            ao_id,
            sorted(ulns),
        )
        return frozenset(row["uln"] for row in rows)

    async def record(
        self,
        batch_id: uuid.UUID,
        ao_id: str,
        failed: bool,
        messages: Sequence[OutgoingMessage],
        new_states: Sequence[AchievementState],
        new_achievement_ids: Collection[uuid.UUID] = frozenset(),
    ) -> StoredDecision:
        """Stores the decision and the states it produced in one transaction, once per batch.

        Serialised per AO with an advisory lock; if another decider got there first, its decision wins
        and is returned instead. `new_achievement_ids`: the states no state stood for before the batch
        (`BatchDecision.new_achievement_ids`), inserted without looking for one to replace.
        """
        # Compressing a large batch's messages takes ~20 ms: off the event loop, which is sending them meanwhile.
        stored = await asyncio.get_running_loop().run_in_executor(None, encode_messages, messages)
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", ao_decision_lock_key(ao_id))
            raw = await connection.fetchrow(
                "SELECT failed, messages, published_at FROM validation.decisions WHERE batch_id = $1", batch_id
            )
            if raw is not None:
                published = raw["published_at"] is not None
                return StoredDecision(batch_id, raw["failed"], decode_messages(raw["messages"]), published)
            # Whoever stores this batch holds its AO's lock, so none can come between the read and the copy.
            await connection.copy_to_table(
                "decisions",
                schema_name="validation",
                columns=["batch_id", "ao_id", "failed", "messages"],
                source=_decision_copy(batch_id, ao_id, failed, stored),
                format="binary",
            )
            if new_states:
                await _write_states(connection, new_states, new_achievement_ids, batch_id)
        return StoredDecision(batch_id, failed, tuple(messages), False, ours=True)

    async def mark_published(self, batch_id: uuid.UUID) -> None:
        await self._pool.execute(
            "UPDATE validation.decisions SET published_at = now() WHERE batch_id = $1 AND published_at IS NULL",
            batch_id,
        )

    async def forget_published_messages(self, older_than: timedelta = MESSAGES_KEPT_AFTER_PUBLISHING) -> int:
        """Forgets the messages of up to `FORGOTTEN_AT_ONCE` decisions published more than `older_than` ago
        (their rows stay); returns how many. A published decision's messages are read again only to log their
        count: a batch read again finds it published and publishes nothing."""
        forgotten = await self._pool.fetchval(
            "WITH forgotten AS (UPDATE validation.decisions SET messages = NULL WHERE batch_id IN ("
            " SELECT batch_id FROM validation.decisions WHERE published_at < now() - $1::interval"
            " AND messages IS NOT NULL LIMIT $2)"
            " RETURNING 1) SELECT count(*) FROM forgotten",
            older_than,
            FORGOTTEN_AT_ONCE,
        )
        return int(forgotten)

    async def forget_published_messages_forever(self, every_seconds: float = FORGET_EVERY_SECONDS) -> None:
        """Runs until cancelled: every `every_seconds`, the messages published a week ago are forgotten, a statement
        of `FORGOTTEN_AT_ONCE` decisions at a time with a pause between (the decider's batches go first)."""
        while True:
            forgotten = 0
            try:
                while (some := await self.forget_published_messages()) > 0:
                    forgotten += some
                    if some < FORGOTTEN_AT_ONCE:
                        break
                    await asyncio.sleep(0.1)
            except Exception as error:
                if classify_failure(error) is not Failure.TRANSIENT:
                    raise
                _log.warning("decision_messages_not_forgotten", error=type(error).__name__, retry_in=every_seconds)
            if forgotten:
                _log.info("decision_messages_forgotten", decisions=forgotten)
            await asyncio.sleep(every_seconds)


_STATE_COLUMNS = [
    "ao_id",
    "uln",
    "qualification_number",
    "award_date",
    "achievement_id",
    "status",
    "withdrawn",
    "data",
    "last_batch_id",
]


async def _write_states(
    connection: asyncpg.Connection,
    states: Sequence[AchievementState],
    new_achievement_ids: Collection[uuid.UUID],
    batch_id: uuid.UUID,
) -> None:
    """New achievements by COPY straight into the table; the others (and all of them, should a new one
    stand there after all) by one set-based upsert. An upsert costs PostgreSQL about twice a COPY's
    time a row: a scratch table's COPY, then a conflict check and the insert."""
    data_json: dict[int, str] = {}  # the decision shares one data object between identical results
    created = [state for state in states if state.achievement_id in new_achievement_ids]
    changed = [state for state in states if state.achievement_id not in new_achievement_ids]
    if created:
        try:
            async with connection.transaction():  # a savepoint: on a conflict, every state is upserted
                await connection.copy_records_to_table(
                    "achievements",
                    schema_name="validation",
                    records=[_state_row(state, batch_id, data_json) for state in created],
                    columns=_STATE_COLUMNS,
                )
        except asyncpg.UniqueViolationError:
            changed = list(states)
    if changed:
        await _upsert_states(connection, changed, batch_id, data_json)


async def _upsert_states(
    connection: asyncpg.Connection, states: Sequence[AchievementState], batch_id: uuid.UUID, data_json: dict[int, str]
) -> None:
    """COPY into a scratch table, then one set-based upsert: 10,000 states in one round trip each."""
    await connection.execute(
        "CREATE TEMP TABLE IF NOT EXISTS incoming_states (LIKE validation.achievements) ON COMMIT DELETE ROWS"
    )
    await connection.copy_records_to_table(
        "incoming_states", records=[_state_row(state, batch_id, data_json) for state in states], columns=_STATE_COLUMNS
    )
    await connection.execute(
        "INSERT INTO validation.achievements SELECT * FROM incoming_states"
        " ON CONFLICT (ao_id, uln, qualification_number, award_date) DO UPDATE SET"
        " achievement_id = EXCLUDED.achievement_id, status = EXCLUDED.status, withdrawn = EXCLUDED.withdrawn,"
        " data = EXCLUDED.data, last_batch_id = EXCLUDED.last_batch_id"
    )


def _state_row(state: AchievementState, batch_id: uuid.UUID, data_json: dict[int, str]) -> tuple[object, ...]:
    data = data_json.get(id(state.data))
    if data is None:
        data = data_json[id(state.data)] = state.data.model_dump_json()
    return (
        state.key.ao_id,
        state.key.uln,
        state.key.qualification_number,
        state.key.award_date,
        state.achievement_id,
        state.status.value,
        state.withdrawn,
        data,
        batch_id,
    )


def _state_of(row: asyncpg.Record) -> AchievementState:
    return AchievementState(
        achievement_id=row["achievement_id"],
        key=AchievementKey(
            ao_id=row["ao_id"],
            uln=row["uln"],
            qualification_number=row["qualification_number"],
            award_date=row["award_date"],
        ),
        data=AchievementData.model_validate_json(row["data"]),
        status=ResultStatus(row["status"]),
        withdrawn=row["withdrawn"],
    )
