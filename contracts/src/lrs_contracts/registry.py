"""Maps `event_type` to its payload model, and turns payloads into envelopes and back."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from lrs_contracts.batch import BatchRecordsSubmitted, BatchSubmissionCompleted, BatchSubmitted
from lrs_contracts.challenge import CHALLENGE_EVENTS
from lrs_contracts.envelope import Contract, Envelope, utc_now
from lrs_contracts.learner import LEARNER_EVENTS
from lrs_contracts.operations import MaintenanceScheduleChanged
from lrs_contracts.outcomes import (
    BatchAbandoned,
    BatchCompleted,
    BatchFailed,
    BatchRecordsDecided,
    BatchValidationStarted,
)
from lrs_contracts.plr import PLR_EVENTS
from lrs_contracts.reference import QualificationPublished
from lrs_contracts.reporting import REPORTING_EVENTS
from lrs_contracts.sandpit import SANDPIT_EVENTS


class UnknownEventType(ValueError):
    """The wire carried an event_type no model is registered for."""


_MODELS: tuple[type[Contract], ...] = (
    BatchSubmitted,
    BatchRecordsSubmitted,
    BatchSubmissionCompleted,
    BatchValidationStarted,
    BatchRecordsDecided,
    BatchCompleted,
    BatchFailed,
    BatchAbandoned,
    *PLR_EVENTS,
    *LEARNER_EVENTS,
    QualificationPublished,
    *CHALLENGE_EVENTS,
    *REPORTING_EVENTS,
    MaintenanceScheduleChanged,
    *SANDPIT_EVENTS,
)


def event_type_of(model: type[Contract]) -> str:
    default = model.model_fields["event_type"].default
    assert isinstance(default, str)
    return default


EVENT_TYPES: dict[str, type[Contract]] = {event_type_of(model): model for model in _MODELS}


def wrap(
    payload: Contract,
    *,
    source: str,
    correlation_id: str,
    event_id: uuid.UUID | None = None,
    causation_id: str | None = None,
    occurred_at: datetime | None = None,
) -> Envelope:
    return Envelope(
        event_id=event_id or uuid.uuid4(),
        event_type=getattr(payload, "event_type"),  # noqa: B009 - every registered payload has one
        occurred_at=occurred_at or utc_now(),
        source=source,
        correlation_id=correlation_id,
        causation_id=causation_id,
        data=payload.model_dump(mode="json"),
    )


def encode(envelope: Envelope) -> bytes:
    return envelope.model_dump_json().encode()


def decode_envelope(raw: bytes) -> Envelope:
    return Envelope.model_validate_json(raw)


def payload_of(envelope: Envelope) -> Contract:
    model = EVENT_TYPES.get(envelope.event_type)
    if model is None:
        raise UnknownEventType(envelope.event_type)
    return model.model_validate(envelope.data)


def decode(raw: bytes) -> tuple[Envelope, Contract]:
    envelope = decode_envelope(raw)
    return envelope, payload_of(envelope)


def schema_of(model: type[Contract]) -> dict[str, Any]:
    schema: dict[str, Any] = model.model_json_schema(mode="validation")
    return schema


def dumps_schema(model: type[Contract]) -> str:
    return json.dumps(schema_of(model), indent=2, sort_keys=True) + "\n"
