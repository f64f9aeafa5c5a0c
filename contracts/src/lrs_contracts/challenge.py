"""Event Data Challenges on `lrs.challenge.events.v1` (key: achievement id)."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import Field

from lrs_contracts.envelope import Contract
from lrs_contracts.identifiers import ULN_PATTERN
from lrs_contracts.plr import ResultStatus

CHALLENGE_TEXT_MAX_LENGTH = 2000
"""The most characters of a learner's reason or an AO's note, wherever either is typed."""


class ChallengeResolution(StrEnum):
    """How a challenge ended: the AO corrected the data, upheld it as right, or rejected the challenge; or the
    learner withdrew it (decision 0194: only the learner, or an operator for them, withdraws; the AO never does).

    The values are wire values (API, events, MI): `upheld` stays for compatibility although it means the
    *data* was upheld, not the challenge. People read `RESOLUTION_LABELS` instead (decision 0143).
    """

    CORRECTED = "corrected"
    UPHELD = "upheld"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


RESOLUTION_LABELS: dict[ChallengeResolution, str] = {
    ChallengeResolution.CORRECTED: "Data corrected",
    ChallengeResolution.UPHELD: "Data confirmed correct",
    ChallengeResolution.REJECTED: "Rejected: not a data error",
    ChallengeResolution.WITHDRAWN: "Withdrawn by the learner",
}
"""What pages and emails show for each resolution: the one place its words live (decision 0143)."""


def resolution_label(value: str) -> str:
    """What people read for a resolution's wire value; a value this release does not know, as it came."""
    try:
        return RESOLUTION_LABELS[ChallengeResolution(value)]
    except ValueError:
        return value


class ChallengedAchievement(Contract):
    """The challenged achievement as the PLR log had it when the challenge was raised, for the people who
    read the challenge: its qualification, award date, grade, status, pathway, centre, language for assessment and
    credits (the achievement id names it), and the
    ULN the AO recorded it under, which is not the challenge's `uln` when a ULN merged into the learner's holds
    it (decision 0162)."""

    qualification_number: str = Field(description="normalised 8-character QAN or unit reference")
    title: str | None = Field(default=None, description="the qualification's title from the catalogue, if known")
    award_date: date
    grade: str | None = None
    uln: str | None = Field(
        default=None,
        pattern=ULN_PATTERN,
        description="the ULN the AO recorded the achievement under; absent in events written before this field existed",
    )
    status: ResultStatus | None = Field(
        default=None,
        description="the result's status when the challenge was raised: P Provisional, F Final (decision 0183);"
        " absent in events written before this field existed",
    )
    pathway: str | None = Field(
        default=None,
        description="the achievement's pathway as the PLR log had it, if it has one; absent in events written before"
        " this field existed",
    )
    ukprn: str | None = Field(
        default=None,
        description="the centre's UKPRN as the PLR log had it (the PLR's `achievement_provider_ukprn`), if the AO named"
        " one; absent in events written before this field existed",
    )
    language_for_assessment: str | None = Field(
        default=None,
        description="English, Welsh or Irish as the PLR log had it, if given; absent in events written before this"
        " field existed",
    )
    credits: int | None = Field(
        default=None,
        description="the credits as the PLR log had them, if given; absent in events written before this field existed",
    )


class ChallengeRaisedV1(Contract):
    """lrs.challenge.raised.v1 — a learner says an achievement has a data error; the reason in clear.

    No longer written (`ChallengeRaised` replaced it); read so that an older log still replays.
    """

    event_type: Literal["lrs.challenge.raised.v1"] = "lrs.challenge.raised.v1"
    challenge_id: uuid.UUID
    achievement_id: uuid.UUID
    ao_id: str
    uln: str = Field(pattern=ULN_PATTERN)
    reason: str = Field(min_length=1, max_length=CHALLENGE_TEXT_MAX_LENGTH)


class ChallengeRaised(Contract):
    """lrs.challenge.raised.v2 — a learner says an achievement has a data error.

    The learner's own words may name them: `reason_sealed` is the reason sealed under the learner's
    key (lrs_platform.keyring, purpose `challenge-reason`), unreadable once the learner is erased.
    """

    event_type: Literal["lrs.challenge.raised.v2"] = "lrs.challenge.raised.v2"
    challenge_id: uuid.UUID
    achievement_id: uuid.UUID
    ao_id: str
    uln: str = Field(pattern=ULN_PATTERN)
    reason_sealed: str
    achievement: ChallengedAchievement | None = Field(
        default=None, description="what the achievement is; absent in events written before this field existed"
    )


class ChallengeAcknowledged(Contract):
    """lrs.challenge.acknowledged.v1 — the AO has seen it."""

    event_type: Literal["lrs.challenge.acknowledged.v1"] = "lrs.challenge.acknowledged.v1"
    challenge_id: uuid.UUID
    achievement_id: uuid.UUID
    ao_id: str


class ChallengeResolved(Contract):
    """lrs.challenge.resolved.v1 — closed by the AO, or withdrawn by the learner (`withdrawn`, with no note and no
    batch); the achievement is no longer under challenge."""

    event_type: Literal["lrs.challenge.resolved.v1"] = "lrs.challenge.resolved.v1"
    challenge_id: uuid.UUID
    achievement_id: uuid.UUID
    ao_id: str
    resolution: ChallengeResolution
    note: str | None = Field(
        default=None,
        max_length=CHALLENGE_TEXT_MAX_LENGTH,
        description="in clear: only in events written before sealing",
    )
    uln: str | None = Field(default=None, pattern=ULN_PATTERN, description="the challenging learner")
    note_sealed: str | None = Field(
        default=None, description="the AO's note sealed under the learner's key (purpose `challenge-note`)"
    )
    correcting_batch_id: uuid.UUID | None = Field(
        default=None,
        description="the completed batch that corrected the data, with `corrected` (decision 0142); null with the"
        " other resolutions, absent in events written before this field existed (decision 0149)",
    )


CHALLENGE_EVENTS = (ChallengeRaisedV1, ChallengeRaised, ChallengeAcknowledged, ChallengeResolved)
