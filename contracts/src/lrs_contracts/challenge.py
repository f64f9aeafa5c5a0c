"""Event Data Challenges on `lrs.challenge.events.v1` (key: achievement id)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Literal

from pydantic import Field

from lrs_contracts.envelope import Contract


class ChallengeResolution(StrEnum):
    CORRECTED = "corrected"
    UPHELD = "upheld"
    REJECTED = "rejected"


class ChallengeRaised(Contract):
    """lrs.challenge.raised.v1 — a learner says an achievement has a data error."""

    event_type: Literal["lrs.challenge.raised.v1"] = "lrs.challenge.raised.v1"
    challenge_id: uuid.UUID
    achievement_id: uuid.UUID
    ao_id: str
    uln: str = Field(pattern=r"^[1-9][0-9]{9}$")
    reason: str = Field(min_length=1, max_length=2000)


class ChallengeAcknowledged(Contract):
    """lrs.challenge.acknowledged.v1 — the AO has seen it."""

    event_type: Literal["lrs.challenge.acknowledged.v1"] = "lrs.challenge.acknowledged.v1"
    challenge_id: uuid.UUID
    achievement_id: uuid.UUID
    ao_id: str


class ChallengeResolved(Contract):
    """lrs.challenge.resolved.v1 — closed by the AO; the achievement is no longer under challenge."""

    event_type: Literal["lrs.challenge.resolved.v1"] = "lrs.challenge.resolved.v1"
    challenge_id: uuid.UUID
    achievement_id: uuid.UUID
    ao_id: str
    resolution: ChallengeResolution
    note: str | None = Field(default=None, max_length=2000)


CHALLENGE_EVENTS = (ChallengeRaised, ChallengeAcknowledged, ChallengeResolved)
