"""The append-only PLR log, `lrs.plr.events.v1` (key: ULN). Every PLR is derived from it."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import Field

from lrs_contracts.envelope import Contract
from lrs_contracts.identifiers import UKPRN_PATTERN, ULN_PATTERN


class ResultStatus(StrEnum):
    """An achievement's result: P Provisional, F Final."""

    PROVISIONAL = "P"
    FINAL = "F"


class AchievementKey(Contract):
    """Identifies an achievement: (AO, ULN, QAN, award date). Provisional and Final share it."""

    ao_id: str
    uln: str = Field(pattern=ULN_PATTERN)
    qualification_number: str = Field(description="normalised 8-character QAN or unit reference")
    award_date: date


class AchievementData(Contract):
    """The fields that make up the result itself (DOMAIN.md §7 'Achievement data')."""

    pathway: str | None = None
    grade: str
    ukprn: str | None = None
    language_for_assessment: str | None = None
    credits: int | None = None


class QualificationSummary(Contract):
    """Catalogue facts copied onto the event so the PLR reads without a catalogue join."""

    title: str
    qualification_type: str
    level: str | None = None
    framework: str
    kind: str
    awarding_organisation_name: str


class Provenance(Contract):
    """Where an event came from: the batch and the record's line in it."""

    batch_id: uuid.UUID
    line: int = Field(ge=1)
    mis_identifier: str | None = Field(
        default=None,
        description=(
            "no longer written (null): the AO's MIS identifier for the record, as events of earlier releases"
            " carry it. It is the AO's free text, and this log is kept for ever, in clear, where no erasure reaches:"
            " the batch's outcomes (`lrs.batch.outcomes.v1`, the batch's results) echo it to the AO instead"
        ),
    )


class AchievementRecorded(Contract):
    """lrs.achievement.recorded.v1 — a new achievement (or re-creation of a withdrawn one)."""

    event_type: Literal["lrs.achievement.recorded.v1"] = "lrs.achievement.recorded.v1"
    achievement_id: uuid.UUID
    key: AchievementKey
    data: AchievementData
    status: ResultStatus
    qualification: QualificationSummary
    provenance: Provenance


class AchievementUpdated(Contract):
    """lrs.achievement.updated.v1 — grade, UKPRN or language changed (the only updatable fields)."""

    event_type: Literal["lrs.achievement.updated.v1"] = "lrs.achievement.updated.v1"
    achievement_id: uuid.UUID
    key: AchievementKey
    data: AchievementData
    status: ResultStatus
    provenance: Provenance


class AchievementSuperseded(Contract):
    """lrs.achievement.superseded.v1 — a Final result replaced the Provisional one."""

    event_type: Literal["lrs.achievement.superseded.v1"] = "lrs.achievement.superseded.v1"
    achievement_id: uuid.UUID
    key: AchievementKey
    data: AchievementData
    provenance: Provenance


class AchievementWithdrawn(Contract):
    """lrs.achievement.withdrawn.v1 — the AO withdrew an achievement: it leaves the PLR and stays in its history."""

    event_type: Literal["lrs.achievement.withdrawn.v1"] = "lrs.achievement.withdrawn.v1"
    achievement_id: uuid.UUID
    key: AchievementKey
    provenance: Provenance


class AchievementReinstated(Contract):
    """lrs.achievement.reinstated.v1 — the AO reinstated a withdrawn achievement: it is on the PLR again."""

    event_type: Literal["lrs.achievement.reinstated.v1"] = "lrs.achievement.reinstated.v1"
    achievement_id: uuid.UUID
    key: AchievementKey
    provenance: Provenance


class CentreAchievementReported(Contract):
    """lrs.centre.achievement.reported.v1 — a learning provider's (ILR) record. Never overrides AO data.

    `subject` and `provider_name` are free text as the provider wrote it, which may name the learner: once
    `lrs.learner.erased.v1` names the report's `uln` (before or after the report), a reader drops `subject` and
    `provider_name` of that learner's centre reports, as the PLR does; the grade and dates stay. The log keeps the
    report as it was written.
    """

    event_type: Literal["lrs.centre.achievement.reported.v1"] = "lrs.centre.achievement.reported.v1"
    report_id: uuid.UUID
    uln: str = Field(pattern=ULN_PATTERN)
    provider_ukprn: str = Field(pattern=UKPRN_PATTERN)
    provider_name: str | None = None
    qualification_number: str
    subject: str | None = None
    grade: str | None = None
    award_date: date | None = None
    participation_start_date: date | None = None
    participation_end_date: date | None = None


PLR_EVENTS = (
    AchievementRecorded,
    AchievementUpdated,
    AchievementSuperseded,
    AchievementWithdrawn,
    AchievementReinstated,
    CentreAchievementReported,
)
