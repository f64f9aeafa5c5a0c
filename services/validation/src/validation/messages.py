"""What a batch decision publishes: PLR events keyed by ULN, outcomes keyed by batch id.

Event ids are derived from the batch id and the record line, so republishing a stored decision
produces the very same ids and consumers drop the copies.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from lrs_contracts.batch import BatchSubmitted
from lrs_contracts.envelope import Contract, deterministic_id
from lrs_contracts.outcomes import BatchCompleted, BatchFailed, BatchRecordsDecided, RecordOutcome
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import BATCH_OUTCOMES, PLR_EVENTS
from lrs_domain.decision import BatchDecision
from validation.decision_store import OutgoingMessage

SOURCE = "validation"
OUTCOMES_PER_MESSAGE = 1_000


def decision_messages(
    submitted: BatchSubmitted, decision: BatchDecision, causation_id: str, decided_at: datetime
) -> list[OutgoingMessage]:
    batch_id = submitted.batch_id
    correlation = str(batch_id)
    messages: list[OutgoingMessage] = []
    for payload in decision.events:
        event_type: str = getattr(payload, "event_type")  # noqa: B009
        line: int = getattr(payload, "provenance").line  # noqa: B009
        envelope = wrap(
            payload,
            source=SOURCE,
            correlation_id=correlation,
            causation_id=causation_id,
            event_id=deterministic_id(batch_id, line, event_type),
            occurred_at=decided_at,
        )
        messages.append(OutgoingMessage(PLR_EVENTS.name, getattr(payload, "key").uln, encode(envelope)))  # noqa: B009
    for index, chunk in enumerate(_chunks(decision.outcomes, OUTCOMES_PER_MESSAGE)):
        decided = BatchRecordsDecided(batch_id=batch_id, ao_id=submitted.ao_id, chunk_index=index, outcomes=chunk)
        messages.append(_outcome(decided, submitted, causation_id, decided_at, ("outcomes", index)))
    messages.append(
        _outcome(_result(submitted, decision, decided_at), submitted, causation_id, decided_at, ("result",))
    )
    return messages


def _result(submitted: BatchSubmitted, decision: BatchDecision, decided_at: datetime) -> BatchCompleted | BatchFailed:
    header = submitted.header
    if decision.failure is not None:
        return BatchFailed(
            batch_id=submitted.batch_id,
            ao_id=submitted.ao_id,
            code=decision.failure.code,
            reason=decision.failure.reason,
            job_type=header.effective_job_type,
            batch_reference=header.batch_reference,
            notification_email=header.notification_email,
            counts=decision.counts,
            submitted_at=submitted.received_at,
            decided_at=decided_at,
        )
    return BatchCompleted(
        batch_id=submitted.batch_id,
        ao_id=submitted.ao_id,
        job_type=header.effective_job_type,
        batch_reference=header.batch_reference,
        notification_email=header.notification_email,
        counts=decision.counts,
        submitted_at=submitted.received_at,
        decided_at=decided_at,
        results_issued_date=header.results_issued_date,
    )


def _outcome(
    payload: Contract, submitted: BatchSubmitted, causation_id: str, decided_at: datetime, part: tuple[object, ...]
) -> OutgoingMessage:
    envelope = wrap(
        payload,
        source=SOURCE,
        correlation_id=str(submitted.batch_id),
        causation_id=causation_id,
        event_id=deterministic_id(submitted.batch_id, *part),
        occurred_at=decided_at,
    )
    return OutgoingMessage(BATCH_OUTCOMES.name, str(submitted.batch_id), encode(envelope))


def _chunks(items: Sequence[RecordOutcome], size: int) -> list[tuple[RecordOutcome, ...]]:
    return [tuple(items[start : start + size]) for start in range(0, len(items), size)] or [()]
