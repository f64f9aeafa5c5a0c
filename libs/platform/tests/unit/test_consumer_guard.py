"""The shared consumer's pure parts and the guard's decisions, with an in-memory parked table."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from prometheus_client import REGISTRY
from pydantic import BaseModel, ValidationError

from lrs_contracts.dead_letters import DeadLetter, Headers
from lrs_contracts.plr import AchievementKey, AchievementWithdrawn, Provenance
from lrs_contracts.registry import UnknownEventType, decode, encode, wrap
from lrs_platform.consumer import (
    Attempts,
    Failure,
    Message,
    Poisoned,
    PoisonGuard,
    RetryPolicy,
    Transient,
    classify_failure,
    collector_paused,
)
from lrs_platform.kafka import MAX_MESSAGE_BYTES
from lrs_platform.keyring import KeyringUnavailable
from lrs_platform.parking import (
    DEAD_LETTER_MARGIN_BYTES,
    CannotReplay,
    DeadLetterAction,
    DeadLetterOffice,
    DeadLetterPublisher,
    NotACorrectedCopy,
    NotParked,
    ParkedRow,
    Parking,
    ReplayResult,
    Stream,
    dead_letter_copy,
    send_dead_letter,
)

NO_WAIT = RetryPolicy(base_seconds=0.0, max_seconds=0.0, poison_attempts=3)


@pytest.mark.parametrize(
    "error",
    [
        OSError("connection refused"),
        ConnectionResetError(),
        TimeoutError(),
        KafkaConnectionError(),
        asyncpg.exceptions.ConnectionDoesNotExistError("gone"),
        asyncpg.exceptions.CannotConnectNowError("starting up"),
        asyncpg.exceptions.SerializationError("retry"),
        asyncpg.exceptions.DeadlockDetectedError("retry"),
        asyncpg.exceptions.TooManyConnectionsError("full"),
        asyncpg.exceptions.LockNotAvailableError("lock timeout"),
        asyncpg.InterfaceError("pool is closing"),
        asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress"),
        Transient("smtp away", delay=1.0),
        KeyringUnavailable("the learner key store cannot be reached"),
        # the database refusing the service's login (a credential rotated, a role disabled), a standby reached
        # after a switchover, a session ended by a timeout, a grant missing: none of them is the message's fault
        asyncpg.exceptions.InvalidPasswordError('password authentication failed for user "validation"'),
        asyncpg.exceptions.InvalidAuthorizationSpecificationError('role "validation" is not permitted to log in'),
        asyncpg.exceptions.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only transaction"),
        asyncpg.exceptions.IdleInTransactionSessionTimeoutError("terminating connection due to idle-in-transaction"),
        asyncpg.exceptions.InsufficientPrivilegeError("permission denied for table decisions"),
    ],
)
def test_infrastructure_failures_are_transient(error: Exception) -> None:
    assert classify_failure(error) is Failure.TRANSIENT


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence for encoding UTF8: 0x00"),
        asyncpg.exceptions.StringDataRightTruncationError("too long"),
        asyncpg.exceptions.NotNullViolationError("null"),
        ValueError("Header values may not contain linefeed or carriage return characters"),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
        KeyError("grade"),
        TypeError("bug"),
    ],
)
def test_errors_of_the_message_itself_are_poison(error: Exception) -> None:
    assert classify_failure(error) is Failure.POISON


def test_backoff_doubles_from_the_base_and_never_passes_the_ceiling() -> None:
    policy = RetryPolicy(base_seconds=0.5, max_seconds=30.0)
    assert [policy.delay(attempt) for attempt in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert max(policy.delay(attempt) for attempt in range(1, 1_000)) == 30.0
    # an outage of days: the 1,025th attempt's 2**1024 had no float, and ended the loop that retried it
    assert policy.delay(1_025) == policy.delay(1_000_000) == 30.0


class Flaky:
    """Fails with the given errors in turn, then succeeds."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


async def test_transient_failures_are_retried_until_they_pass_and_never_count_as_poison() -> None:
    effect = Flaky(*[OSError("down")] * 10, ValueError("once"))
    assert await Attempts("c", NO_WAIT).run(effect) == "done"
    assert effect.calls == 12


async def test_a_database_refusing_the_login_or_writes_is_waited_out_not_given_up() -> None:
    """Each fails every message alike until the database is put right: three of them gave a batch up (the decider's
    `BatchAbandoned`, "submit the file again") within a second of a credential rotation."""
    effect = Flaky(
        asyncpg.exceptions.InvalidPasswordError('password authentication failed for user "validation"'),
        asyncpg.exceptions.InvalidAuthorizationSpecificationError('role "validation" is not permitted to log in'),
        asyncpg.exceptions.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only transaction"),
        asyncpg.exceptions.IdleInTransactionSessionTimeoutError("terminating connection due to idle-in-transaction"),
        asyncpg.exceptions.InsufficientPrivilegeError("permission denied for table decisions"),
    )
    assert await Attempts("validation.decider", NO_WAIT).run(effect, poison_attempts=1) == "done"
    assert effect.calls == 6


async def test_a_poison_is_given_up_after_the_bounded_attempts() -> None:
    effect = Flaky(*[ValueError("bad")] * 10)
    outcome = await Attempts("c", NO_WAIT).run(effect)
    assert outcome == Poisoned("ValueError: bad", 3)
    assert effect.calls == 3


class Batch(BaseModel):
    batch_id: int


async def test_a_message_failing_its_contract_is_given_up_at_the_first_attempt_and_said_invalid() -> None:
    with pytest.raises(ValidationError) as raised:
        Batch.model_validate({"batch_id": "Ada Lovelace"})
    effect = Flaky(*[raised.value] * 10)
    outcome = await Attempts("c", NO_WAIT).run(effect)
    assert isinstance(outcome, Poisoned) and (outcome.attempts, effect.calls) == (1, 1)
    assert outcome.error.startswith("invalid: batch_id: Input should be a valid integer")
    assert "Lovelace" not in outcome.error


async def test_an_event_of_a_type_the_contracts_do_not_know_is_given_up_at_the_first_attempt_in_the_documented_words() -> (
    None
):
    """A newer release's event met by an older pod (docs/deploy.md, "Upgrade"): the same bytes name the same unknown
    type every time. It was tried three times, with backoff, and said `UnknownEventType: …`, where the projector and
    docs/events.md say `unknown event type '…'` at the first attempt."""
    effect = Flaky(*[UnknownEventType("lrs.batch.quarantined.v1")] * 10)
    outcome = await Attempts("c", NO_WAIT).run(effect)
    assert outcome == Poisoned("unknown event type 'lrs.batch.quarantined.v1'", 1)
    assert effect.calls == 1


async def test_a_retired_consumer_leaves_metrics_while_the_others_stay() -> None:
    def exported(consumer: str) -> list[str]:
        return [
            sample.name
            for metric in REGISTRY.collect()
            for sample in metric.samples
            if sample.labels.get("consumer") == consumer
        ]

    gone, kept = Attempts("rebuild-gone", NO_WAIT), Attempts("rebuild-kept", NO_WAIT)
    await gone.run(Flaky(*[ValueError("bad")] * 3))
    assert "lrs_consumer_retrying" in exported("rebuild-gone")

    gone.retire()

    assert exported("rebuild-gone") == []
    assert "lrs_consumer_retrying" in exported(kept.consumer)


async def test_fatal_failures_are_raised_at_once() -> None:
    effect = Flaky(KafkaConnectionError())
    with pytest.raises(KafkaConnectionError):
        await Attempts("c", NO_WAIT, fatal=(KafkaConnectionError,)).run(effect)
    assert effect.calls == 1


async def test_each_attempt_runs_with_the_collector_paused_and_it_runs_again_after_success_or_failure() -> None:
    collecting: list[bool] = []

    def noting(effect: Flaky) -> Callable[[], Awaitable[str]]:
        async def attempt() -> str:
            collecting.append(gc.isenabled())
            return await effect()

        return attempt

    assert gc.isenabled()
    assert await Attempts("c", NO_WAIT).run(noting(Flaky(OSError("down")))) == "done"
    assert await Attempts("c", NO_WAIT).run(noting(Flaky(*[ValueError("bad")] * 3))) == Poisoned("ValueError: bad", 3)
    assert await Attempts("c", NO_WAIT).until_done(noting(Flaky(TypeError("bug")))) == "done"
    with pytest.raises(KafkaConnectionError):
        await Attempts("c", NO_WAIT, fatal=(KafkaConnectionError,)).run(noting(Flaky(KafkaConnectionError())))
    assert collecting == [False] * 8
    assert gc.isenabled()


def test_a_collector_turned_off_elsewhere_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


# --- the guard, over an in-memory parked table --------------------------------------------------------


@dataclass
class MemoryParked:
    rows: dict[int, ParkedRow] = field(default_factory=dict)
    pending: set[int] = field(default_factory=set)
    ids: Any = field(default_factory=lambda: itertools.count(1))
    acted: list[DeadLetterAction] = field(default_factory=list)

    async def record_action(self, action: DeadLetterAction) -> None:
        self.acted.append(action)

    async def actions(self, limit: int) -> list[DeadLetterAction]:
        return self.acted[::-1][:limit]

    async def park(self, parkings: Sequence[Parking], *, dlq_pending: bool) -> None:
        for p in parkings:
            if any(
                (r.consumer, r.topic, r.partition, r.offset) == (p.consumer, p.topic, p.partition, p.offset)
                for r in self.rows.values()
            ):
                continue
            letter = p.dead_letter
            row = ParkedRow(
                next(self.ids),
                p.consumer,
                p.topic,
                p.partition,
                p.offset,
                p.key,
                p.value,
                p.timestamp_ms,
                p.reason,
                letter.error if letter else None,
                letter.attempts if letter else 0,
                letter.event_id if letter else None,
                letter.event_type if letter else None,
                datetime.now(UTC),
            )
            self.rows[row.id] = row
            if dlq_pending and p.reason == "error":
                self.pending.add(row.id)

    async def held_streams(self, consumer: str, among: Iterable[Stream]) -> dict[Stream, tuple[int, int]]:
        wanted = set(among)
        heads: dict[Stream, tuple[int, int]] = {}
        for r in self.rows.values():
            if r.consumer == consumer and r.key is not None and (r.topic, r.key) in wanted:
                stream = (r.topic, r.key)
                heads[stream] = min(heads.get(stream, (r.partition, r.offset)), (r.partition, r.offset))
        return heads

    async def park_behind_held(
        self,
        consumer: str,
        waiting: Sequence[Parking],
        behind: Callable[[Parking, Mapping[Stream, tuple[int, int]]], bool],
        *,
        retried_here: Collection[str],
    ) -> dict[Stream, tuple[int, int]]:
        held = await self.held_streams(consumer, ((p.topic, p.key) for p in waiting if p.key is not None))
        await self.park([p for p in waiting if behind(p, held)], dlq_pending=False)
        return held

    def stream_lock_name(self, consumer: str, topic: str, key: bytes) -> str:
        return f"{consumer}:{topic}:{key.hex()}"

    async def get(self, parked_id: int) -> ParkedRow | None:
        return self.rows.get(parked_id)

    @contextlib.asynccontextmanager
    async def stream_locked(self, row: ParkedRow) -> AsyncIterator[None]:
        """One process: the loop's own lock is the whole story here. What the retry or skip changes meanwhile is one
        unit, as the store's transaction makes it: undone when it raises."""
        rows, pending, acted = dict(self.rows), set(self.pending), list(self.acted)
        try:
            yield
        except BaseException:
            self.rows.clear()
            self.rows.update(rows)
            self.pending.clear()
            self.pending.update(pending)
            self.acted[:] = acted
            raise

    async def stream_of(self, row: ParkedRow) -> list[ParkedRow]:
        same = [r for r in self.rows.values() if (r.consumer, r.topic, r.key) == (row.consumer, row.topic, row.key)]
        return sorted(same, key=lambda r: (r.partition, r.offset)) if row.key is not None else [row]

    async def delete(self, parked_id: int) -> None:
        del self.rows[parked_id]
        self.pending.discard(parked_id)  # as PostgreSQL's row goes, its copy's pending mark with it

    async def failed_again(self, row: ParkedRow, error: str) -> None:
        if self.rows[row.id].reason == "blocked":
            self.pending.add(row.id)
        self.rows[row.id] = replace(self.rows[row.id], reason="error", error=error, attempts=row.attempts + 1)

    async def pending_dead_letters(self, consumer: str, limit: int = 500) -> list[ParkedRow]:
        return [self.rows[i] for i in sorted(self.pending) if self.rows[i].consumer == consumer][:limit]

    async def mark_published(self, ids: Sequence[int]) -> None:
        self.pending -= set(ids)

    async def counts(self, consumer: str) -> dict[str, int]:
        reasons = [r.reason for r in self.rows.values() if r.consumer == consumer]
        return {"error": reasons.count("error"), "blocked": reasons.count("blocked")}


@dataclass
class Effects:
    """The handler: refuses values containing b'poison', goes down while `down` > 0."""

    applied: list[bytes] = field(default_factory=list)
    down: int = 0

    async def __call__(self, messages: Sequence[Message]) -> None:
        if self.down:
            self.down -= 1
            raise ConnectionRefusedError("database away")
        if any(b"poison" in (message.value or b"") for message in messages):
            raise ValueError("cannot apply")
        self.applied.extend(message.value or b"" for message in messages)


def message(offset: int, key: bytes | None, value: bytes, partition: int = 0) -> Message:
    return Message("lrs.batch.outcomes.v1", partition, offset, key, value)


@pytest.fixture
def parked() -> MemoryParked:
    return MemoryParked()


@pytest.fixture
def sent() -> list[tuple[str, bytes | None, bytes | None, Headers]]:
    return []


@pytest.fixture
def office(parked: MemoryParked, sent: list[Any]) -> DeadLetterOffice:
    async def publish(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        sent.append((topic, key, value, headers))

    return DeadLetterOffice(parked, publish)  # type: ignore[arg-type]


async def test_a_poison_in_a_batch_is_parked_alone_and_its_key_held_while_other_keys_go_on(
    office: DeadLetterOffice, parked: MemoryParked, sent: list[Any]
) -> None:
    effects = Effects()
    guard = PoisonGuard("ingest.batch-view", effects, office, NO_WAIT)
    await guard.apply(
        [message(1, b"A", b"a1"), message(2, b"B", b"b-poison"), message(3, b"C", b"c1"), message(4, b"B", b"b2")]
    )
    assert effects.applied == [b"a1", b"c1"]
    assert sorted((r.offset, r.reason) for r in parked.rows.values()) == [(2, "error"), (4, "blocked")]
    [(topic, key, value, headers)] = sent
    assert (topic, key, value) == ("lrs.batch.outcomes.v1.dlq", b"B", b"b-poison")
    letter = DeadLetter.from_headers(headers)
    assert (letter.consumer, letter.original_offset, letter.error) == (
        "ingest.batch-view",
        2,
        "ValueError: cannot apply",
    )

    await guard.apply([message(5, b"B", b"b3"), message(6, b"A", b"a2")])
    assert effects.applied == [b"a1", b"c1", b"a2"]
    assert await guard.readiness() == "ok: 1 parked, 2 held behind them"


async def test_a_database_outage_parks_nothing(office: DeadLetterOffice, parked: MemoryParked) -> None:
    effects = Effects(down=25)
    await PoisonGuard("notifier", effects, office, NO_WAIT).apply([message(1, b"A", b"a1"), message(2, b"B", b"b1")])
    assert effects.applied == [b"a1", b"b1"]
    assert parked.rows == {}


async def test_a_login_refused_for_a_while_parks_nothing(office: DeadLetterOffice, parked: MemoryParked) -> None:
    """The service's role refused its login (a credential rotated) while two keys' messages were applied: both were
    parked as poison, their keys held, once PostgreSQL let the service in again."""
    refusals = [asyncpg.exceptions.InvalidPasswordError('password authentication failed for user "notifier"')] * 7
    applied: list[bytes] = []

    async def handler(messages: Sequence[Message]) -> None:
        if refusals:
            raise refusals.pop()
        applied.extend(message.value or b"" for message in messages)

    await PoisonGuard("notifier", handler, office, NO_WAIT).apply([message(1, b"A", b"a1"), message(2, b"B", b"b1")])
    assert (applied, parked.rows) == ([b"a1", b"b1"], {})


async def test_a_redelivered_poison_is_not_parked_twice(
    office: DeadLetterOffice, parked: MemoryParked, sent: list[Any]
) -> None:
    guard = PoisonGuard("notifier", Effects(), office, NO_WAIT)
    await guard.apply([message(7, b"K", b"poison")])
    await guard.apply([message(7, b"K", b"poison")])  # the commit after parking was lost
    assert len(parked.rows) == 1 and len(sent) == 1


async def test_retry_applies_the_held_key_in_order_once_the_cause_is_fixed(
    office: DeadLetterOffice, parked: MemoryParked
) -> None:
    effects = Effects()
    guard = PoisonGuard("notifier", effects, office, NO_WAIT)
    await guard.apply([message(1, b"K", b"k-poison"), message(2, b"K", b"k2")])
    head = min(parked.rows.values(), key=lambda row: row.offset)

    failed = await office.retry(head.id, "operator:ops")
    assert (failed.applied, failed.still_parked, failed.error) == (0, 2, "ValueError: cannot apply")

    parked.rows[head.id] = replace(head, value=b"k1")  # stands for whatever the operator fixed
    fixed = await office.retry(head.id, "operator:ops")
    assert (fixed.applied, fixed.still_parked) == (2, 0)
    assert effects.applied == [b"k1", b"k2"]
    await guard.apply([message(3, b"K", b"k3")])
    assert effects.applied == [b"k1", b"k2", b"k3"] and parked.rows == {}


async def test_retry_with_a_corrected_copy_applies_it_in_the_poisons_place_and_then_the_rest(
    office: DeadLetterOffice, parked: MemoryParked
) -> None:
    effects = Effects()
    guard = PoisonGuard("challenges.plr-record", effects, office, NO_WAIT)
    await guard.apply([message(1, b"K", b"k-poison"), message(2, b"K", b"k2")])
    head = min(parked.rows.values(), key=lambda row: row.offset)

    still_bad = await office.retry(head.id, "operator:ops", b"k1-poison")
    fixed = await office.retry(head.id, "operator:ops", b"k1")

    assert (still_bad.applied, still_bad.still_parked) == (0, 2)
    assert (fixed.applied, fixed.still_parked) == (2, 0)
    assert effects.applied == [b"k1", b"k2"] and parked.rows == {}


async def test_a_corrected_copy_about_another_learner_than_the_keyed_one_is_refused_and_nothing_applied(
    office: DeadLetterOffice, parked: MemoryParked
) -> None:
    """The stream's key is the learner's ULN: the office holds the copy to it when the head says nobody."""
    effects = Effects()
    guard = PoisonGuard("challenges.plr-record", effects, office, NO_WAIT)
    await guard.apply([message(1, b"4444599390", b"k-poison")])
    [head] = parked.rows.values()
    key = AchievementKey(ao_id="RN9093", uln="6567035160", qualification_number="10050061", award_date=date(2026, 6, 1))
    withdrawn = AchievementWithdrawn(
        achievement_id=uuid.UUID(int=3), key=key, provenance=Provenance(batch_id=uuid.UUID(int=7), line=1)
    )
    about_another = encode(wrap(withdrawn, source="validation", correlation_id="c"))

    with pytest.raises(NotACorrectedCopy, match="not about the learner whose messages are parked"):
        await office.retry(head.id, "operator:ops", about_another)
    assert effects.applied == [] and list(parked.rows) == [head.id]


async def test_a_consumer_that_cannot_apply_again_refuses_a_corrected_copy_too(
    office: DeadLetterOffice, parked: MemoryParked
) -> None:
    office.register("validation.decider")  # no replayer: its parked messages can only be skipped
    await office.park(
        [Parking("validation.decider", "lrs.batch.submitted.v1", 0, 1, b"K", b"poison", 0, "error", None)],
        publish=False,
    )
    [row] = parked.rows.values()

    with pytest.raises(CannotReplay, match="skip it to acknowledge it"):
        await office.retry(row.id, "operator:ops", b"fixed")


async def test_skip_drops_the_poison_and_a_new_failure_behind_it_becomes_the_head(
    office: DeadLetterOffice, parked: MemoryParked, sent: list[Any]
) -> None:
    effects = Effects()
    guard = PoisonGuard("notifier", effects, office, NO_WAIT)
    await guard.apply([message(1, b"K", b"k-poison"), message(2, b"K", b"k2"), message(3, b"K", b"k3-poison")])
    head = min(parked.rows.values(), key=lambda row: row.offset)
    result = await office.skip(head.id, "operator:ops", "a duplicate")
    assert (result.skipped, result.applied, result.still_parked) == (1, 1, 1)
    [left] = parked.rows.values()
    assert (left.offset, left.reason) == (3, "error")
    assert [DeadLetter.from_headers(headers).original_offset for *_, headers in sent] == [1, 3]
    [skipped] = await office.actions(10)
    assert (skipped.action, skipped.operator, skipped.reason, skipped.offset) == (
        "skip",
        "operator:ops",
        "a duplicate",
        1,
    )
    assert (skipped.applied, skipped.skipped, skipped.still_parked) == (1, 1, 1)
    assert "k-poison" not in str(skipped.view()) and skipped.view()["consumer"] == "notifier"  # no key, no value


async def test_two_skips_of_one_message_at_once_drop_it_alone(office: DeadLetterOffice, parked: MemoryParked) -> None:
    """A double click, or a client retrying after a timeout: the second finds the message gone (404), and never
    drops the message the first brought to the head, which the operator has not seen."""
    guard = PoisonGuard("notifier", Effects(), office, NO_WAIT)
    poisons = [message(offset, b"K", f"k{offset}-poison".encode()) for offset in (1, 2, 3)]
    await guard.apply(poisons)
    head = min(parked.rows.values(), key=lambda row: row.offset)
    looked_up = parked.get

    async def slow_lookup(parked_id: int) -> ParkedRow | None:  # as PostgreSQL's: the other request goes on meanwhile
        found = await looked_up(parked_id)
        await asyncio.sleep(0)
        return found

    parked.get = slow_lookup  # type: ignore[method-assign]
    first, second = await asyncio.gather(
        office.skip(head.id, "operator:ops", None), office.skip(head.id, "operator:ops", None), return_exceptions=True
    )

    assert isinstance(first, ReplayResult) and first.skipped == 1
    assert isinstance(second, NotParked) and "retried or skipped meanwhile" in str(second)
    assert sorted(row.offset for row in parked.rows.values()) == [2, 3]


def parked_gauge(consumer: str) -> dict[str, float | None]:
    return {
        reason: REGISTRY.get_sample_value("lrs_consumer_parked_messages", {"consumer": consumer, "reason": reason})
        for reason in ("error", "blocked")
    }


async def test_the_parked_gauge_follows_what_the_office_parks_and_acknowledges(
    office: DeadLetterOffice, parked: MemoryParked
) -> None:
    """Without waiting for a readiness probe: a consumer of another shape (validation's decider) parks through
    the office alone, and a consumer without a replayer is only acknowledged by it."""
    office.register("a consumer of its own")
    poison = Parking("a consumer of its own", "lrs.batch.submitted.v1", 0, 5, b"K", b"x", 0, "error", None)
    held = replace(poison, offset=6, reason="blocked")
    await office.park([poison, held], publish=False)
    assert parked_gauge("a consumer of its own") == {"error": 1, "blocked": 1}
    head = min(parked.rows.values(), key=lambda row: row.offset)
    await office.skip(head.id, "operator:ops", None)
    assert parked_gauge("a consumer of its own") == {"error": 0, "blocked": 1}


async def test_a_key_parked_by_another_instance_holds_this_ones_messages_too(
    office: DeadLetterOffice, parked: MemoryParked
) -> None:
    other = PoisonGuard("notifier", Effects(), office, NO_WAIT)  # the instance that had the partition before
    await other.apply([message(1, b"K", b"k-poison")])
    effects = Effects()
    this = PoisonGuard("notifier", effects, office, NO_WAIT)  # given the partition by a rebalance
    await this.apply([message(2, b"K", b"k2"), message(3, b"L", b"l1")])
    assert effects.applied == [b"l1"]
    assert sorted((row.offset, row.reason) for row in parked.rows.values()) == [(1, "error"), (2, "blocked")]


async def test_a_stream_read_again_from_before_its_poison_applies_what_came_before_and_holds_what_comes_after(
    office: DeadLetterOffice, parked: MemoryParked
) -> None:
    """A store rebuilt, or a replay from an earlier offset, reads a parked stream's earlier messages again: they were
    applied before the poison was parked, and are applied again (idempotently), not held behind it; a skip of the
    poison named then drops it and nothing else."""
    effects = Effects()
    guard = PoisonGuard("challenges.plr-record", effects, office, NO_WAIT)
    await guard.apply([message(2, b"L", b"l1"), message(19, b"L", b"l2"), message(35, b"L", b"l-poison")])
    assert effects.applied == [b"l1", b"l2"]

    effects.applied.clear()  # read again from the start
    await guard.apply([message(2, b"L", b"l1"), message(19, b"L", b"l2"), message(35, b"L", b"l-poison")])
    await guard.apply([message(40, b"L", b"l3")])

    assert effects.applied == [b"l1", b"l2"]
    assert sorted((r.offset, r.reason) for r in parked.rows.values()) == [(35, "error"), (40, "blocked")]
    [poison] = [r for r in parked.rows.values() if r.offset == 35]
    result = await office.skip(poison.id, "operator:ops", reason="broken")
    assert (result.applied, result.skipped, result.still_parked) == (1, 1, 0)
    assert effects.applied == [b"l1", b"l2", b"l3"]


async def test_a_skip_drops_the_message_named_even_when_valid_ones_were_parked_before_it(
    office: DeadLetterOffice, parked: MemoryParked
) -> None:
    """Held copies parked before the poison by an earlier release are applied, in order, and the poison named is the
    one dropped: dropping the stream's first row lost a valid message for good."""
    effects = Effects()
    guard = PoisonGuard("challenges.plr-record", effects, office, NO_WAIT)
    await guard.apply([message(35, b"L", b"l-poison")])
    await office.park(
        [guard._parking(message(2, b"L", b"l1"), "blocked", None)]  # as the earlier release parked it
    )
    [poison] = [r for r in parked.rows.values() if r.offset == 35]

    result = await office.skip(poison.id, "operator:ops", reason="broken")

    assert (result.applied, result.skipped, result.still_parked) == (1, 1, 0)
    assert effects.applied == [b"l1"] and parked.rows == {}


# --- dead letters too large to send again ------------------------------------------------------------------------


def refusing_what_the_producer_refuses(sent: list[Any], max_bytes: int = MAX_MESSAGE_BYTES) -> DeadLetterPublisher:
    """A publisher that refuses a record as aiokafka's producer does (faust wraps the error in its own)."""

    async def publish(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        size = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers)
        if size > max_bytes:
            try:
                raise MessageSizeTooLargeError(f"The message is {size} bytes when serialized")
            except MessageSizeTooLargeError as error:
                raise RuntimeError(f"Error while sending: {error!r}") from error
        sent.append((topic, key, value, headers))

    return publish


async def test_a_poison_too_large_to_send_again_goes_to_its_dlq_without_its_value_and_can_be_skipped(
    parked: MemoryParked, sent: list[Any]
) -> None:
    """A foreign producer's gzip batch held a value that fit the topic only compressed: its dead letter was refused
    for ever, under the guard's lock, and the consumer, an operator's skip and every restart waited on it."""
    office = DeadLetterOffice(parked, refusing_what_the_producer_refuses(sent))  # type: ignore[arg-type]
    effects = Effects()
    guard = PoisonGuard("reporting", effects, office, NO_WAIT)
    oversized = b"poison" + b"x" * (MAX_MESSAGE_BYTES - 160 - 6)

    async with asyncio.timeout(10):
        await guard.start()
        await guard.apply([message(1, b"B", oversized), message(2, b"A", b"a1")])
        assert effects.applied == [b"a1"]
        [(topic, key, value, headers)] = sent
        assert (topic, key, value) == ("lrs.batch.outcomes.v1.dlq", b"B", b"")
        letter = DeadLetter.from_headers(headers)
        assert (letter.value_omitted_bytes, letter.original_offset) == (len(oversized), 1)
        [row] = parked.rows.values()
        assert row.value == oversized  # kept whole for a retry or a skip
        assert await guard.readiness() == "ok: 1 parked, 0 held behind them"

        result = await office.skip(row.id, "operator:ops", "too large")
        await guard.apply([message(3, b"B", b"b2")])
    assert (result.skipped, result.still_parked) == (1, 0)
    assert effects.applied == [b"a1", b"b2"] and parked.rows == {}


def test_a_copy_is_left_without_its_value_only_when_it_would_not_fit() -> None:
    letter = DeadLetter.of(error="x", topic="t", partition=0, offset=1, consumer="c", attempts=1, value=None)
    assert dead_letter_copy(b"K", b"v" * 1_000, letter) == (b"v" * 1_000, letter.headers())
    limit = DEAD_LETTER_MARGIN_BYTES + 2_000
    assert dead_letter_copy(b"K", b"v" * 1_000, letter, max_bytes=limit)[0] == b"v" * 1_000
    value, headers = dead_letter_copy(b"K", b"v" * 3_000, letter, max_bytes=limit)
    assert (value, DeadLetter.from_headers(headers).value_omitted_bytes) == (b"", 3_000)
    assert dead_letter_copy(None, None, letter, max_bytes=1) == (None, letter.headers())


async def test_a_copy_the_broker_refuses_for_its_size_is_sent_again_without_its_value(sent: list[Any]) -> None:
    """The size told in advance is an estimate: a refusal for size (the broker's, after compression) is final too."""
    letter = DeadLetter.of(error="x", topic="t", partition=0, offset=1, consumer="c", attempts=1, value=None)
    publish = refusing_what_the_producer_refuses(sent, max_bytes=2_000)
    await send_dead_letter(publish, "t.dlq", b"K", b"v" * 3_000, letter)
    [(_, key, value, headers)] = sent
    assert (key, value, DeadLetter.from_headers(headers).value_omitted_bytes) == (b"K", b"", 3_000)

    async def away(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        raise KafkaConnectionError()

    with pytest.raises(KafkaConnectionError):  # anything else is the caller's to wait out
        await send_dead_letter(away, "t.dlq", b"K", b"v", letter)


async def test_a_dead_letter_waiting_for_kafka_keeps_no_skip_waiting_and_none_drops_it_unsent(
    parked: MemoryParked, sent: list[Any]
) -> None:
    """The copy goes to the DLQ after the guard lets go of its lock: a skip meanwhile is answered at once, refused
    while the copy is not sent (it would take the copy with the row), and done once it is."""
    publishing, kafka_back = asyncio.Event(), asyncio.Event()

    async def publish(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        publishing.set()  # the poison is parked by now
        await kafka_back.wait()
        sent.append((topic, key, value, headers))

    office = DeadLetterOffice(parked, publish)  # type: ignore[arg-type]
    guard = PoisonGuard("notifier", Effects(), office, NO_WAIT)
    applying = asyncio.create_task(guard.apply([message(1, b"K", b"k-poison")]))
    try:
        async with asyncio.timeout(5):
            await publishing.wait()
            [row] = parked.rows.values()
            with pytest.raises(CannotReplay, match=r"not on lrs\.batch\.outcomes\.v1\.dlq yet"):
                await office.skip(row.id, "operator:ops", "broken")
        assert (sent, applying.done(), list(parked.rows)) == ([], False, [row.id])
        kafka_back.set()
        async with asyncio.timeout(5):
            await applying
            result = await office.skip(row.id, "operator:ops", "broken")
    finally:
        applying.cancel()
    [(_, key, value, _)] = sent
    assert (key, value, result.skipped, parked.rows) == (b"K", b"k-poison", 1, {})


async def test_a_poison_skipped_while_kafka_refuses_its_copy_still_reaches_its_dlq(
    parked: MemoryParked, sent: list[Any]
) -> None:
    """A send that fails (Kafka away) is tried again from the table: a skip that deleted the row in between left
    nothing to send, and the poison never reached its DLQ (a review's probe)."""
    refusing, kafka_back = asyncio.Event(), asyncio.Event()

    async def publish(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        if not kafka_back.is_set():
            refusing.set()
            raise KafkaConnectionError()
        sent.append((topic, key, value, headers))

    office = DeadLetterOffice(parked, publish)  # type: ignore[arg-type]
    guard = PoisonGuard("notifier", Effects(), office, NO_WAIT)
    applying = asyncio.create_task(guard.apply([message(1, b"K", b"k-poison")]))
    try:
        async with asyncio.timeout(5):
            await refusing.wait()
            [row] = parked.rows.values()
            with pytest.raises(CannotReplay):
                await office.skip(row.id, "operator:ops", "broken")
            kafka_back.set()
            await applying
            await office.skip(row.id, "operator:ops", "broken")
    finally:
        applying.cancel()
    assert [(key, value) for _, key, value, _ in sent] == [(b"K", b"k-poison")]


async def test_a_new_poisons_copy_kafka_refused_during_a_skip_reaches_its_dlq_once_kafka_is_back(
    parked: MemoryParked, sent: list[Any]
) -> None:
    """The message after the one skipped failed too, while Kafka was away: the skip answered 503 and the new poison's
    copy was never sent (only a restart or another poison sent copies), so every later retry or skip of the stream
    was refused `DeadLetterNotSent`, "try again in a moment", for ever (a review's probe)."""
    kafka = {"up": True}
    copied = asyncio.Event()

    async def publish(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        if not kafka["up"]:
            raise KafkaConnectionError()
        sent.append((topic, key, value, headers))
        if value == b"k2-poison":
            copied.set()

    office = DeadLetterOffice(parked, publish)  # type: ignore[arg-type]
    guard = PoisonGuard("notifier", Effects(), office, RetryPolicy(base_seconds=0.01, max_seconds=0.01))
    await guard.apply([message(1, b"K", b"k1-poison"), message(2, b"K", b"k2-poison"), message(3, b"K", b"k3")])
    head, second, _ = sorted(parked.rows.values(), key=lambda row: row.offset)

    kafka["up"] = False
    skipped = await office.skip(head.id, "operator:ops", "bad data")
    assert (skipped.skipped, skipped.applied, skipped.still_parked, skipped.error) == (
        1,
        0,
        2,
        "ValueError: cannot apply",
    )
    assert [(action.skipped, action.still_parked) for action in parked.acted] == [(1, 2)]
    with pytest.raises(CannotReplay, match=r"not on lrs\.batch\.outcomes\.v1\.dlq yet"):
        await office.skip(second.id, "operator:ops", "bad data too")  # its copy is not sent yet

    kafka["up"] = True
    async with asyncio.timeout(5):
        await copied.wait()  # sent by the guard, no operator nor restart asking for it
    then = await office.skip(second.id, "operator:ops", "bad data too")
    assert (then.skipped, then.applied, then.still_parked, parked.rows) == (1, 1, 0, {})
    assert [DeadLetter.from_headers(headers).original_offset for *_, headers in sent] == [1, 2]


async def test_a_skip_cut_short_by_a_transient_failure_changes_nothing_until_it_is_made_whole(
    office: DeadLetterOffice, parked: MemoryParked
) -> None:
    """A retry or skip is one unit: cut short (the database away as a held message is applied again), the skipped
    head stayed deleted with no `dead_letter_actions` row saying who skipped it, while the operator was told
    "try again later" (a review's probe). What was applied meanwhile is applied again: effects are idempotent."""
    applied: list[bytes] = []
    blips = [b"k3"]

    async def handler(messages: Sequence[Message]) -> None:
        [handled] = messages
        if b"poison" in (handled.value or b""):
            raise ValueError("cannot apply")
        if handled.value in blips:
            blips.remove(handled.value)
            raise ConnectionRefusedError("database away")
        applied.append(handled.value or b"")

    guard = PoisonGuard("notifier", handler, office, NO_WAIT)
    for offset, value in ((1, b"k1-poison"), (2, b"k2"), (3, b"k3")):
        await guard.apply([message(offset, b"K", value)])
    before = dict(parked.rows)
    head = min(before.values(), key=lambda row: row.offset)

    with pytest.raises(ConnectionRefusedError):
        await office.skip(head.id, "operator:alice", "known bad row")
    assert (parked.rows, parked.acted) == (before, [])

    done = await office.skip(head.id, "operator:alice", "known bad row")
    assert (done.skipped, done.applied, done.still_parked, parked.rows) == (1, 2, 0, {})
    assert [(action.operator, action.skipped, action.applied) for action in parked.acted] == [("operator:alice", 1, 2)]
    assert applied == [b"k2", b"k2", b"k3"]


async def test_an_unknown_event_type_is_parked_at_once_its_key_held_and_a_retry_says_the_same(
    office: DeadLetterOffice, parked: MemoryParked, sent: list[Any]
) -> None:
    """As any consumer decoding with the registry parks it: `lrs-error` `unknown event type '…'`, attempt 1, the
    envelope's id and type in its headers, and the key's later events held behind it (docs/events.md)."""
    key = AchievementKey(ao_id="RN9093", uln="6567035160", qualification_number="10050061", award_date=date(2026, 6, 1))
    withdrawn = AchievementWithdrawn(
        achievement_id=uuid.UUID(int=3), key=key, provenance=Provenance(batch_id=uuid.UUID(int=7), line=1)
    )
    known = encode(wrap(withdrawn, source="validation", correlation_id="c"))
    unknown = known.replace(b"lrs.achievement.withdrawn.v1", b"lrs.achievement.teleported.v1")
    assert unknown != known
    applied: list[int] = []

    async def handler(messages: Sequence[Message]) -> None:
        for each in messages:
            decode(each.value or b"")
        applied.extend(each.offset for each in messages)

    guard = PoisonGuard("challenges.plr-record", handler, office, NO_WAIT)
    await guard.apply([message(1, b"K", unknown), message(2, b"K", known), message(3, b"L", known)])

    assert applied == [3]
    assert sorted((row.offset, row.reason, row.attempts) for row in parked.rows.values()) == [
        (1, "error", 1),
        (2, "blocked", 0),
    ]
    [(topic, _, value, headers)] = sent
    letter = DeadLetter.from_headers(headers)
    assert (topic, value) == ("lrs.batch.outcomes.v1.dlq", unknown)
    assert (letter.error, letter.attempts, letter.event_type) == (
        "unknown event type 'lrs.achievement.teleported.v1'",
        1,
        "lrs.achievement.teleported.v1",
    )

    head = min(parked.rows.values(), key=lambda row: row.offset)
    again = await office.retry(head.id, "operator:ops")
    assert (again.applied, again.still_parked, again.error) == (
        0,
        2,
        "unknown event type 'lrs.achievement.teleported.v1'",
    )
