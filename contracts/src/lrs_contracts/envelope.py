"""The one envelope every event on every topic travels in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

EVENT_TYPE_PATTERN = r"^lrs(\.[a-z][a-z0-9_]*)+\.v[1-9][0-9]*$"

# Deterministic ids (uuid5) are derived under this namespace, so a retried producer emits the same ids.
LRS_NAMESPACE = uuid.UUID("6f0c8a52-4f8e-5d39-9a43-2f1b1e7a9d10")


class Contract(BaseModel):
    """Base of every payload: immutable, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Envelope(BaseModel):
    """CloudEvents-style metadata around a payload.

    `event_type` follows `lrs.<entity>.<past-tense-action>.v<N>`; the registry maps it to the payload
    model, so no Python import path is ever on the wire.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID = Field(
        description=(
            "the event's id: a message delivered again (delivery is at least once) carries the same one, so a"
            " consumer can drop an id it has already applied. On the `lrs.reporting.*` topics it is derived from the"
            " key and the figures: a month's figures are published again after each outcome or challenge event"
            " of the month they count (PLR timeliness: after a measured batch's only), changed or not, and"
            " unchanged figures follow one another under the same id; keep"
            " the last message of each key, or drop repeated ids. Ingest (a batch on `lrs.batch.submitted.v1`) and"
            " validation (a decision's events on `lrs.batch.outcomes.v1` and `lrs.plr.events.v1`) write in Kafka"
            " transactions: read with isolation_level=read_committed (Kafka clients default to read_uncommitted)."
            " Otherwise a reader also sees what an aborted transaction left, a decision's events before it commits"
            " and their copies when it is made again (under the same ids, so dropping repeated ids still holds)"
        )
    )
    event_type: str = Field(
        pattern=EVENT_TYPE_PATTERN,
        description=(
            "what `data` is, as `data.event_type`: `lrs.<entity>.<past-tense action>.v<N>`. `.vN` versions the"
            " payload: within it an event only gains optional fields and enum values, and nothing is removed, made"
            " optional, given another type, or given another pattern, format or bound, at any depth; anything else"
            " is published as a new type (`.v2`). A field or enum value you do not know is new, not an error: ignore"
            " the field, and treat the value as other or unknown rather than refusing the event"
        ),
    )
    occurred_at: datetime = Field(
        description=(
            "when the event happened, in UTC. On the `lrs.reporting.*` topics, when the message was published,"
            " not when the figures changed: the same figures published again carry a later time"
        )
    )
    source: str = Field(min_length=1, description="the service that produced the event")
    correlation_id: str = Field(
        min_length=1,
        description=(
            "what ties related events together: the batch id for a batch's events, the challenge id for a"
            " challenge's, the reset or report id for a Sandpit reset or a centre report, `learner:` and the ULN's"
            " last four digits for registry events, `reference-load-<version>` or `maintenance-<version>` for"
            " reference data and maintenance windows, and the message key (`<ao_id>|<month>` and the like) on"
            " the reporting topics"
        ),
    )
    causation_id: str | None = Field(default=None, description="the event or request that caused this one")
    schema_version: Literal[1] = Field(
        default=1,
        description=(
            "the envelope's own version: 1, the only one there is. The payload's version is the `.vN` ending"
            " `event_type`. Another value would be an envelope of another shape or meaning, which a reader does not"
            " guess at: every LRS consumer parks it, as it parks an event type it does not know"
        ),
    )
    data: dict[str, Any]

    @field_validator("occurred_at")
    @classmethod
    def _must_be_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() != UTC.utcoffset(None):
            raise ValueError("occurred_at must be timezone-aware UTC")
        return value


def deterministic_id(*parts: object) -> uuid.UUID:
    """A stable id for the same logical thing, e.g. (batch id, line, event kind)."""
    return uuid.uuid5(LRS_NAMESPACE, "|".join(str(part) for part in parts))


def utc_now() -> datetime:
    return datetime.now(UTC)
