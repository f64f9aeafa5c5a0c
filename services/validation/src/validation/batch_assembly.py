"""Turns the submitted-batch stream back into whole batches, and says which offsets are safe to commit.

A batch arrives as BatchSubmitted, record chunks and a completion marker, possibly interleaved with
other AOs' batches in the same partition. A batch is ready when its marker arrives. The committable
offset of a partition never passes the first message of a batch still being assembled, so a restart
re-reads every unfinished batch whole.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from pydantic import ValidationError

from lrs_contracts.batch import BatchRecordsSubmitted, BatchSubmissionCompleted, BatchSubmitted, SubmittedRecord
from lrs_contracts.envelope import Contract
from lrs_contracts.registry import decode, typed_envelopes

BATCH_KINDS = (BatchSubmitted, BatchRecordsSubmitted, BatchSubmissionCompleted)
"""What a batch travels in on the submitted topic (a Sandpit reset travels there too, on its own)."""


_SUBMISSIONS = typed_envelopes(BATCH_KINDS)


def decode_submission(raw: bytes) -> tuple[uuid.UUID, Contract]:
    """The event id and payload of a message on the submitted-batch topic, as `registry.decode` reads
    them. Anything but the three kinds of a batch (or anything invalid) is left to `decode`, which
    has the final word and raises `ValueError` with the precise error."""
    try:
        typed = _SUBMISSIONS.validate_json(raw)
    except ValidationError:
        envelope, payload = decode(raw)
        return envelope.event_id, payload
    submission: Contract = typed.data
    return typed.event_id, submission


@dataclass(frozen=True)
class AssembledBatch:
    submitted: BatchSubmitted
    records: tuple[SubmittedRecord, ...]
    partition: int
    last_offset: int


class IncompleteBatchError(ValueError):
    """The end marker disagrees with what arrived (missing chunk or record count); `submitted`: the batch's
    header, when it arrived (so that the batch's abandonment can name its reference and tell its AO)."""

    def __init__(self, message: str, submitted: BatchSubmitted | None = None) -> None:
        super().__init__(message)
        self.submitted = submitted


@dataclass
class _Pending:
    first_offset: int
    submitted: BatchSubmitted | None = None
    chunks: dict[int, tuple[SubmittedRecord, ...]] = field(default_factory=dict)


@dataclass
class BatchAssembler:
    """Per-partition assembly state; one instance per consumer."""

    _pending: dict[int, dict[uuid.UUID, _Pending]] = field(default_factory=dict)

    def offer(self, partition: int, offset: int, payload: Contract) -> AssembledBatch | None:
        pending_here = self._pending.setdefault(partition, {})
        batch_id: uuid.UUID = getattr(payload, "batch_id")  # noqa: B009 - all three kinds carry it
        pending = pending_here.get(batch_id)
        if pending is None:
            pending = pending_here[batch_id] = _Pending(first_offset=offset)
        match payload:
            case BatchSubmitted():
                pending.submitted = payload
            case BatchRecordsSubmitted():
                pending.chunks[payload.chunk_index] = payload.records
            case BatchSubmissionCompleted():
                del pending_here[batch_id]
                return _assemble(pending, payload, partition, offset)
        return None

    def assembling(self, partition: int) -> bool:
        """Whether a batch of `partition` has arrived in part."""
        return bool(self._pending.get(partition))

    def committable(self, partition: int, next_offset: int) -> int:
        """The offset to commit for `partition` when everything before `next_offset` was handled."""
        pending_here = self._pending.get(partition, {})
        if not pending_here:
            return next_offset
        return min(next_offset, *(pending.first_offset for pending in pending_here.values()))

    def forget(self, partitions: set[int]) -> None:
        for partition in partitions:
            self._pending.pop(partition, None)


def _assemble(pending: _Pending, marker: BatchSubmissionCompleted, partition: int, offset: int) -> AssembledBatch:
    if pending.submitted is None:
        raise IncompleteBatchError(f"batch {marker.batch_id}: end marker without its BatchSubmitted")
    if sorted(pending.chunks) != list(range(marker.chunk_count)):
        raise IncompleteBatchError(
            f"batch {marker.batch_id}: chunks {sorted(pending.chunks)} of {marker.chunk_count}", pending.submitted
        )
    records = tuple(record for index in range(marker.chunk_count) for record in pending.chunks[index])
    if len(records) != marker.record_count:
        raise IncompleteBatchError(
            f"batch {marker.batch_id}: {len(records)} records, marker says {marker.record_count}", pending.submitted
        )
    return AssembledBatch(pending.submitted, records, partition, offset)
