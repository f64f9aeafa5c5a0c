"""The PLR projection: pure functions from (current rows, events) to row changes. No I/O.

A *stream* is (topic, message key): a learner on the PLR and learner topics, an achievement on the
challenge topic; a message without a key is a stream of its own (`stream_of`). Within a stream events
apply in log order; a stream whose event cannot be decoded or applied is *parked* (the poison event and
everything after it) while other streams go on.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

import orjson
from asyncpg.pgproto import pgproto
from pydantic import ValidationError

from lrs_contracts import topics
from lrs_contracts.challenge import ChallengeAcknowledged, ChallengeRaised, ChallengeRaisedV1, ChallengeResolved
from lrs_contracts.dead_letters import error_text, fields_changed, learners_named, peek_event, unknown_event_type
from lrs_contracts.envelope import Contract, Envelope
from lrs_contracts.fast_decode import NotFast, decode_flat, flat_fields, plain_fields
from lrs_contracts.identifiers import is_uuid
from lrs_contracts.learner import (
    LEARNER_EVENTS,
    LearnerErased,
    LearnerProviderLinked,
    LearnerProviderUnlinked,
    LearnerRegistered,
    LearnerRegisteredV1,
    LearnerSharingChanged,
    LearnersMerged,
)
from lrs_contracts.plr import (
    AchievementData,
    AchievementKey,
    AchievementRecorded,
    AchievementReinstated,
    AchievementSuperseded,
    AchievementUpdated,
    AchievementWithdrawn,
    CentreAchievementReported,
    QualificationSummary,
    ResultStatus,
)
from lrs_contracts.registry import EVENT_TYPES, UnknownEventType, decode, typed_envelopes
from lrs_contracts.sandpit import SandpitAchievementsErased
from lrs_contracts.text import REFUSED_IN_TEXT
from lrs_domain.achievements import (
    KIND_OF_EVENT_TYPE,
    AchievementChange,
    AchievementEvent,
    AchievementEventMismatch,
    AchievementState,
    implied_status,
    step,
    transition,
)
from lrs_domain.identifiers import normalise_qan
from lrs_domain.merges import LearnerMerges, MergedLearner
from plr_projector.storable import (
    ESCAPE,
    INT4_MAX,
    INT4_MIN,
    may_spell_unstorable,
    refused_anywhere,
    repeated_name,
    unstorable_field,
    why_unstorable,
)

PLR_TOPIC = topics.PLR_EVENTS.name
LEARNER_TOPIC = topics.LEARNER_EVENTS.name
CHALLENGE_TOPIC = topics.CHALLENGE_EVENTS.name
PROJECTED_TOPICS = (PLR_TOPIC, LEARNER_TOPIC, CHALLENGE_TOPIC)

_EVENTS_OF_TOPIC: dict[str, tuple[type[Contract], ...]] = {
    PLR_TOPIC: (
        AchievementRecorded,
        AchievementUpdated,
        AchievementSuperseded,
        AchievementWithdrawn,
        AchievementReinstated,
        CentreAchievementReported,
        SandpitAchievementsErased,
    ),
    LEARNER_TOPIC: LEARNER_EVENTS,
    CHALLENGE_TOPIC: (ChallengeRaisedV1, ChallengeRaised, ChallengeAcknowledged, ChallengeResolved),
}
LearnerEvent = LearnerRegisteredV1 | LearnerRegistered | LearnerSharingChanged | LearnersMerged | LearnerErased
ChallengeEvent = ChallengeRaisedV1 | ChallengeRaised | ChallengeAcknowledged | ChallengeResolved


_TYPED_ENVELOPES = typed_envelopes(model for models in _EVENTS_OF_TOPIC.values() for model in models)


class ProjectionError(Exception):
    """An event that cannot be applied to the current state: it is parked with this message."""


# --- rows ---------------------------------------------------------------------------------------

AchievementKeyTuple = tuple[str, str, str, date]  # (uln, ao_id, qualification_number, award_date)
CentreKey = tuple[str, str, str]  # (uln, provider_ukprn, qualification_number)
Position = tuple[str, int, int]  # (topic, partition, offset)
Stream = tuple[str, str]  # (topic, key)
# Each parked stream's head: the (partition, offset) of its first parked event, which its later events wait behind
ParkedHeads = dict[Stream, tuple[int, int]]
BatchPartition = tuple[uuid.UUID, int]  # (batch id, partition)
Mark = tuple[int, int]  # (line, offset): the highest line of a batch applied in a partition, and where it was

# The source of the decisions' achievement events, which are deduplicated by their batch's marks
# (decision 0097): the decider publishes a batch's events in line order, one per line, and a copy of
# them (a stored decision published again) after them all, with the same ids.
DECIDER = "validation"


def is_copy(mark: Mark | None, line: int, offset: int) -> bool:
    """Whether a decision's event at `line`, read at `offset`, is a copy of one applied: the original
    of each line at or below the mark came at or before the mark's offset, and no original after it
    has a line at or below it."""
    return mark is not None and line <= mark[0] and offset > mark[1]


class AchievementRow(NamedTuple):
    """An achievement's row: its values in the order of the table's columns (binary COPY takes it as is)."""

    uln: str
    ao_id: str
    qualification_number: str
    award_date: date
    achievement_id: uuid.UUID
    status: str
    withdrawn: bool
    version: int
    pathway: str | None
    grade: str
    ukprn: str | None
    language_for_assessment: str | None
    credits: int | None
    title: str
    qualification_type: str
    level: str | None
    framework: str
    kind: str
    awarding_organisation_name: str
    date_loaded: datetime
    last_changed_at: datetime

    @property
    def key(self) -> AchievementKeyTuple:
        return (self.uln, self.ao_id, self.qualification_number, self.award_date)


class HistoryEntry(NamedTuple):
    """A history row, in the order of the table's columns."""

    uln: str
    ao_id: str
    qualification_number: str
    award_date: date
    version: int
    change: str
    event_id: uuid.UUID
    occurred_at: datetime
    batch_id: uuid.UUID
    line: int
    achievement_id: uuid.UUID
    status: str
    withdrawn: bool
    grade: str
    ukprn: str | None
    language_for_assessment: str | None
    credits: int | None
    pathway: str | None


class LearnerRow(NamedTuple):
    uln: str
    registered: bool
    ability_to_share: int
    master_uln: str | None


class ProviderLinkRow(NamedTuple):
    """A learning provider linked to a learner (decision 0121): it may read their PLR and report for them."""

    uln: str
    provider_ukprn: str


@dataclass(frozen=True)
class CentreRow:
    """A provider's report. `subject` and `provider_name` are its free text as the provider wrote it, which may
    name the learner: the read model empties them once the learner is erased (`without_free_text`); `grade` is a
    result, kept as an AO's grades are."""

    uln: str
    provider_ukprn: str
    qualification_number: str
    report_id: uuid.UUID
    event_id: uuid.UUID
    provider_name: str | None
    subject: str | None
    grade: str | None
    award_date: date | None
    participation_start_date: date | None
    participation_end_date: date | None
    reported_at: datetime

    @property
    def key(self) -> CentreKey:
        return (self.uln, self.provider_ukprn, self.qualification_number)

    def without_free_text(self) -> CentreRow:
        """The report as the read model keeps it once its learner was erased."""
        return dataclasses.replace(self, provider_name=None, subject=None)


@dataclass(frozen=True)
class ChallengeRow:
    challenge_id: uuid.UUID
    achievement_id: uuid.UUID
    ao_id: str
    state: str


@dataclass(frozen=True)
class EventMeta:
    event_id: uuid.UUID
    occurred_at: datetime


# --- achievements -------------------------------------------------------------------------------


def achievement_key(key: AchievementKey) -> AchievementKeyTuple:
    return (key.uln, key.ao_id, key.qualification_number, key.award_date)


def _history(row: AchievementRow, change: str, meta: EventMeta, event: AchievementEvent) -> HistoryEntry:
    return HistoryEntry(
        uln=row.uln,
        ao_id=row.ao_id,
        qualification_number=row.qualification_number,
        award_date=row.award_date,
        version=row.version,
        change=change,
        event_id=meta.event_id,
        occurred_at=meta.occurred_at,
        batch_id=event.provenance.batch_id,
        line=event.provenance.line,
        achievement_id=row.achievement_id,
        status=row.status,
        withdrawn=row.withdrawn,
        grade=row.grade,
        ukprn=row.ukprn,
        language_for_assessment=row.language_for_assessment,
        credits=row.credits,
        pathway=row.pathway,
    )


def evolve_achievement(
    row: AchievementRow | None, event: AchievementEvent, meta: EventMeta
) -> tuple[AchievementRow, HistoryEntry] | None:
    """The achievement after `event`, with its history entry; None when the event changes nothing.

    What an event does is the domain's one fold (`lrs_domain.achievements.transition`); this adds
    what only the read model keeps: the version, the catalogue facts and the load date.
    """
    try:
        moved = transition(_state_of(row, event.key) if row is not None else None, event)
    except AchievementEventMismatch as error:
        raise ProjectionError(str(error)) from error
    if moved is None:
        return None
    state = moved.state
    if row is None or moved.change is AchievementChange.RECREATED:
        assert isinstance(event, AchievementRecorded)  # only a recording starts or re-creates an achievement
        changed = _new_row(state, event.qualification, 1 if row is None else row.version + 1, meta)
    else:
        changed = row._replace(
            status=state.status.value,
            withdrawn=state.withdrawn,
            pathway=state.data.pathway,
            grade=state.data.grade,
            ukprn=state.data.ukprn,
            language_for_assessment=state.data.language_for_assessment,
            credits=state.data.credits,
            version=row.version + 1,
            last_changed_at=meta.occurred_at,
        )
    return changed, _history(changed, moved.change.value, meta, event)


def _state_of(row: AchievementRow, key: AchievementKey) -> AchievementState:
    """The row as the fold sees it; `key` is the event's, which is the row's (rows are found by it)."""
    return AchievementState(
        achievement_id=row.achievement_id,
        key=key,
        data=AchievementData(
            pathway=row.pathway,
            grade=row.grade,
            ukprn=row.ukprn,
            language_for_assessment=row.language_for_assessment,
            credits=row.credits,
        ),
        status=ResultStatus(row.status),
        withdrawn=row.withdrawn,
    )


def _new_row(
    state: AchievementState, qualification: QualificationSummary, version: int, meta: EventMeta
) -> AchievementRow:
    return AchievementRow(
        uln=state.key.uln,
        ao_id=state.key.ao_id,
        qualification_number=state.key.qualification_number,
        award_date=state.key.award_date,
        achievement_id=state.achievement_id,
        status=state.status.value,
        withdrawn=False,
        version=version,
        pathway=state.data.pathway,
        grade=state.data.grade,
        ukprn=state.data.ukprn,
        language_for_assessment=state.data.language_for_assessment,
        credits=state.data.credits,
        title=qualification.title,
        qualification_type=qualification.qualification_type,
        level=qualification.level,
        framework=qualification.framework,
        kind=qualification.kind,
        awarding_organisation_name=qualification.awarding_organisation_name,
        date_loaded=meta.occurred_at,
        last_changed_at=meta.occurred_at,
    )


def centre_row(event: CentreAchievementReported, meta: EventMeta) -> CentreRow:
    qualification_number = normalise_qan(event.qualification_number)
    if qualification_number is None:
        raise ProjectionError("centre achievement: the qualification number is badly formed")
    return CentreRow(
        uln=event.uln,
        provider_ukprn=event.provider_ukprn,
        qualification_number=qualification_number,
        report_id=event.report_id,
        event_id=meta.event_id,
        provider_name=event.provider_name,
        subject=event.subject,
        grade=event.grade,
        award_date=event.award_date,
        participation_start_date=event.participation_start_date,
        participation_end_date=event.participation_end_date,
        reported_at=meta.occurred_at,
    )


# --- learners and challenges --------------------------------------------------------------------


def evolve_learners(rows: Mapping[str, LearnerRow], event: LearnerEvent) -> list[LearnerRow]:
    """The learner rows `event` changes. Each field has one writing stream, so the result does not
    depend on how partitions interleave: registration and sharing come from the learner's own
    stream, `master_uln` only from the master's merge events. The PLR holds nothing personal about
    a learner (their names and date of birth are not projected), so an erasure changes no row: the
    learner's achievements stay, as facts about a ULN (their centre reports too, without the free text
    a provider wrote in them: `erase_centre_text`)."""
    if isinstance(event, LearnerErased):
        return []
    if isinstance(event, LearnersMerged):
        if event.merged_uln == event.master_uln:
            raise ProjectionError("merged: a learner cannot be merged into itself")
        current = rows.get(event.merged_uln) or LearnerRow(event.merged_uln, False, 0, None)
        return [current._replace(master_uln=event.master_uln)]
    current = rows.get(event.uln) or LearnerRow(event.uln, False, 0, None)
    if isinstance(event, LearnerRegistered | LearnerRegisteredV1):
        return [current._replace(registered=True, ability_to_share=int(event.ability_to_share))]
    return [current._replace(ability_to_share=int(event.ability_to_share))]


def plr_learner(uln: str, learners: Iterable[LearnerRow]) -> MergedLearner:
    """Whose achievements the PLR of `uln` shows: every ULN of the learner once merges are followed
    (`lrs_domain.merges`), the same ULNs the decider searches. The master, whose registration and
    sharing choice apply, is `recorded_uln`. `learners` holds at least every ULN connected to `uln`
    by merges; a merge chain's achievements stay under the ULN each was recorded under."""
    return LearnerMerges({row.uln: row.master_uln for row in learners if row.master_uln}).resolve(uln)


_CHALLENGE_STATES: dict[type[Contract], str] = {
    ChallengeRaisedV1: "raised",
    ChallengeRaised: "raised",
    ChallengeAcknowledged: "acknowledged",
    ChallengeResolved: "resolved",
}


def challenge_row(event: ChallengeEvent) -> ChallengeRow:
    return ChallengeRow(event.challenge_id, event.achievement_id, event.ao_id, _CHALLENGE_STATES[type(event)])


def erase_achievements(
    achievements: dict[AchievementKeyTuple, AchievementRow], changes: BatchChanges, uln: str, ao_id: str
) -> None:
    """A Sandpit reset (decision 0060): the AO's achievements on this learner's PLR go, with their history."""
    for key in [key for key in achievements if key[0] == uln and key[1] == ao_id]:
        del achievements[key]
        changes.achievements.pop(key, None)
        changes.created.discard(key)  # a key recorded again after it is one to create once more
        changes.erased.add(key)
    changes.history = [entry for entry in changes.history if (entry.uln, entry.ao_id) != (uln, ao_id)]


def erase_centre_text(centre: dict[CentreKey, CentreRow], uln: str) -> None:
    """A learner's erasure: their centre reports among `centre` lose their free text, which may name them (a
    provider may write anything there). Those already stored lose it as the erasure is written
    (`BatchChanges.erased_ulns`); the report stays, as the learner's AO achievements do."""
    for key, row in centre.items():
        if row.uln == uln:
            centre[key] = row.without_free_text()


# --- messages and batches -----------------------------------------------------------------------


class Message(NamedTuple):
    """A record as read from the log, with the logical (unprefixed) topic name."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int

    @property
    def position(self) -> Position:
        return (self.topic, self.partition, self.offset)

    @property
    def stream(self) -> Stream:
        return stream_of(self.topic, self.partition, self.offset, self.key)


def stream_of(topic: str, partition: int, offset: int, key: bytes | None) -> Stream:
    """The stream a record is parked and held under. A record without a key (or with an empty one) holds
    nothing back (as in `lrs_platform.parking`): it is a stream of its own, named after its position,
    which an operator types to retry or skip it and which no key of these topics (a ULN, an achievement
    id) looks like."""
    if not key:
        return (topic, f"keyless:{topic}:{partition}:{offset}")
    return (topic, stream_key(key))


def held_behind(message: Message, heads: Mapping[Stream, tuple[int, int]]) -> bool:
    """Whether the message waits behind its stream's parked head: it comes at or after it in the log. One before
    it (a stream read again from an earlier offset: a replay) was applied before the head was parked, and is
    applied again (a copy: a duplicate), not parked behind its own successor, as in `lrs_platform`."""
    head = heads.get(message.stream)
    if head is None:
        return False
    partition, offset = head
    return message.partition != partition or message.offset >= offset


def note_head(heads: ParkedHeads, message: Message) -> None:
    """Records that `message` is parked: the head of its stream unless one earlier in the log is already."""
    head = (message.partition, message.offset)
    heads[message.stream] = min(heads.get(message.stream, head), head)


def stream_key(key: bytes) -> str:
    """The key as the text a stream is parked and held under: what no text column can hold (a NUL, say,
    which no ULN has) spelt U+FFFD, so a poison's own key never stops it from being parked."""
    return REFUSED_IN_TEXT.sub("\ufffd", key.decode("utf-8", errors="replace"))


@dataclass(frozen=True)
class OperatorAction:
    action: str  # 'skip' | 'replace'
    replacement: bytes | None = None


@dataclass(frozen=True)
class Decoded:
    message: Message
    envelope: Envelope | None
    payload: Contract | None
    error: str | None
    skipped: bool = False


def decode_message(message: Message, actions: Mapping[Position, OperatorAction] | None = None) -> Decoded:
    action = (actions or {}).get(message.position)
    if action is not None and action.action == "skip":
        return Decoded(message, None, None, None, skipped=True)
    value = action.replacement if action is not None and action.action == "replace" else message.value
    if value is None:
        return Decoded(message, None, None, "empty message value")
    try:
        typed = _TYPED_ENVELOPES.validate_json(value)
        envelope, payload = typed, typed.data
    except ValidationError:
        envelope, payload = None, None
    try:
        if envelope is None or payload is None:
            envelope, payload = decode(value)  # the registry's answer, for a precise error
    except ValidationError as error:
        return Decoded(message, None, None, error_text(error))
    except UnknownEventType as error:
        return Decoded(message, None, None, unknown_event_type(str(error)))
    except (ValueError, UnicodeDecodeError) as error:
        return Decoded(message, None, None, f"undecodable: {type(error).__name__}")
    if not isinstance(payload, _EVENTS_OF_TOPIC.get(message.topic, ())):
        return Decoded(message, envelope, None, f"{envelope.event_type} does not belong on {message.topic}")
    return Decoded(message, envelope, payload, None)


def replacement_refusal(head: Message, replacement: bytes, key: str) -> str | None:
    """Why `replacement` cannot be applied in place of `head`, the parked first event of the stream `key`, or
    None. A corrected copy is the same event mended, nothing else: an event this topic carries, under the parked
    event's id, type, time and correlation id, with its achievement's id, key and provenance (`fields_changed`:
    each where the parked bytes read as JSON and it is not what they got wrong, as a poison's do), about the same
    learners (or, when the parked bytes say nothing, about the stream's learner). Anything else would put an
    achievement on another learner's record, or under another AO, batch or time, for good: replays and rebuilds
    apply it again, and the PLR's history names the batch it came from."""
    new = decode_message(head._replace(value=replacement))
    if new.envelope is None or new.payload is None:
        return f"the replacement is not an event {head.topic} carries ({new.error})"
    old = decode_message(head)
    named = learners_named(new.payload)
    if old.payload is not None and named != learners_named(old.payload):
        return "the replacement names other learners than the parked event: a corrected copy is about the same ones"
    if old.payload is None and key.isascii() and key.isdigit() and key not in named:
        return "the replacement is not about the learner whose events are parked"
    if (repeated := repeated_name(replacement)) is not None:
        return (
            f"the replacement names {repeated!r} twice in one object: a corrected copy is kept for good and read back"
            " as the JSON PostgreSQL stores, which keeps one of them; name each field once"
        )
    if (refused := refused_anywhere(json.loads(replacement))) is not None:
        return (
            f"the replacement's {refused}: the copy is kept for good, and must read back as the"
            " JSON PostgreSQL stores (mend that field too)"
        )
    parked_id, _ = peek_event(head.value)
    if parked_id is not None and new.envelope.event_id != uuid.UUID(parked_id):
        return (
            f"the replacement's event_id is {new.envelope.event_id}, the parked event's {parked_id}:"
            " a corrected copy keeps the id of the event it mends"
        )
    unstorable = unstorable_field(old.payload) if old.payload is not None else None
    mended = [("data", *unstorable.split("."))] if unstorable is not None else []
    if changed := fields_changed(head.value, replacement, also_broken=mended):
        return (
            f"the replacement changes the parked event's {' and '.join(changed)}: a corrected copy is the parked"
            " event mended, nothing else, and keeps its type, time, correlation id, key and provenance"
        )
    return None


@dataclass
class Snapshot:
    """The current rows a batch reads; the store loads them for the batch's keys."""

    achievements: dict[AchievementKeyTuple, AchievementRow] = field(default_factory=dict)
    learners: dict[str, LearnerRow] = field(default_factory=dict)
    seen_event_ids: set[uuid.UUID] = field(default_factory=set)
    parked_streams: ParkedHeads = field(default_factory=dict)
    marks: dict[BatchPartition, Mark] = field(default_factory=dict)
    # Which ULNs of the batch's centre reports (`Needs.centre_ulns`) were erased: their reports' free text is
    # not kept (more may be here: a learner erased is erased whatever the batch)
    erased_ulns: AbstractSet[str] = frozenset()


@dataclass(frozen=True)
class Parked:
    message: Message
    reason: str  # 'error' | 'blocked'
    error: str | None
    event_id: uuid.UUID | None
    event_type: str | None
    value: bytes | None
    # the consumer's tries before parking it, as its dead letter says: one for an event its contract or the
    # fold refuses (trying again changes nothing), none for one held behind another's poison
    attempts: int = 0
    # the batch of a PLR batch's event (`batch_of`): `after_batch` reads count the batch's events held
    batch_id: uuid.UUID | None = None


@dataclass
class BatchChanges:
    achievements: dict[AchievementKeyTuple, AchievementRow] = field(default_factory=dict)
    history: list[HistoryEntry] = field(default_factory=list)
    centre: dict[CentreKey, CentreRow] = field(default_factory=dict)
    learners: dict[str, LearnerRow] = field(default_factory=dict)
    # Links made and links ended (the stream's last word on each: never in both), written in either order
    links: set[ProviderLinkRow] = field(default_factory=set)
    unlinks: set[ProviderLinkRow] = field(default_factory=set)
    # Links ended because the ULN was another learner's (every `LearnerProviderUnlinked`): kept for good in
    # `provider_links_ended`, whatever the stream said after, so the provider's centre reports for the learner are
    # not shown while it is linked to none of their ULNs (`ReadModel.centre`); a link again shows them again
    ended_links: set[ProviderLinkRow] = field(default_factory=set)
    # Learners erased (`erased` is a Sandpit reset's achievements): the read model's reports of theirs lose their
    # free text when these are written (`CentreRow.without_free_text`), as this batch's rows of theirs have
    erased_ulns: set[str] = field(default_factory=set)
    challenges: dict[uuid.UUID, ChallengeRow] = field(default_factory=dict)
    applied_event_ids: list[uuid.UUID] = field(default_factory=list)  # of the events `marks` do not cover
    marks: dict[BatchPartition, Mark] = field(default_factory=dict)  # the marks this batch raised
    parked: list[Parked] = field(default_factory=list)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (topic, outcome) -> n
    # (batch, outcome) -> n of the events of decided batches, each by the batch it names (`batch_of`): what the
    # step's `batch_events_projected` line says of each batch, never another batch's event (incident walk, finding 2)
    batch_outcomes: Counter[tuple[uuid.UUID, str]] = field(default_factory=Counter)
    newest_timestamp_ms: dict[str, int] = field(default_factory=dict)
    erased: set[AchievementKeyTuple] = field(default_factory=set)  # deleted before the rows above are written
    # Achievements that had no row before this batch (none in its snapshot, which holds every row
    # at the keys the batch changes): their rows are inserted, the others' merged.
    created: set[AchievementKeyTuple] = field(default_factory=set)

    def add(self, other: BatchChanges) -> None:
        """Adds the changes of another part of the batch, on other streams."""
        self.achievements.update(other.achievements)
        self.history += other.history
        self.centre.update(other.centre)
        self.learners.update(other.learners)
        self.links |= other.links
        self.unlinks |= other.unlinks
        self.ended_links |= other.ended_links
        self.erased_ulns |= other.erased_ulns
        self.challenges.update(other.challenges)
        self.erased |= other.erased
        self.created |= other.created
        self.applied_event_ids += other.applied_event_ids
        self.parked += other.parked
        self.add_summary(other)

    def add_summary(self, other: BatchChanges) -> None:
        """Adds what another part's changes tell of themselves once written (each event's outcome, the batches'
        marks, the newest broker times), without their rows: what an operator's action reports and accounts."""
        for batch, mark in other.marks.items():
            self.marks[batch] = max(mark, self.marks.get(batch, mark))
        self.outcomes.update(other.outcomes)
        self.batch_outcomes.update(other.batch_outcomes)
        for topic, timestamp in other.newest_timestamp_ms.items():
            self.newest_timestamp_ms[topic] = max(self.newest_timestamp_ms.get(topic, 0), timestamp)


def _no_ids(batches: AbstractSet[uuid.UUID]) -> list[uuid.UUID]:
    return []


@dataclass(frozen=True)
class Needs:
    """Which rows a batch must read before it can be projected."""

    ulns: frozenset[str]  # every achievement of these learners
    learner_ulns: frozenset[str]
    event_ids: frozenset[uuid.UUID]  # whether these were applied (the events marks do not cover)
    keys: frozenset[AchievementKeyTuple] = frozenset()  # the achievements at these keys
    batches: frozenset[BatchPartition] = frozenset()  # the marks of these
    # The ids of the marked events of some batches: those applied before marks (migration 0003),
    # whose ids are looked up as well.
    marked_ids: Callable[[AbstractSet[uuid.UUID]], list[uuid.UUID]] = _no_ids
    centre_ulns: frozenset[str] = frozenset()  # whether these learners were erased (their centre reports')


def marked_line(message: Message, envelope: Envelope, payload: Contract) -> tuple[BatchPartition, int] | None:
    """A decision's achievement event: its batch's mark and its line (None: another event, known by its id)."""
    if envelope.source == DECIDER and isinstance(payload, AchievementEvent):
        return (payload.provenance.batch_id, message.partition), payload.provenance.line
    return None


def peek_batch_id(value: bytes | None) -> uuid.UUID | None:
    """The batch a PLR event's bytes name (`data.provenance.batch_id`), if they are a JSON object naming one as a
    UUID: what an event parked undecoded (its contract refused it, or its write failed) still tells of its batch."""
    if not value:
        return None
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    data = document.get("data") if isinstance(document, dict) else None
    provenance = data.get("provenance") if isinstance(data, dict) else None
    batch_id = provenance.get("batch_id") if isinstance(provenance, dict) else None
    return uuid.UUID(batch_id) if isinstance(batch_id, str) and is_uuid(batch_id) else None


def batch_of(message: Message, payload: Contract | None) -> uuid.UUID | None:
    """The batch whose event `message` is, as it is parked: its provenance's where it was decoded, else what its
    bytes name (a PLR event only); None for any other event."""
    if isinstance(payload, AchievementEvent):
        return payload.provenance.batch_id
    if payload is not None or message.topic != PLR_TOPIC:
        return None
    return peek_batch_id(message.value)


def needs_of(decoded: Iterable[Decoded]) -> Needs:
    ulns: set[str] = set()
    learner_ulns: set[str] = set()
    centre_ulns: set[str] = set()
    event_ids: set[uuid.UUID] = set()
    batches: set[BatchPartition] = set()
    marked: list[tuple[uuid.UUID, uuid.UUID]] = []
    for item in decoded:
        payload = item.payload
        if item.envelope is not None:
            line = marked_line(item.message, item.envelope, payload) if payload is not None else None
            if line is None:
                event_ids.add(item.envelope.event_id)
            else:
                batches.add(line[0])
                marked.append((line[0][0], item.envelope.event_id))
        if isinstance(payload, AchievementEvent):
            ulns.add(payload.key.uln)
        elif isinstance(payload, LearnerRegisteredV1 | LearnerRegistered | LearnerSharingChanged):
            learner_ulns.add(payload.uln)
        elif isinstance(payload, LearnersMerged):
            learner_ulns.add(payload.merged_uln)
        elif isinstance(payload, SandpitAchievementsErased):
            ulns.add(payload.uln)
        elif isinstance(payload, CentreAchievementReported):
            centre_ulns.add(payload.uln)

    def marked_ids(of: AbstractSet[uuid.UUID]) -> list[uuid.UUID]:
        return [event_id for batch_id, event_id in marked if batch_id in of]

    return Needs(
        frozenset(ulns),
        frozenset(learner_ulns),
        frozenset(event_ids),
        batches=frozenset(batches),
        marked_ids=marked_ids,
        centre_ulns=frozenset(centre_ulns),
    )


def project_batch(snapshot: Snapshot, decoded: Sequence[Decoded]) -> BatchChanges:
    """Applies a batch in order; returns the final rows to write and what was parked.

    `decoded` must keep each partition's log order. Streams do not share rows (merges write only the
    merged ULN's `master_uln`), so the interleaving of partitions does not change the result.
    """
    changes = BatchChanges()
    achievements = dict(snapshot.achievements)
    learners = dict(snapshot.learners)
    seen = set(snapshot.seen_event_ids)
    marks = dict(snapshot.marks)
    blocked = dict(snapshot.parked_streams)
    erased_ulns = set(snapshot.erased_ulns)

    # (batch id's integer, outcome) -> n, added to `batch_outcomes` after the loop: a UUID's hash is a Python call
    # (~1 µs), an int's is not (review 1, finding 1; as `lrs_domain.decision` counts)
    by_batch: Counter[tuple[int, str]] = Counter()

    def of_batch(item: Decoded, outcome: str, batch_id: uuid.UUID | None = None) -> None:
        """Counts the event's outcome to the batch it names itself, if any (`batch_outcomes`)."""
        batch_id = batch_id or batch_of(item.message, item.payload)
        if batch_id is not None:
            by_batch[batch_id.int, outcome] += 1

    def park(item: Decoded, reason: str, error: str | None) -> None:
        event_id: uuid.UUID | None
        event_type: str | None
        if item.envelope is not None:
            event_id, event_type = item.envelope.event_id, item.envelope.event_type
        else:  # an envelope that fails its contract may still name itself: the dead letter says so
            peeked_id, event_type = peek_event(item.message.value)
            event_id = uuid.UUID(peeked_id) if peeked_id is not None else None
        batch_id = batch_of(item.message, item.payload)
        changes.parked.append(
            Parked(
                message=item.message,
                reason=reason,
                error=error,
                event_id=event_id,
                event_type=event_type,
                value=item.message.value,
                attempts=1 if reason == "error" else 0,
                batch_id=batch_id,
            )
        )
        note_head(blocked, item.message)
        changes.outcomes[(item.message.topic, "parked")] += 1
        of_batch(item, "held" if reason == "blocked" else "parked", batch_id)

    for item in decoded:
        message = item.message
        topic = message.topic
        changes.newest_timestamp_ms[topic] = max(changes.newest_timestamp_ms.get(topic, 0), message.timestamp_ms)
        if item.skipped:
            changes.outcomes[(topic, "skipped")] += 1
            of_batch(item, "skipped")
            continue
        if blocked and held_behind(message, blocked):
            park(item, "blocked", None)
            continue
        if item.error is not None or item.envelope is None or item.payload is None:
            park(item, "error", item.error or "undecodable")
            continue
        envelope, payload = item.envelope, item.payload
        line = marked_line(message, envelope, payload)
        if envelope.event_id in seen or (line is not None and is_copy(marks.get(line[0]), line[1], message.offset)):
            changes.outcomes[(topic, "duplicate")] += 1
            if isinstance(payload, AchievementEvent):  # `batch_of` of a decoded event
                by_batch[payload.provenance.batch_id.int, "duplicate"] += 1
            continue
        unstorable = why_unstorable(payload)
        if unstorable is not None:  # its write would fail the batch's: parked here, before any
            park(item, "error", unstorable)
            continue
        meta = EventMeta(envelope.event_id, envelope.occurred_at.astimezone(UTC))
        try:
            if isinstance(payload, AchievementEvent):
                key = achievement_key(payload.key)
                stored = achievements.get(key)
                evolved = evolve_achievement(stored, payload, meta)
                if evolved is not None:
                    row, entry = evolved
                    if stored is None and key not in snapshot.achievements:
                        changes.created.add(key)
                    achievements[key] = row
                    changes.achievements[key] = row
                    changes.history.append(entry)
            elif isinstance(payload, CentreAchievementReported):
                centre = centre_row(payload, meta)
                # a report on the log after its learner's erasure (read late, replayed, rebuilt): kept without it
                changes.centre[centre.key] = centre.without_free_text() if centre.uln in erased_ulns else centre
            elif isinstance(payload, LearnerProviderLinked):
                link = ProviderLinkRow(payload.uln, payload.provider_ukprn)
                changes.links.add(link)
                changes.unlinks.discard(link)
            elif isinstance(payload, LearnerProviderUnlinked):
                link = ProviderLinkRow(payload.uln, payload.provider_ukprn)
                changes.unlinks.add(link)
                changes.links.discard(link)
                changes.ended_links.add(link)  # its centre reports for the learner hidden while it is not linked
            elif isinstance(payload, LearnerErased):
                erase_centre_text(changes.centre, payload.uln)
                erased_ulns.add(payload.uln)
                changes.erased_ulns.add(payload.uln)
            elif isinstance(payload, LearnerEvent):
                for learner in evolve_learners(learners, payload):
                    learners[learner.uln] = learner
                    changes.learners[learner.uln] = learner
            elif isinstance(payload, ChallengeEvent):
                challenge = challenge_row(payload)
                changes.challenges[challenge.challenge_id] = challenge
            elif isinstance(payload, SandpitAchievementsErased):
                erase_achievements(achievements, changes, payload.uln, payload.ao_id)
        except ProjectionError as error:
            park(item, "error", str(error))
            continue
        if line is None:
            seen.add(envelope.event_id)
            changes.applied_event_ids.append(envelope.event_id)
        else:
            batch, mark = line[0], (line[1], message.offset)
            if mark > marks.get(batch, (0, -1)):
                marks[batch] = changes.marks[batch] = mark
        changes.outcomes[(topic, "applied")] += 1
        if isinstance(payload, AchievementEvent):  # `batch_of` of a decoded event
            by_batch[payload.provenance.batch_id.int, "applied"] += 1
    for (number, outcome), count in by_batch.items():
        changes.batch_outcomes[uuid.UUID(int=number), outcome] += count
    return changes


# --- the plain path -----------------------------------------------------------------------------
#
# Nearly every record is an achievement event as validation wrote it. Such a batch is decoded into
# one flat tuple of plain values per event (`fast_decode.decode_flat`: the contracts' checks, no
# models, no tuple per nested model) and folded by the domain's one fold on plain values
# (`lrs_domain.achievements.step`) straight into rows: the same rows `project_batch` gives
# (`tests/unit/test_projection_plain.py`). Anything else in the batch (another event type, a record
# the fast decoder does not take, an operator's action, a parked stream, an event the fold refuses,
# a value the read model may not hold: `storable`) sends the whole batch through `decode_message` and
# `project_batch`, which decide what is parked and why.

_ENVELOPE_FIELDS = tuple(name for name in plain_fields(Envelope) if name != "data")
_EVENT_ID = _ENVELOPE_FIELDS.index("event_id")
_EVENT_TYPE = _ENVELOPE_FIELDS.index("event_type")
_OCCURRED_AT = _ENVELOPE_FIELDS.index("occurred_at")
_SOURCE = _ENVELOPE_FIELDS.index("source")


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where an achievement event's values are in its flat tuple (None: the event has none); `key`,
    `data` and `qualification`: where the values of that model start, in its fields' order; beside them
    the event's kind and the status it carries where it says none, as the domain's fold takes them."""

    kind: AchievementChange
    achievement_id: int
    key: int
    batch_id: int
    line: int
    data: int | None = None
    status: int | None = None
    qualification: int | None = None
    implied_status: ResultStatus | None = None


def _layout(model: type[Contract], kind: AchievementChange) -> _Layout:
    """The plain path unpacks the flat tuples by position: refuse to run on another layout."""
    names = flat_fields(model)

    def start(part: str, fields: tuple[str, ...]) -> int | None:
        if f"data.{part}.{fields[0]}" not in names:
            return None
        at = names.index(f"data.{part}.{fields[0]}")
        if names[at : at + len(fields)] != tuple(f"data.{part}.{name}" for name in fields):
            raise RuntimeError(f"the plain path reads {model.__name__}'s {part} as {fields}, not {names}")
        return at

    if names[: len(_ENVELOPE_FIELDS)] != _ENVELOPE_FIELDS:
        raise RuntimeError(f"the plain path reads {model.__name__}'s envelope as {_ENVELOPE_FIELDS}, not {names}")
    key = start("key", ("ao_id", "uln", "qualification_number", "award_date"))
    provenance = start("provenance", ("batch_id", "line"))
    assert key is not None and provenance is not None, f"{model.__name__} has no key or provenance"
    return _Layout(
        kind=kind,
        achievement_id=names.index("data.achievement_id"),
        key=key,
        batch_id=provenance,
        line=provenance + 1,
        data=start("data", ("pathway", "grade", "ukprn", "language_for_assessment", "credits")),
        status=names.index("data.status") if "data.status" in names else None,
        qualification=start(
            "qualification", ("title", "qualification_type", "level", "framework", "kind", "awarding_organisation_name")
        ),
        implied_status=implied_status(kind),
    )


_LAYOUTS: dict[str, _Layout] = {
    event_type: _layout(EVENT_TYPES[event_type], kind) for event_type, kind in KIND_OF_EVENT_TYPE.items()
}
_TEXT: dict[ResultStatus | AchievementChange, str] = {  # `.value` of an enum is a property: slow
    member: member.value for members in (ResultStatus, AchievementChange) for member in members
}


class PlainEvent(NamedTuple):
    """An achievement event in plain values: `fast_decode.decode_flat`'s tuple, read by `layout`."""

    message: Message
    event_id: uuid.UUID
    key: AchievementKeyTuple
    values: tuple[Any, ...]
    layout: _Layout
    batch: BatchPartition  # (batch id, partition)
    line: int
    marked: bool  # a decision's event, deduplicated by its batch's mark (not by its id)


# Builds a NamedTuple from its values in field order: the class's generated `__new__` is a Python
# call, ~0.15 µs more per row of a poll (the caller gives every field, in order).
_tuple_new = tuple.__new__


def _uuid(text: str) -> uuid.UUID:
    """`uuid.UUID(text)` for the canonical text `decode_flat` checked, as asyncpg's own `uuid.UUID`
    subclass (equal to and hashed as the `uuid.UUID` of the same value): parsed in C in a seventh of
    the time, and written to PostgreSQL as its 16 bytes without converting them again."""
    value: uuid.UUID = pgproto.UUID(text)
    return value


def decode_plain_achievements(
    messages: Sequence[Message], actions: Mapping[Position, OperatorAction], parked_streams: Mapping[Stream, object]
) -> list[PlainEvent] | None:
    """The messages as plain achievement events, or None when any of them needs `decode_message`."""
    events: list[PlainEvent] = []
    batch_ids: dict[str, uuid.UUID] = {}
    for message in messages:
        if message.value is None or (actions and message.position in actions):
            return None
        if parked_streams and message.stream in parked_streams:
            return None
        if message.value.find(ESCAPE) != -1 and may_spell_unstorable(message.value):  # NUL, say (`storable`)
            return None
        try:
            values = decode_flat(message.value)
        except NotFast:
            return None
        layout = _LAYOUTS.get(values[_EVENT_TYPE])
        if layout is None:
            return None
        if values[layout.line] > INT4_MAX or (
            layout.data is not None
            and (credits := values[layout.data + 4]) is not None
            and not INT4_MIN <= credits <= INT4_MAX
        ):
            return None  # `project_batch` parks it: its integer column cannot hold it
        at = layout.key
        batch_text = values[layout.batch_id]
        batch_id = batch_ids.get(batch_text)
        if batch_id is None:
            batch_id = batch_ids[batch_text] = _uuid(batch_text)
        events.append(
            _tuple_new(
                PlainEvent,
                (
                    message,
                    _uuid(values[_EVENT_ID]),
                    (values[at + 1], values[at], values[at + 2], values[at + 3]),  # (uln, ao_id, ...)
                    values,
                    layout,
                    (batch_id, message.partition),
                    values[layout.line],
                    values[_SOURCE] == DECIDER,
                ),
            )
        )
    return events


def _count_run(by_batch: Counter[tuple[uuid.UUID, str]], batch_id: uuid.UUID, applied: int, duplicates: int) -> None:
    """Adds a run of `batch_id`'s events to `by_batch` (`BatchChanges.batch_outcomes`): an outcome none of them had
    gets no key, as counting them one by one gave none."""
    if applied:
        by_batch[batch_id, "applied"] += applied
    if duplicates:
        by_batch[batch_id, "duplicate"] += duplicates


def project_plain(snapshot: Snapshot, events: Sequence[PlainEvent]) -> BatchChanges | None:
    """`project_batch` of plain achievement events (None: an event the fold refuses, which only
    `project_batch` parks with its reason). `events` keep each partition's log order."""
    changes = BatchChanges()
    achievements = dict(snapshot.achievements)
    seen = set(snapshot.seen_event_ids)
    marks = dict(snapshot.marks)
    changed_marks = changes.marks
    applied_ids = changes.applied_event_ids
    history = changes.history
    applied = 0
    duplicates = 0
    # Each batch's events counted in locals over its run (a batch's events come together, its id one object from
    # `decode_plain_achievements`), added to `batch_outcomes` once a run ends: a key holding a UUID costs a Python
    # `__hash__` call (~1 µs) per increment, as `lrs_domain.decision` says (review 1, finding 1)
    by_batch = changes.batch_outcomes
    run_batch: uuid.UUID | None = None
    run_applied = run_duplicates = 0
    newest = 0
    occurred: dict[datetime, datetime] = {}  # a decision's events share their time
    for message, event_id, key, values, layout, batch, line, marked in events:
        if message.timestamp_ms > newest:
            newest = message.timestamp_ms
        if batch[0] is not run_batch:
            if run_batch is not None:
                _count_run(by_batch, run_batch, run_applied, run_duplicates)
            run_batch, run_applied, run_duplicates = batch[0], 0, 0
        if not marked:
            if event_id in seen:
                duplicates += 1
                run_duplicates += 1
                continue
        else:
            mark = marks.get(batch)
            if (mark is not None and line <= mark[0] and message.offset > mark[1]) or event_id in seen:  # is_copy
                duplicates += 1
                run_duplicates += 1
                continue
        uln, ao_id, qualification_number, award_date = key
        kind = layout.kind
        at = layout.data
        event_status = values[layout.status] if layout.status is not None else layout.implied_status
        event_achievement = _uuid(values[layout.achievement_id])
        row = achievements.get(key)
        try:
            if row is None:
                moved = step(
                    None,
                    kind,
                    withdrawn=False,
                    event_status=event_status,
                    data_differs=True,
                    event_achievement_id=event_achievement,
                    achievement_id=None,
                )
            else:
                moved = step(
                    ResultStatus(row.status),
                    kind,
                    withdrawn=row.withdrawn,
                    event_status=event_status,
                    data_differs=at is not None
                    and values[at : at + 5]
                    != (row.pathway, row.grade, row.ukprn, row.language_for_assessment, row.credits),
                    event_achievement_id=event_achievement,
                    achievement_id=row.achievement_id,
                )
        except AchievementEventMismatch:
            return None
        if moved is not None:
            change, status, withdrawn = moved
            occurred_at = occurred.get(values[_OCCURRED_AT])
            if occurred_at is None:
                occurred_at = occurred[values[_OCCURRED_AT]] = values[_OCCURRED_AT].astimezone(UTC)
            if row is None or change is AchievementChange.RECREATED:
                at_qualification = layout.qualification
                assert at is not None and at_qualification is not None  # only a recording starts one
                if row is None:
                    changes.created.add(key)
                row = _tuple_new(
                    AchievementRow,
                    (
                        uln,
                        ao_id,
                        qualification_number,
                        award_date,
                        event_achievement,
                        _TEXT[status],
                        False,
                        1 if row is None else row.version + 1,
                        *values[at : at + 5],
                        *values[at_qualification : at_qualification + 6],
                        occurred_at,
                        occurred_at,
                    ),
                )
            elif at is None:
                row = row._replace(
                    status=_TEXT[status], withdrawn=withdrawn, version=row.version + 1, last_changed_at=occurred_at
                )
            else:
                pathway, grade, ukprn, language_for_assessment, credits = values[at : at + 5]
                row = row._replace(
                    status=_TEXT[status],
                    withdrawn=withdrawn,
                    version=row.version + 1,
                    pathway=pathway,
                    grade=grade,
                    ukprn=ukprn,
                    language_for_assessment=language_for_assessment,
                    credits=credits,
                    last_changed_at=occurred_at,
                )
            achievements[key] = row
            changes.achievements[key] = row
            history.append(
                _tuple_new(
                    HistoryEntry,
                    (
                        uln,
                        ao_id,
                        qualification_number,
                        award_date,
                        row.version,
                        _TEXT[change],
                        event_id,
                        occurred_at,
                        batch[0],
                        line,
                        row.achievement_id,
                        row.status,
                        row.withdrawn,
                        row.grade,
                        row.ukprn,
                        row.language_for_assessment,
                        row.credits,
                        row.pathway,
                    ),
                )
            )
        applied += 1
        run_applied += 1
        if not marked:
            seen.add(event_id)
            applied_ids.append(event_id)
        elif mark is None or line > mark[0] or (line == mark[0] and message.offset > mark[1]):
            marks[batch] = changed_marks[batch] = (line, message.offset)
    if run_batch is not None:
        _count_run(by_batch, run_batch, run_applied, run_duplicates)
    if events:
        changes.newest_timestamp_ms[PLR_TOPIC] = newest
    if applied:
        changes.outcomes[(PLR_TOPIC, "applied")] = applied
    if duplicates:
        changes.outcomes[(PLR_TOPIC, "duplicate")] = duplicates
    return changes


def plain_needs(events: Sequence[PlainEvent], *, keys: bool = True) -> Needs:
    """Only the achievements at the events' keys (none with `keys` false): the plain fold reads nothing else."""

    def marked_ids(of: AbstractSet[uuid.UUID]) -> list[uuid.UUID]:
        return [event.event_id for event in events if event.marked and event.batch[0] in of]

    return Needs(
        frozenset(),
        frozenset(),
        frozenset(event.event_id for event in events if not event.marked),
        frozenset(event.key for event in events) if keys else frozenset(),
        frozenset(event.batch for event in events if event.marked),
        marked_ids,
    )
