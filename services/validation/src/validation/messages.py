"""What a batch decision publishes: PLR events keyed by ULN, outcomes keyed by batch id.

Event ids are derived from the batch id and the record line, so republishing a stored decision
produces the very same ids and consumers drop the copies. Each message is `encode(wrap(...))` of its
payload, written by one `EnvelopeWriter` per decision: every payload is serialised once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import datetime

from lrs_contracts.batch import BatchSubmitted
from lrs_contracts.environments import LIVE_TOPICS, TopicNames
from lrs_contracts.fast_decode import DerivedIds, EnvelopeWriter
from lrs_contracts.outcomes import (
    BatchCompleted,
    BatchFailed,
    BatchRecordsDecided,
    QualificationOnPlr,
    RecordOutcome,
)
from lrs_contracts.plr import AchievementRecorded
from lrs_contracts.topics import BATCH_OUTCOMES, PLR_EVENTS
from lrs_domain.decision import BatchDecision
from validation.decision_store import OutgoingMessage
from validation.event_json import records_decided_json

SOURCE = "validation"
OUTCOMES_PER_MESSAGE = 1_000

if tuple(field.name for field in fields(OutgoingMessage)) != ("topic", "key", "value"):
    raise AssertionError("OutgoingMessage's fields changed: teach validation.messages._message them")
_new = object.__new__
# A message's slots set through their descriptors, not its frozen dataclass's `__init__`, which sets each
# through `object.__setattr__`: one message an event
_set_topic = OutgoingMessage.__dict__["topic"].__set__
_set_key = OutgoingMessage.__dict__["key"].__set__
_set_value = OutgoingMessage.__dict__["value"].__set__


def _message(topic: str, key: str, value: bytes) -> OutgoingMessage:
    """`OutgoingMessage(topic, key, value)`."""
    message: OutgoingMessage = _new(OutgoingMessage)
    _set_topic(message, topic)
    _set_key(message, key)
    _set_value(message, value)
    return message


def decision_messages(
    submitted: BatchSubmitted,
    decision: BatchDecision,
    causation_id: str,
    decided_at: datetime,
    topics: TopicNames = LIVE_TOPICS,
    serialised: Mapping[int, bytes] | None = None,
) -> list[OutgoingMessage]:
    """`serialised`: the JSON of some of the decision's events (`payload_json`), by `id` of the event,
    serialised while the batch was still arriving."""
    known = serialised or {}
    batch_id = submitted.batch_id
    correlation = str(batch_id)
    writer = EnvelopeWriter(
        source=SOURCE, correlation_id=correlation, causation_id=causation_id, occurred_at=decided_at
    )
    ids = DerivedIds(batch_id)
    messages: list[OutgoingMessage] = []
    plr_topic, outcomes_topic = topics.of(PLR_EVENTS), topics.of(BATCH_OUTCOMES)
    # QAN -> the type its recorded achievements carry (None: none of the batch's events of it records one),
    # gathered here where each event's key is at hand anyway: a second pass over the events cost twice as
    # much (decision 0107)
    on_plr: dict[str, str | None] = {}
    append, event_text, encode, serialised_of = messages.append, ids.text, writer.encode, known.get
    for payload in decision.events:
        values = payload.__dict__
        encoded = encode(
            payload, event_text(values["provenance"].line, values["event_type"]), serialised_of(id(payload))
        )
        key = values["key"].__dict__
        append(_message(plr_topic, key["uln"], encoded))
        if on_plr.get(qan := key["qualification_number"]) is None:
            on_plr[qan] = (
                values["qualification"].qualification_type if isinstance(payload, AchievementRecorded) else None
            )
    for index, chunk in enumerate(_chunks(decision.outcomes, OUTCOMES_PER_MESSAGE)):
        # the outcomes were validated when the decision built them
        decided = BatchRecordsDecided.model_construct(
            batch_id=batch_id, ao_id=submitted.ao_id, chunk_index=index, outcomes=chunk
        )
        encoded = writer.encode(decided, ids.text("outcomes", index), records_decided_json(decided))
        messages.append(OutgoingMessage(outcomes_topic, correlation, encoded))
    result = _result(submitted, decision, decided_at, on_plr)
    messages.append(OutgoingMessage(outcomes_topic, correlation, writer.encode(result, ids.text("result"))))
    return messages


def _result(
    submitted: BatchSubmitted, decision: BatchDecision, decided_at: datetime, on_plr: Mapping[str, str | None]
) -> BatchCompleted | BatchFailed:
    """`on_plr`: the qualifications of `decision.events` by QAN, with the type of their recorded achievements."""
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
        on_plr=tuple(
            QualificationOnPlr(qualification_number=qan, qualification_type=on_plr[qan]) for qan in sorted(on_plr)
        ),
    )


def _chunks(items: Sequence[RecordOutcome], size: int) -> list[tuple[RecordOutcome, ...]]:
    return [tuple(items[start : start + size]) for start in range(0, len(items), size)] or [()]
