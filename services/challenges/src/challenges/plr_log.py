"""What the challenges service keeps of the PLR log: messages in, record changes out. Pure, no I/O (asyncpg's
C UUID type is only a faster `uuid.UUID`).

From `lrs.plr.events.v1` each achievement's ULN, AO, whether it is withdrawn, and what a person
recognises it by (qualification, title, award date, grade, and whether its result is Provisional or
Final), with the rest of its data (pathway, centre UKPRN, language for assessment, credits); and which batch
touched which learner's qualification, and when (decision 0142: a challenge resolved as corrected names such a
batch). From `lrs.learner.events.v1` the merges, so a merged
learner's achievements count as the master's, and the erasures, after which the learner's challenges
keep no text of theirs. Centre (ILR) records and the other learner events are not challengeable facts
and are left out.

An achievement event, nearly every record, is read for the facts kept by matching the whole of its JSON
as validation writes it (`lrs_contracts.fast_match`, decision 0089), which takes only what the contract
models take and reads it as they do. Any other record, and one written otherwise, is decoded in full, and
one that cannot be decoded is poison, as the PLR projector parks it.

What an achievement event changes is the domain's one fold's answer (`lrs_domain.achievements.step`, decision
0031), over the achievement as the record held it before the poll (`fold_poll`): an event the fold finds changes
nothing leaves the facts as they were, and one it refuses is poison, parked with the learner's later events held
behind it, as the PLR projector parks it. So the grade and status a challenge shows are the PLR's: while any of
the learner's events are parked here, whatever an operator did with the projector's copy, no challenge is raised
(`service.EventsHeld`, 409 `EVENTS_HELD_IN_DEAD_LETTERS`), since the record is short of them until they are retried
or skipped here too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from asyncpg.pgproto import pgproto

from lrs_contracts.envelope import Envelope
from lrs_contracts.fast_decode import NotFast, decode_plain, plain_fields, plain_of
from lrs_contracts.fast_match import ACHIEVEMENT_MODELS, achievement_fields
from lrs_contracts.learner import LearnerErased, LearnersMerged
from lrs_contracts.plr import (
    AchievementData,
    AchievementRecorded,
    Provenance,
    QualificationSummary,
    ResultStatus,
)
from lrs_contracts.registry import decode, event_type_of
from lrs_contracts.topics import LEARNER_EVENTS, PLR_EVENTS
from lrs_domain.achievements import (
    KIND_OF_EVENT_TYPE,
    AchievementChange,
    AchievementEventMismatch,
    implied_status,
    step,
)
from lrs_platform.consumer import Message

FOLLOWED_TOPICS = (PLR_EVENTS.name, LEARNER_EVENTS.name)


class AchievementFacts(NamedTuple):  # a poll makes thousands: a tuple is the cheapest to build
    achievement_id: uuid.UUID
    uln: str
    ao_id: str
    # As the domain's fold answers (`fold_poll`); None: as it was, where the fold left it as the record had it (an
    # update or supersession)
    withdrawn: bool | None
    qualification_number: str | None = None
    award_date: date | None = None
    grade: str | None = None  # None: as it was (a withdrawal or reinstatement carries no data)
    title: str | None = None  # None: as it was (only a recording carries the qualification's title)
    # The rest of the data: as it was where `grade` is None; where it is not, None is "none" (DOMAIN.md §7)
    pathway: str | None = None
    ukprn: str | None = None
    language_for_assessment: str | None = None
    credits: int | None = None

    def data(self) -> AchievementDataKept:
        """Its data, as the fold compares it (None: it carries none)."""
        if self.grade is None:
            return None
        return (self.pathway, self.grade, self.ukprn, self.language_for_assessment, self.credits)


# An achievement's data as the record keeps it: pathway, grade, UKPRN, language for assessment, credits (None: none
# known, the achievement's first event not read yet).
AchievementDataKept = tuple[str | None, str, str | None, str | None, int | None] | None


class BatchTouch(NamedTuple):
    """A batch put an event of this learner's achievement of this qualification on the log, at `decided_at`."""

    batch_id: uuid.UUID
    ao_id: str
    uln: str
    qualification_number: str
    decided_at: datetime


class AchievementSoFar(NamedTuple):
    """What the fold needs of an achievement the record held before a poll: its status, whether it is withdrawn
    and its data (`data`: an event's data differs when any of it does; none known while `grade` is None)."""

    status: ResultStatus
    withdrawn: bool
    grade: str | None
    pathway: str | None = None
    ukprn: str | None = None
    language_for_assessment: str | None = None
    credits: int | None = None

    def data(self) -> AchievementDataKept:
        if self.grade is None:
            return None
        return (self.pathway, self.grade, self.ukprn, self.language_for_assessment, self.credits)


# One achievement event of a poll as read (a plain tuple, the cheapest to build: one per event): its facts as it says
# them (grade and title None where it has none), the kind of event the fold takes it for, and its status (None: a
# withdrawal or reinstatement says none).
AchievementEventRead = tuple[AchievementFacts, AchievementChange, ResultStatus | None]


@dataclass
class PolledEvents:
    """Some messages as read, not yet folded: their achievement events in log order, and the rest."""

    achievement_events: list[AchievementEventRead] = field(default_factory=list)
    merges: dict[str, str] = field(default_factory=dict)  # merged ULN -> master ULN
    erasures: set[str] = field(default_factory=set)  # erased learners' ULNs
    touches: set[BatchTouch] = field(default_factory=set)
    read_ids: list[uuid.UUID] = field(default_factory=list)  # each achievement event's, in log order

    def achievement_ids(self) -> list[uuid.UUID]:
        """Each achievement the events change, once: whose state on record the fold needs."""
        return list(dict.fromkeys(self.read_ids))


@dataclass
class RecordChanges:
    """The net effect of some messages, each achievement and merged ULN once."""

    achievements: dict[uuid.UUID, AchievementFacts] = field(default_factory=dict)
    merges: dict[str, str] = field(default_factory=dict)  # merged ULN -> master ULN
    erasures: set[str] = field(default_factory=set)  # erased learners' ULNs
    touches: set[BatchTouch] = field(default_factory=set)
    # each achievement's result status (P or F) after the latest event that changed it with one: a withdrawal or
    # a reinstatement says none (kept apart from its facts: decision 0183)
    statuses: dict[uuid.UUID, str] = field(default_factory=dict)

    def add(self, change: AchievementFacts) -> None:
        earlier = self.achievements.get(change.achievement_id)
        self.achievements[change.achievement_id] = _after(earlier, change) if earlier is not None else change


def _after(earlier: AchievementFacts, change: AchievementFacts) -> AchievementFacts:
    """`change` with what it leaves as it was taken from the `earlier` change of the same poll."""
    if change.withdrawn is not None and change.grade is not None and change.title is not None:
        return change
    if change.grade is None:  # no data: all of it as it was
        change = change._replace(
            grade=earlier.grade,
            pathway=earlier.pathway,
            ukprn=earlier.ukprn,
            language_for_assessment=earlier.language_for_assessment,
            credits=earlier.credits,
        )
    return change._replace(
        withdrawn=earlier.withdrawn if change.withdrawn is None else change.withdrawn,
        title=earlier.title if change.title is None else change.title,
    )


def record_changes(
    messages: Iterable[Message], on_record: Mapping[uuid.UUID, AchievementSoFar] | None = None
) -> RecordChanges:
    """`fold_poll(read_poll(messages), on_record)`: what `messages` change of the achievements `on_record`
    (none: nothing recorded before them)."""
    return fold_poll(read_poll(messages), on_record or {})


def fold_poll(polled: PolledEvents, on_record: Mapping[uuid.UUID, AchievementSoFar]) -> RecordChanges:
    """Folds a poll's achievement events, in log order, over their achievements as the record held them
    (`on_record`, by id: none there, nothing recorded yet) with the domain's one fold
    (`lrs_domain.achievements.step`, decision 0031): an event changes what is kept only as the fold says, one
    that changes nothing (an identical resubmission, a Provisional after the Final...) leaves it as it was.

    Raises `AchievementEventMismatch` on an event the fold refuses (a change of a withdrawn achievement, an
    update of one never recorded): poison, parked with its stream held behind it as the PLR projector parks it.
    """
    changes = RecordChanges(merges=polled.merges, erasures=polled.erasures, touches=polled.touches)
    achievements, statuses = changes.achievements, changes.statuses
    states = dict(on_record)  # each achievement as the events so far left it
    for facts, kind, event_status in polled.achievement_events:
        achievement_id = facts.achievement_id
        state = states.get(achievement_id)
        try:
            if state is None:
                moved = step(
                    None,
                    kind,
                    withdrawn=False,
                    event_status=event_status,
                    data_differs=True,
                    event_achievement_id=achievement_id,
                    achievement_id=None,
                )
            else:
                moved = step(
                    state.status,
                    kind,
                    withdrawn=state.withdrawn,
                    event_status=event_status,
                    data_differs=facts.grade is not None and facts.data() != state.data(),
                    event_achievement_id=achievement_id,
                    achievement_id=achievement_id,
                )
        except AchievementEventMismatch as refused:
            raise AchievementEventMismatch(f"achievement {achievement_id}: {refused}") from refused
        if moved is None:
            continue
        change, status, withdrawn = moved
        # the event's facts say withdrawn as the fold answers, where it started the achievement or changed it
        said = withdrawn if state is None or withdrawn != state.withdrawn else None
        if change is _WITHDRAWN or change is _REINSTATED:
            states[achievement_id] = (
                state._replace(status=status, withdrawn=withdrawn)
                if state is not None
                else AchievementSoFar(status, withdrawn, None)
            )
        else:
            if state is not None and change is not _RECREATED and facts.title is not None:
                facts = facts._replace(title=None)  # a recording over a live achievement: its qualification stays
            states[achievement_id] = AchievementSoFar(
                status,
                withdrawn,
                facts.grade,
                facts.pathway,
                facts.ukprn,
                facts.language_for_assessment,
                facts.credits,
            )
            statuses[achievement_id] = status.value
        if said is not facts.withdrawn:  # as read, False: a new achievement's, most of a poll's
            facts = _tuple_new(AchievementFacts, (*facts[:3], said, *facts[4:]))
        earlier = achievements.get(achievement_id)
        achievements[achievement_id] = _after(earlier, facts) if earlier is not None else facts
    return changes


def read_poll(messages: Iterable[Message]) -> PolledEvents:
    """Reads messages (in log order) for what the record keeps. Raises on a message that cannot be decoded."""
    polled = PolledEvents()
    events, touches, read_ids = polled.achievement_events, polled.touches, polled.read_ids
    batches: dict[bytes, tuple[uuid.UUID, datetime]] = {}  # batch id and decision time, by their texts
    touched: set[tuple[bytes, bytes, bytes, bytes]] = set()  # batch, AO, ULN, QAN as read: made touches at the end
    for message in messages:
        value = message.value
        if value is None:
            raise ValueError(f"a message without a value on {message.topic}")
        event = achievement_fields(value)
        if event is not None:
            head_type = event.event_type
            status = event.status
            # asyncpg's uuid.UUID (equal to and hashed as the standard one): parsed and stored in C
            achievement_id = pgproto.UUID(event.achievement_id.decode())
            read_ids.append(achievement_id)
            events.append(
                (
                    _tuple_new(
                        AchievementFacts,
                        (
                            achievement_id,
                            event.uln.decode(),
                            event.ao_id.decode(),
                            False,  # until the fold says (`fold_poll`)
                            event.qualification_number.decode(),
                            event.award_date,
                            event.grade.decode() if event.grade is not None else None,
                            event.title.decode() if event.title is not None else None,
                            event.pathway.decode() if event.pathway is not None else None,
                            event.ukprn.decode() if event.ukprn is not None else None,
                            event.language_for_assessment.decode()
                            if event.language_for_assessment is not None
                            else None,
                            event.credits,
                        ),
                    ),
                    _HEAD_KINDS[head_type],
                    _HEAD_STATUSES[status] if status is not None else _HEAD_IMPLIED_STATUS[head_type],
                )
            )
            if event.batch_id not in batches:
                # a batch's decision time: the `occurred_at` of its events (one for them all)
                batches[event.batch_id] = (pgproto.UUID(event.batch_id.decode()), event.occurred_at)
            touched.add((event.batch_id, event.ao_id, event.uln, event.qualification_number))
            continue
        event_type, occurred, payload = _plain_payload(value)
        kind = KIND_OF_EVENT_TYPE.get(event_type)
        if kind is not None:
            ao_id, uln, qan, award_date = payload[_KEY]
            data_at = _DATA.get(event_type)
            data = payload[data_at] if data_at is not None else _NO_DATA
            qualification = _QUALIFICATION.get(event_type)
            status_field = _STATUS_FIELD.get(event_type)
            achievement_id = uuid.UUID(payload[_ACHIEVEMENT_ID])
            read_ids.append(achievement_id)
            events.append(
                (
                    AchievementFacts(
                        achievement_id,
                        uln,
                        ao_id,
                        False,  # until the fold says (`fold_poll`)
                        qan,
                        award_date if isinstance(award_date, date) else date.fromisoformat(award_date),
                        data[_GRADE],
                        payload[qualification][_TITLE_FIELD] if qualification is not None else None,
                        data[_PATHWAY],
                        data[_UKPRN],
                        data[_LANGUAGE],
                        data[_CREDITS],
                    ),
                    kind,
                    ResultStatus(payload[status_field]) if status_field is not None else implied_status(kind),
                )
            )
            batch_id = payload[_PROVENANCE_FIELD[event_type]][_BATCH_ID_FIELD]
            touches.add(BatchTouch(uuid.UUID(str(batch_id)), ao_id, uln, qan, occurred))
        elif event_type == _MERGED:
            polled.merges[payload[_MERGED_ULN]] = payload[_MASTER_ULN]
        elif event_type == _ERASED:
            polled.erasures.add(payload[_ERASED_ULN])
    for batch_text, ao_id, uln, qan in touched:
        batch_id, decided_at = batches[batch_text]
        touches.add(BatchTouch(batch_id, ao_id.decode(), uln.decode(), qan.decode(), decided_at))
    return polled


def positions_after(messages: Iterable[Message]) -> dict[tuple[str, int], int]:
    """Each partition's next offset after the messages (a partition's messages come in log order)."""
    return {(message.topic, message.partition): message.offset + 1 for message in messages}


def unapplied(messages: Sequence[Message], positions: Mapping[tuple[str, int], int]) -> Sequence[Message]:
    """The messages at or past their partition's position (none stored: 0); those below it were applied
    already, by whoever held the partition then. `messages` itself when none is below, as in nearly every
    poll (a partition's messages come in log order, so its first tells)."""
    firsts = {(message.topic, message.partition): message.offset for message in reversed(messages)}
    if all(offset >= positions.get(partition, 0) for partition, offset in firsts.items()):
        return messages
    return [message for message in messages if message.offset >= positions.get((message.topic, message.partition), 0)]


def _plain_payload(raw: bytes) -> tuple[str, datetime, tuple[Any, ...]]:
    """The event type, when it occurred and the payload's plain values: the fast path for what validation
    wrote, the validating decode (the last word on anything else) otherwise."""
    try:
        envelope, payload = decode_plain(raw)
        event_type: str = envelope[_EVENT_TYPE]
        occurred: datetime = envelope[_OCCURRED_AT]
    except NotFast:
        envelope_model, model = decode(raw)
        return envelope_model.event_type, envelope_model.occurred_at, plain_of(model)
    return event_type, occurred, payload


# The domain's kind of each achievement event and the status it carries where it says none
# (`KIND_OF_EVENT_TYPE`, `implied_status`), by the event type and status as an event's head spells them.
_HEAD_KINDS = {event_type.encode(): kind for event_type, kind in KIND_OF_EVENT_TYPE.items()}
_HEAD_IMPLIED_STATUS = {event_type.encode(): implied_status(kind) for event_type, kind in KIND_OF_EVENT_TYPE.items()}
_HEAD_STATUSES = {status.value.encode(): status for status in ResultStatus}
# Builds a NamedTuple from its values in field order, without its generated `__new__` (a Python call)
_tuple_new = tuple.__new__
_WITHDRAWN, _REINSTATED, _RECREATED = (
    AchievementChange.WITHDRAWN,
    AchievementChange.REINSTATED,
    AchievementChange.RECREATED,
)
_STATUS_FIELD = {
    event_type_of(m): plain_fields(m).index("status") for m in ACHIEVEMENT_MODELS if "status" in plain_fields(m)
}
_MERGED = event_type_of(LearnersMerged)
_ERASED = event_type_of(LearnerErased)
_EVENT_TYPE = plain_fields(Envelope).index("event_type")
_OCCURRED_AT = plain_fields(Envelope).index("occurred_at")
_ACHIEVEMENT_ID = plain_fields(AchievementRecorded).index("achievement_id")
_KEY = plain_fields(AchievementRecorded).index("key")
_DATA = {event_type_of(m): plain_fields(m).index("data") for m in ACHIEVEMENT_MODELS if "data" in plain_fields(m)}
_QUALIFICATION = {event_type_of(AchievementRecorded): plain_fields(AchievementRecorded).index("qualification")}
_PROVENANCE_FIELD = {event_type_of(m): plain_fields(m).index("provenance") for m in ACHIEVEMENT_MODELS}
_GRADE = plain_fields(AchievementData).index("grade")
_PATHWAY = plain_fields(AchievementData).index("pathway")
_UKPRN = plain_fields(AchievementData).index("ukprn")
_LANGUAGE = plain_fields(AchievementData).index("language_for_assessment")
_CREDITS = plain_fields(AchievementData).index("credits")
_NO_DATA = (None,) * len(plain_fields(AchievementData))  # a withdrawal's or reinstatement's: all as it was
_TITLE_FIELD = plain_fields(QualificationSummary).index("title")
_BATCH_ID_FIELD = plain_fields(Provenance).index("batch_id")
_MERGED_ULN = plain_fields(LearnersMerged).index("merged_uln")
_MASTER_ULN = plain_fields(LearnersMerged).index("master_uln")
_ERASED_ULN = plain_fields(LearnerErased).index("uln")
