"""The PLR's JSON, described for OpenAPI: what `views` builds and the PLR routes answer.

The routes return the plain dictionaries `views` builds (no model is built per read); these models only
document them, and the unit tests hold every document `views` writes to them (`extra="forbid"`), so the
description cannot drift from the answer.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lrs_contracts.learner import AbilityToShare


class _Described(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HistoryEntryView(_Described):
    """One version of an achievement, oldest first (`include_history=true`; learners, the AO that uploaded it and
    operators only)."""

    version: int = Field(description="1 for the first record; each applied change adds one")
    change: str = Field(
        description="what made this version: recorded, updated, superseded, withdrawn, reinstated, or recreated (a Create"
        " recorded again onto a withdrawn achievement)"
    )
    occurred_at: datetime
    batch_id: uuid.UUID
    line: int | None = Field(
        default=None, description="the record's line in its batch's file (a CSV row from 4, else its position from 1)"
    )
    event_id: uuid.UUID
    status: str = Field(description="Provisional or Final")
    withdrawn: bool
    grade: str
    achievement_provider_ukprn: str | None
    language_for_assessment: str | None
    credits: int | None
    pathway: str | None = Field(
        default=None, description="the qualification's pathway this version recorded (a Create may change it)"
    )
    corrected_by_operator: bool = Field(
        default=False,
        description="true if the version was made from an operator's corrected copy of a parked event"
        " (`lrs dlq retry --replacement`), not the event as the AO's batch sent it",
    )


class CentreLearningEvent(_Described):
    """An achievement a linked provider reported from its ILR returns (decision 0121): never an AO's result. Shown
    as a learning event of its own, or as a `supporting_records` entry of an AO achievement of the same
    qualification (AO data has precedence, rule 12). Providers' and AOs' reads never carry it as AO data."""

    id: uuid.UUID = Field(description="the report's id")
    source: Literal["ILR"]
    uln: str
    subject_code: str = Field(description="the qualification number as the provider reported it, displayed")
    subject: str | None = Field(
        description="what the provider wrote; null if it wrote none, or once the learner was erased (free text that"
        " may have named them)"
    )
    qualification_type: None
    level: None
    grade: str | None
    achievement_award_date: date | None
    awarding_organisation_name: None
    awarding_organisation_ukprn: None
    achievement_provider_ukprn: str = Field(description="the provider that reported it")
    achievement_provider_name: str | None = Field(
        description="the name the provider gave itself; null if it gave none, or once the learner was erased"
    )
    credits: None
    status: None
    date_loaded: datetime = Field(description="when the provider's report was recorded on the PLR log")
    under_data_challenge: Literal["N"]
    language_for_assessment: None
    participation_start_date: date | None
    participation_end_date: date | None
    withdrawn: Literal[False]


class AoLearningEvent(_Described):
    """An achievement an awarding organisation recorded through a batch."""

    id: uuid.UUID = Field(description="the achievement's id: what a learner names to challenge it")
    source: Literal["AO"]
    uln: str = Field(description="the ULN the AO recorded it under (one of `ulns`)")
    subject_code: str = Field(description="the qualification number (QAN), displayed: 601/4673/4")
    subject: str = Field(description="the qualification's title in the catalogue")
    qualification_type: str
    level: str | None
    grade: str
    achievement_award_date: date
    awarding_organisation_name: str
    awarding_organisation_id: str = Field(description="the AO's recognition number: RN5133")
    achievement_provider_ukprn: str | None = Field(description="the centre the AO named, if it did")
    credits: int | None
    status: str = Field(description="Provisional or Final")
    date_loaded: datetime = Field(
        description="when the achievement was first recorded (a Final superseding a Provisional, an Update or a"
        " reinstatement keeps it); `history` (`include_history=true`) gives the time of each later change"
    )
    under_data_challenge: Literal["Y", "N"] = Field(description="Y while a learner's challenge of it is open")
    language_for_assessment: str | None
    pathway: str | None
    withdrawn: bool = Field(description="true only in a read with `include_withdrawn=true`")
    supporting_records: list[CentreLearningEvent] | None = Field(
        None, description="the providers' records of the same qualification (absent where centre data is not shown)"
    )
    history: list[HistoryEntryView] | None = Field(None, description="with `include_history=true`, where allowed")


class Consistency(_Described):
    """How a read that asked to see its writes (`min_offsets`, `after_batch`) waited."""

    after_batch: uuid.UUID | None = None
    waited_ms: float
    batch_events_applied: int | None = Field(
        None, description="with `after_batch`: the batch's events on this PLR (not the whole batch's)"
    )
    batch_events_held: int | None = Field(
        None,
        description="with `after_batch`: the batch's events held in the projector's dead letters (a poison, or behind"
        " one on its learner's stream), not on any PLR until an operator resolves them. To an AO (its own batch) and"
        " operators the whole batch's; to a learner or a provider only those of the learner read, never another's"
        " (decision 0003). An event parked by a release before this count names no batch, and is counted once it is"
        " parked again",
    )


class PersonalLearningRecord(_Described):
    """A learner's Personal Learning Record as the caller may see it (decision 0012)."""

    environment: Literal["live", "sandpit"]
    uln: str = Field(description="the ULN asked for")
    master_uln: str | None = Field(description="the ULN the learner's records go under (merges), when known")
    ulns: list[str] = Field(description="every ULN of the learner the caller may know of (merges)")
    ability_to_share: AbilityToShare | None = Field(
        description="0 notice not seen, 1 shares, 2 unable to share; null to an AO, which reads whatever the choice"
    )
    learning_events: list[AoLearningEvent | CentreLearningEvent] = Field(description="newest award first")
    withdrawn_not_shown: int | None = Field(
        None,
        description="how many withdrawn achievements (the AO's own, to an AO) this answer leaves out:"
        " `include_withdrawn=true` shows them, and then this is 0; null to providers, which may not ask for them"
        " (decision 0012)",
    )
    events_held_in_dead_letters: int | None = Field(
        description="to the learner and operators: events of this learner parked for an operator, on every topic"
        " the projector reads; while any is, what is shown may not be current (null to AOs, and to providers, who"
        " are refused the PLR meanwhile: 409 `EVENTS_HELD_IN_DEAD_LETTERS`)"
    )
    erased: bool | None = Field(
        None,
        description="to operators only (absent for others): whether the learner was erased (under any of their"
        " ULNs, as far as the projector has read): no achievement can be recorded for them any more (RV004) and"
        " providers are refused their PLR (410 `LEARNER_ERASED`), whatever `ability_to_share` says. When they were"
        " erased is the erasure audit's (validation: `lrs learners erasures --uln`). An AO's read says"
        " `learner_erased` instead",
    )
    learner_erased: bool | None = Field(
        None,
        description="to an awarding organisation only (absent for others), as in its view of the learner"
        " (`GET /v1/ao/achievements`): true when the learner was erased (under any of their ULNs) and this AO has"
        " achievements of theirs: every record for them is refused RV004, so these can no longer be updated,"
        " withdrawn or reinstated; false otherwise (so no AO learns of the erasure of a learner it recorded nothing"
        " for)",
    )
    consistency: Consistency | None = Field(None, description="present when the read asked to see its writes")


class AoAchievements(_Described):
    """The achievements one AO uploaded for a learner (and the ULNs merged with them)."""

    environment: Literal["live", "sandpit"]
    uln: str
    master_uln: str | None
    ulns: list[str]
    ao_id: str
    learner_erased: bool = Field(
        description="true when the learner was erased (under any of their ULNs) and this AO has achievements of"
        " theirs: every record for them is refused RV004, so these can no longer be updated, withdrawn or reinstated;"
        " false otherwise"
    )
    learning_events: list[AoLearningEvent]
    withdrawn_not_shown: int | None = Field(
        None, description="how many of the AO's withdrawn achievements are left out: 0 with `include_withdrawn=true`"
    )
    events_held_in_dead_letters: int | None = Field(
        description="to an operator: events of this learner parked for an operator, on every topic the projector"
        " reads, while any of which what is shown may not be current; null to the AO itself"
    )
    consistency: Consistency | None = None


class CentreReportAccepted(_Described):
    """A provider's report put on the PLR log; its read model follows (wait with `min_offsets`)."""

    report_id: uuid.UUID = Field(description="the report's id: an `ILR` learning event's `id` on the PLR")
    event_id: uuid.UUID
    topic: str = Field(description="the PLR log, as contracts name it")
    partition: int
    offset: int
    min_offsets: str = Field(description="`partition:offset`, for `GET /v1/learners/{uln}/plr?min_offsets=`")
