"""Operator work on parked events: list them, and retry or skip a learner's stream."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

import asyncpg

from lrs_contracts.dead_letters import error_text
from lrs_domain.identifiers import mask_uln
from lrs_platform.consumer import Failure, classify_failure
from lrs_platform.logging import get_logger
from plr_projector.consumer import Runner
from plr_projector.operations import OperationError, Refusal
from plr_projector.projection import (
    BatchChanges,
    Message,
    OperatorAction,
    ParkedHeads,
    Position,
    Stream,
    decode_message,
    needs_of,
    note_head,
    project_batch,
    replacement_refusal,
)
from plr_projector.store import (
    DEAD_LETTER_CONSUMER,
    ParkedRow,
    ProjectorDeadLetterAction,
    dead_letter_actions,
    record_dead_letter_action,
    record_operator_action,
)

# named as before the split: the `logger` field of its log lines stays what it was
_log = get_logger("plr_projector.operations")

# Parked events are read this many at a time (a row holds its whole message): a retry, skip or replay holds a
# page of them in memory, however many are parked.
PARKED_PAGE = 1_000


def parked_view(row: ParkedRow) -> dict[str, Any]:
    return {
        "topic": row.topic,
        "partition": row.partition,
        "offset": row.offset,
        "learner": row.park_key,
        "reason": row.reason,
        "error": row.error,
        "event_id": str(row.event_id) if row.event_id else None,
        "event_type": row.event_type,
        # the batch whose event it is (migration 0008), so the desk sees which AO's batches wait on the fix
        "batch_id": str(row.batch_id) if row.batch_id else None,
        "attempts": row.attempts,
        # when it was first parked, kept when a retry leaves it parked; and when a retry last left it parked
        "parked_at": row.parked_at.isoformat() if row.parked_at else None,
        "last_tried_at": row.last_tried_at.isoformat() if row.last_tried_at else None,
    }


class DeadLetters:
    """Retry and skip act on the live model and, when one is running, on the rebuild's too, so the
    two stay comparable."""

    def __init__(self, live: Runner, others: Callable[[], list[Runner]] = list) -> None:
        self.live = live
        self.others = others

    async def listing(self, key: str | None, topic: str | None, limit: int) -> tuple[list[dict[str, Any]], int]:
        """The first `limit` parked events (of the key and topic given), and how many there are."""
        async with self.live.pool.acquire() as connection:
            rows = await self.live.model.parked(connection, key=key, topic=topic, limit=limit)
            total = (
                len(rows) if len(rows) < limit else await self.live.model.parked_count(connection, key=key, topic=topic)
            )
        return [parked_view(row) for row in rows], total

    async def head(self, key: str, topic: str | None) -> ParkedRow:
        """The first parked event of the stream of `key` on `topic` (the only topic it has events parked on, when
        none is named), its value too: the event a retry with a corrected copy replaces (`drain_stream`), which
        `lrs dlq show` saves to mend into one."""
        async with self.live.pool.acquire() as connection:
            topics = await self.live.model.parked_topics(connection, key=key, topic=topic)
            if not topics:
                raise OperationError(Refusal.NOTHING_TO_DO, "Nothing parked", "No parked events for this learner.")
            if len(topics) > 1:
                raise OperationError(
                    Refusal.NOT_NOW,
                    "Ambiguous event",
                    f"Events are parked on several topics ({', '.join(topics)}): name the topic.",
                )
            head = await self.live.model.parked_head(connection, key=key, topic=topics[0])
        if head is None:  # retried or skipped since the topics were read
            raise OperationError(Refusal.NOTHING_TO_DO, "Nothing parked", "No parked events for this learner.")
        return head

    async def actions(self, limit: int) -> list[ProjectorDeadLetterAction]:
        """The newest `limit` retries and skips operators made, newest first."""
        async with self.live.pool.acquire() as connection:
            return await dead_letter_actions(connection, limit)

    async def retry(
        self,
        key: str,
        topic: str | None,
        operator: str,
        replacement: bytes | None = None,
        reason: str | None = None,
        *,
        with_key: str | None = None,
    ) -> list[dict[str, Any]]:
        return await self._drain(key, topic, operator, replacement=replacement, reason=reason, with_key=with_key)

    async def skip(
        self,
        key: str,
        topic: str | None,
        operator: str,
        reason: str | None,
        *,
        expected_heads: Collection[tuple[str, int, int]] | None = None,
        with_key: str | None = None,
    ) -> list[dict[str, Any]]:
        """`expected_heads`: the (topic, partition, offset) of each stream's first parked event as the operator
        confirmed them; refused, nothing skipped, unless they are the ones the skip would drop now."""
        return await self._drain(
            key, topic, operator, skip=True, reason=reason, expected_heads=expected_heads, with_key=with_key
        )

    async def _drain(
        self,
        key: str,
        topic: str | None,
        operator: str,
        *,
        replacement: bytes | None = None,
        skip: bool = False,
        reason: str | None = None,
        expected_heads: Collection[tuple[str, int, int]] | None = None,
        with_key: str | None = None,
    ) -> list[dict[str, Any]]:
        live = self.live
        async with live.lock:
            results = await drain_stream(
                live,
                key,
                topic,
                operator,
                replacement=replacement,
                skip=skip,
                reason=reason,
                record=True,
                expected_heads=expected_heads,
                with_key=with_key,
            )
        for runner in self.others():
            if not runner.partitions:
                continue  # a rebuild still loading: it applies the recorded action when it starts following
            # a rebuild that has not reached (or not parked) this learner's events has nothing to drain
            async with runner.lock:
                with contextlib.suppress(OperationError):
                    await drain_stream(
                        runner, key, topic, operator, replacement=replacement, skip=skip, reason=reason, record=False
                    )
        _log.info(
            "dead_letters_drained",
            uln=mask_uln(key),
            operator=operator,
            skip=skip,
            replaced=replacement is not None,
            results=[{k: v for k, v in result.items() if k != "learner"} for result in results],
        )
        await live.publish_dead_letters()
        return results


async def drain_stream(
    runner: Runner,
    key: str,
    topic: str | None,
    operator: str,
    *,
    replacement: bytes | None = None,
    skip: bool = False,
    reason: str | None = None,
    record: bool = False,
    expected_heads: Collection[tuple[str, int, int]] | None = None,
    with_key: str | None = None,
) -> list[dict[str, Any]]:
    """Re-runs a stream's parked events in log order, in one transaction; call with `runner.lock`. The events
    are read and projected `PARKED_PAGE` at a time, each page against what the pages before it wrote, as the
    live loop projects a poll after the one before: the same rows and results as one batch of them all.
    `expected_heads`: refused (`NOT_NOW`) unless the streams' first parked events are these, by (topic, partition,
    offset): a skip confirmed on some drops none parked since."""
    results: list[dict[str, Any]] = []
    actions = dict(runner.actions)
    drained: set[tuple[str, str]] = set()
    all_changes = []
    async with runner.pool.acquire() as connection, connection.transaction():
        topics = await runner.model.parked_topics(connection, key=key, topic=topic)
        if not topics:
            raise OperationError(Refusal.NOTHING_TO_DO, "Nothing parked", "No parked events for this learner.")
        if replacement is not None and len(topics) > 1:
            raise OperationError(
                Refusal.NOT_NOW, "Ambiguous replacement", "Events are parked on several topics: name the topic."
            )
        if expected_heads is not None:
            heads = [await runner.model.parked_head(connection, key=key, topic=stream_topic) for stream_topic in topics]
            now_first = {(head.topic, head.partition, head.offset) for head in heads if head is not None}
            if now_first != set(expected_heads):
                raise OperationError(
                    Refusal.NOT_NOW,
                    "Parked events changed",
                    "The first parked events of this learner are not those confirmed: another was parked, retried or"
                    " skipped meanwhile. Nothing was skipped: read them again and confirm.",
                )
        for stream_topic in topics:
            # the copies go to the DLQ after their commit (`publish_dead_letters`): a row retried or skipped before its
            # copy is sent would take the copy with it, so the operator is asked to wait for it, as the shared
            # consumer asks (`DeadLetterNotSent`)
            if unsent := await runner.model.unsent_dead_letter(connection, key=key, topic=stream_topic):
                raise OperationError(
                    Refusal.NOT_NOW,
                    "Dead letter not sent yet",
                    f"The parked event at {unsent.topic} partition {unsent.partition} offset {unsent.offset} is not on"
                    f" {runner.topics.dead_letters(unsent.topic)} yet (is Kafka reachable?). Nothing was changed: try again in"
                    " a moment.",
                )
            # the stream's poison; a release before decision 0163 may have parked copies of earlier events ahead of it
            head = await runner.model.parked_head(connection, key=key, topic=stream_topic)
            assert head is not None  # the topic was read from the stream's rows, in this transaction
            if replacement is not None:
                parked = Message(
                    stream_topic, head.partition, head.offset, head.message_key, head.value, head.kafka_timestamp_ms
                )
                if refused := replacement_refusal(parked, replacement, key):
                    raise OperationError(Refusal.INVALID, "Not a corrected copy of the parked event", refused)
            if record and (skip or replacement is not None):
                action = OperatorAction("skip") if skip else OperatorAction("replace", replacement)
                await record_operator_action(connection, head.position, action, operator, reason)
                actions[head.position] = action
            stream = (stream_topic, key)
            others = {other: head for other, head in runner.parked_streams.items() if other != stream}
            try:
                async with connection.transaction():  # a savepoint: a stream that cannot be stored stays parked
                    changes = await _project_parked(connection, runner, stream, actions, others)
            except Exception as error:
                if classify_failure(error) is Failure.TRANSIENT:
                    raise
                await _count_attempt(connection, runner, head)
                await runner.model.mark_stream_tried(connection, key=key, topic=stream_topic)
                parked_now = await runner.model.parked_count(connection, key=key, topic=stream_topic)
                result = _still_failing(stream_topic, key, parked_now, error_text(error))
            else:
                if changes.parked and changes.parked[0].message.position == head.position:
                    await _count_attempt(connection, runner, head)
                if not changes.parked:
                    drained.add(stream)
                all_changes.append(changes)
                result = {
                    "topic": stream_topic,
                    "learner": key,
                    "applied": sum(n for (_, outcome), n in changes.outcomes.items() if outcome == "applied"),
                    "duplicates": sum(n for (_, outcome), n in changes.outcomes.items() if outcome == "duplicate"),
                    "skipped": sum(n for (_, outcome), n in changes.outcomes.items() if outcome == "skipped"),
                    "still_parked": len(changes.parked),
                    "error": changes.parked[0].error if changes.parked else None,
                }
            results.append(result)
            if record:
                await record_dead_letter_action(
                    connection,
                    ProjectorDeadLetterAction(
                        action="skip" if skip else "retry",
                        operator=operator,
                        reason=reason,
                        replaced=replacement is not None,
                        consumer=DEAD_LETTER_CONSUMER,
                        topic=stream_topic,
                        partition=head.partition,
                        offset=head.offset,
                        event_id=str(head.event_id) if head.event_id else None,
                        event_type=head.event_type,
                        applied=result["applied"],
                        skipped=result["skipped"],
                        still_parked=result["still_parked"],
                        duplicates=result["duplicates"],
                        acted_with_key=with_key,  # the API key the operator acted with
                        # the batch whose event it is: a skipped one was accepted there but is on no learner's record
                        batch_id=str(head.batch_id) if head.batch_id else None,
                    ),
                )
    runner.actions.update(actions)
    for stream in drained:
        runner.parked_streams.pop(stream, None)
    for changes in all_changes:
        runner.account(changes, 0.0)
    return results


async def _project_parked(
    connection: asyncpg.Connection,
    runner: Runner,
    stream: Stream,
    actions: Mapping[Position, OperatorAction],
    others: ParkedHeads,
) -> BatchChanges:
    """Projects a stream's parked events a page at a time, each page's rows released and its changes written
    before the next is read (past the last row read: what a page parks again is not read again). A page is
    held behind what an earlier one parked, as one batch holds an event behind an earlier one of its stream.
    Returns what the pages did, as `runner.account` and the operator's result read it: its parked events
    without their messages' values, so what stays in memory is one page's rows and a few fields an event."""
    stream_topic, key = stream
    done = BatchChanges()
    heads = dict(others)
    after: ParkedRow | None = None
    while rows := await runner.model.parked(connection, key=key, topic=stream_topic, limit=PARKED_PAGE, after=after):
        decoded = [
            decode_message(
                Message(stream_topic, row.partition, row.offset, row.message_key, row.value, row.kafka_timestamp_ms),
                actions,
            )
            for row in rows
        ]
        snapshot = await runner.model.load_snapshot(connection, needs_of(decoded), heads)
        changes = project_batch(snapshot, decoded)
        await runner.model.delete_parked(connection, [row.position for row in rows])
        await runner.model.write(
            connection,
            changes,
            {},
            publish_dead_letters=runner.publishes_dead_letters,
            dead_letters_sent=dead_letters_sent(rows),
        )
        if changes.parked:  # parked again as new rows: each keeps when it was first parked, and is marked tried
            await runner.model.keep_parked_times(connection, rows)
        for parked in changes.parked:
            note_head(heads, parked.message)
        done.add_summary(changes)
        done.parked += [
            dataclasses.replace(parked, message=parked.message._replace(value=None), value=None)
            for parked in changes.parked
        ]
        if len(rows) < PARKED_PAGE:
            break  # the stream's last page: no read past it
        after = rows[-1]
    return done


def dead_letters_sent(rows: Iterable[ParkedRow]) -> set[Position]:
    """Of a stream's parked rows a retry or skip reads, the events whose copy is on their dead-letter topic: its
    poisons (a drain waits until each one's copy is sent, `unsent_dead_letter`). An event held behind one has
    none: parked as a poison by the drain, it is sent then, once."""
    return {row.position for row in rows if row.reason == "error"}


async def _count_attempt(connection: asyncpg.Connection, runner: Runner, head: ParkedRow) -> None:
    await connection.execute(
        f'UPDATE "{runner.model.schema}".parked SET attempts = $4 WHERE topic = $1 AND partition = $2 AND "offset" = $3',
        *head.position,
        head.attempts + 1,
    )


def _still_failing(topic: str, key: str, parked: int, error: str) -> dict[str, Any]:
    """A stream whose events still cannot be stored (a value out of the read model's range, say): all stay
    parked, and the operator is told why, to skip the head or retry it with a corrected copy."""
    return {
        "topic": topic,
        "learner": key,
        "applied": 0,
        "duplicates": 0,
        "skipped": 0,
        "still_parked": parked,
        "error": error,
    }
