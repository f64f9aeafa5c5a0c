"""Deciding a whole batch: every record's verdict, the PLR events, and the RS005 threshold.

Public API:
- `SubmittedBatch`, `BatchDecision`, `BatchFailure`, `OfflineReport`;
- `achievement_states_needed(records, reference)` — which achievement states `decide_batch` reads;
- `decide_batch(batch, reference, existing, today) -> BatchDecision` — a whole batch at once;
- `BatchJudging` — the same decision with each chunk of records judged as it arrives (`judge`) and
  what needs the whole batch done once at its end (`finish`): what the validation service runs;
- `check_batch_offline(header, records, catalogue, today) -> OfflineReport` — what an AO can run
  before submitting: the same rules through the same code, minus those that need the server.
- `rejected_of(rejected, total)` — RS005's count in words (`1 of 1 record was rejected`).

Every record is judged against the achievements as they were before the batch (DOMAIN.md §7), so
the records of one batch never see each other except through RV020, and WV005 and WV008, which name only the
Provisional and Final results no other accepted record of the batch withdraws or supersedes (decisions 0199, 0202). A record changes at most one
achievement and at most one record per achievement can be accepted, so each accepted record yields
at most one event and `new_states` holds one state per changed achievement.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

from lrs_contracts.batch import BatchHeader, JobType, RecordAction, SubmittedRecord
from lrs_contracts.codes import BatchCode, WarningCode
from lrs_contracts.envelope import LRS_NAMESPACE
from lrs_contracts.outcomes import BatchCounts, Finding, RecordOutcome, RecordStatus
from lrs_contracts.plr import (
    AchievementKey,
    AchievementRecorded,
    AchievementReinstated,
    AchievementSuperseded,
    AchievementUpdated,
    AchievementWithdrawn,
    Provenance,
    QualificationSummary,
    ResultStatus,
)
from lrs_contracts.registry import event_type_of
from lrs_domain.achievements import AchievementEvent, AchievementState, evolve
from lrs_domain.identifiers import ULN_LENGTH, mask_uln, normalise_qan
from lrs_domain.merges import LearnerMerges
from lrs_domain.reference import Catalogue, Qualification, ReferenceSnapshot, qualification_summary
from lrs_domain.rules import (
    AchievementAddress,
    Change,
    JudgedRecord,
    RuleContext,
    duplicate_in_batch,
    exceeds_rejection_threshold,
    final_at_a_near_date,
    finals_near,
    first_line_out_of_uln_order,
    judge_against_state,
    judge_record,
    new_achievement_warnings,
    not_ordered_by_uln,
    order_findings,
    provisional_not_superseded,
    provisionals_beside,
    register_findings_excused,
    status_for,
)
from lrs_domain.trusted import trusted, trusted_builder, trusted_from

# Builds a NamedTuple from its values in field order (the caller gives every field, in order): the
# class's generated `__new__` is a Python call, ~0.3 µs more, for a few tuples a record.
_tuple_new = tuple.__new__
# Enum members read once: Python 3.11 reads a member from its class through a descriptor call (~0.12 µs),
# and judging and finishing a record read ~10 of them
_ACCEPTED, _REJECTED, _NO_OP_STATUS = RecordStatus.ACCEPTED, RecordStatus.REJECTED, RecordStatus.NO_OP
_NO_OP, _RECORD = Change.NO_OP, Change.RECORD
_CREATE = RecordAction.CREATE
_PROVISIONAL_NOT_SUPERSEDED = WarningCode.PROVISIONAL_NOT_SUPERSEDED.value
_FINAL_AT_A_NEAR_DATE = WarningCode.FINAL_AT_A_NEAR_DATE.value
# the warnings that name results the batch's other records may end, with the status of the results each names and
# how it is reworded when some are ended
_JUDGED_OVER_THE_BATCH: dict[str, tuple[ResultStatus, Callable[[Iterable[date]], Finding]]] = {
    _PROVISIONAL_NOT_SUPERSEDED: (ResultStatus.PROVISIONAL, provisional_not_superseded),
    _FINAL_AT_A_NEAR_DATE: (ResultStatus.FINAL, final_at_a_near_date),
}
# what an accepted record does to a live result that leaves it no longer beside the new one (WV005, WV008)
_ENDS_PROVISIONAL = frozenset({Change.WITHDRAW, Change.SUPERSEDE})
# `trusted` is given every field of a model, its event type too
_RECORDED = event_type_of(AchievementRecorded)
_UPDATED = event_type_of(AchievementUpdated)
_SUPERSEDED = event_type_of(AchievementSuperseded)
_WITHDRAWN = event_type_of(AchievementWithdrawn)
_REINSTATED = event_type_of(AchievementReinstated)

# (ULN an achievement is recorded under, normalised QAN) → the AO's achievements recorded under that
# ULN for that qualification, at any award date.
ExistingAchievements = Mapping[tuple[str, str], Sequence[AchievementState]]


@dataclass(frozen=True, slots=True)
class SubmittedBatch:
    """A whole batch as ingest submitted it. `ao_id` is the authenticated AO, the batch's owner."""

    batch_id: uuid.UUID
    ao_id: str
    header: BatchHeader
    records: Sequence[SubmittedRecord]
    submitted_at: datetime


@dataclass(frozen=True, slots=True)
class BatchFailure:
    """The whole batch failed: nothing of it reaches any PLR."""

    code: BatchCode
    reason: str


@dataclass(frozen=True, slots=True)
class BatchDecision:
    """The verdict on a batch.

    `outcomes` has one entry per record in line order. `counts` are disjoint:
    total = accepted + rejected + no_ops; `warnings` counts warning findings. When `failure` is set
    (RS005), `events` and `new_states` are empty, the outcomes still give each record's own verdict,
    and accepted records carry no achievement id because nothing was recorded. `new_achievement_ids`
    names those of `new_states` that no state stood for before the batch: achievements it creates.
    """

    outcomes: tuple[RecordOutcome, ...]
    events: tuple[AchievementEvent, ...]
    counts: BatchCounts
    failure: BatchFailure | None
    new_states: tuple[AchievementState, ...]
    new_achievement_ids: frozenset[uuid.UUID] = frozenset()


@dataclass(frozen=True, slots=True)
class OfflineReport:
    """What the offline checker can tell before submission, with the RS005 outcome it projects.

    Records it accepts may still be rejected by the service for reasons it cannot see: learner
    verification (RV004), achievement state (RV012-RV017), and ownership (RV022) when the header's AO
    awards nothing in the local catalogue.
    """

    outcomes: tuple[RecordOutcome, ...]
    counts: BatchCounts
    failure: BatchFailure | None


def achievement_states_needed(
    records: Iterable[SubmittedRecord], reference: ReferenceSnapshot
) -> frozenset[tuple[str, str]]:
    """The (ULN, normalised QAN) pairs whose states `decide_batch` reads: for each record, every ULN
    of its learner once merges are followed, so an achievement recorded under a ULN before it was
    merged is found whichever ULN of the learner a record names."""
    needed: set[tuple[str, str]] = set()
    add = needed.add
    ulns_of = reference.merges.ulns_of
    normalised: dict[str, str | None] = {}  # a batch names few qualifications
    for record in records:
        uln = record.uln.strip() if record.uln else None
        text = record.qualification_number
        if text and text not in normalised:
            normalised[text] = normalise_qan(text)
        qan = normalised[text] if text else None
        if uln and qan:
            for merged_uln in ulns_of(uln):  # a loop, not a generator per record
                add((merged_uln, qan))
    return frozenset(needed)


def decide_batch(
    batch: SubmittedBatch,
    reference: ReferenceSnapshot,
    existing: ExistingAchievements,
    today: date,
) -> BatchDecision:
    """Judge every record of `batch` and, unless more than 30% are rejected, the events to append.

    `existing` holds the AO's achievement states before the batch, keyed by the ULN each achievement
    is recorded under and the normalised QAN: at least those `achievement_states_needed` names.
    """
    judging = BatchJudging(batch.batch_id, batch.ao_id, batch.header.effective_job_type, today)
    return judging.finish(batch, [judging.judge(batch.records, reference, existing)])


@dataclass(frozen=True, slots=True)
class JudgedChunk:
    """Some records of a batch, each judged on its own (`BatchJudging.judge`). `provisionals`: for each record (by
    line) given WV005 or WV008, the live Provisional and Final results they name, which the batch's other records
    may end."""

    records: tuple[_Judged, ...]
    provisionals: Mapping[int, tuple[AchievementState, ...]] = field(default_factory=dict)

    def events(self) -> Iterator[AchievementEvent]:
        """The events of its records that the rest of the batch may still reject (RV020, RS005)."""
        return (judged.event for judged in self.records if judged.event is not None)


class BatchJudging:
    """One batch's decision, its records judged a chunk at a time as they arrive.

    `judge` does everything about a record that needs no other record of the batch: the record
    rules and the state rules against the AO's states before the batch (which the batch's own
    records never change), and the event of a record that passed them all. `finish` does the rest
    once, over every chunk: RV020 (the same achievement twice in the batch), WV002 (ULN order),
    counts, RS005, which events stand, and new states. So judging the chunks (any split, in any
    order) and finishing gives `decide_batch`'s decision.

    Every chunk must be judged against the same catalogue, and each against a reference holding
    its records' learners as `ReferenceSnapshot` says. Values a batch repeats are judged once for
    all its chunks; chunks are judged one at a time.
    """

    __slots__ = ("_ao_id", "_batch_id", "_events", "_job_type", "_memo", "_memo_catalogue", "_today")

    def __init__(self, batch_id: uuid.UUID, ao_id: str, job_type: JobType, today: date) -> None:
        self._batch_id = batch_id
        self._ao_id = ao_id
        self._job_type = job_type
        self._today = today
        self._memo: dict[tuple[Any, ...], Any] = {}
        self._memo_catalogue: Catalogue | None = None
        self._events = _Events(batch_id, ao_id, job_type)

    @property
    def today(self) -> date:
        return self._today

    def judge(
        self, records: Iterable[SubmittedRecord], reference: ReferenceSnapshot, existing: ExistingAchievements
    ) -> JudgedChunk:
        """`existing` holds at least the states `achievement_states_needed(records, reference)` names."""
        if reference.catalogue is not self._memo_catalogue:  # what was judged against another one is not reused
            self._memo, self._memo_catalogue = {}, reference.catalogue
        context = RuleContext(
            job_type=self._job_type,
            catalogue=reference.catalogue,
            today=self._today,
            ao_id=self._ao_id,
            learners=reference.learners,
            merges=reference.merges,
            memo=self._memo,
        )
        provisionals: dict[int, tuple[AchievementState, ...]] = {}
        return JudgedChunk(_judge_records(records, context, existing, self._events.of, provisionals), provisionals)

    def finish(self, batch: SubmittedBatch, chunks: Iterable[JudgedChunk]) -> BatchDecision:
        """The decision on `batch` (this one, of its AO and job type), whose records are those of `chunks`."""
        chunks = tuple(chunks)
        verdicts = _verdicts(
            [judged for chunk in chunks for judged in chunk.records],
            {line: found for chunk in chunks for line, found in chunk.provisionals.items()},
        )
        counts = _count(verdicts)
        failure = _failure(counts)
        # No-ops name the achievement they left alone; accepted records name the one they changed.
        shown_ids: list[uuid.UUID | None] = [None] * len(verdicts)
        if failure is not None:
            for index, verdict in enumerate(verdicts):
                if verdict.status is _NO_OP_STATUS and verdict.target:
                    shown_ids[index] = verdict.target.achievement_id
            return BatchDecision(_outcomes(verdicts, shown_ids), (), counts, failure, ())

        events: list[AchievementEvent] = []
        # by the id's integer: a UUID's hash is a Python call, three an accepted record
        states: dict[int, AchievementState] = {}
        created: list[uuid.UUID] = []  # each once: the first event of an achievement no state stood for
        for index, verdict in enumerate(verdicts):
            if verdict.status is not _ACCEPTED:
                if verdict.status is _NO_OP_STATUS and verdict.target:
                    shown_ids[index] = verdict.target.achievement_id
                continue
            event = verdict.event  # an accepted record passed every rule of its chunk too
            assert event is not None
            achievement_id: uuid.UUID = event.__dict__["achievement_id"]
            number = achievement_id.int
            before = states.get(number, verdict.target)
            if before is None:
                created.append(achievement_id)
            states[number] = evolve(before, event)
            events.append(event)
            shown_ids[index] = achievement_id
        return BatchDecision(
            _outcomes(verdicts, shown_ids), tuple(events), counts, None, tuple(states.values()), frozenset(created)
        )


def check_batch_offline(
    header: BatchHeader,
    records: Sequence[SubmittedRecord],
    catalogue: Catalogue,
    today: date,
) -> OfflineReport:
    """The rules an AO can run before submitting, with the header's AO as the batch's AO."""
    ao_id = header.awarding_organisation
    context = RuleContext(
        job_type=header.effective_job_type,
        catalogue=catalogue,
        today=today,
        ao_id=ao_id if ao_id in catalogue.awarding_organisation_ids() else None,
        learners=None,
        merges=None,
    )
    verdicts = _verdicts(_judge_records(records, context, existing=None))
    counts = _count(verdicts)
    return OfflineReport(_outcomes(verdicts, [None] * len(verdicts)), counts, _failure(counts))


# --- shared by the decider and the offline checker -------------------------------------------------


class _Verdict(NamedTuple):
    judged: JudgedRecord
    status: RecordStatus
    errors: tuple[Finding, ...]
    warnings: tuple[Finding, ...]
    change: Change | None
    target: AchievementState | None
    event: AchievementEvent | None


class _Judged(NamedTuple):
    """A record judged on its own: the rules that need no other record of the batch."""

    judged: JudgedRecord
    state_errors: tuple[Finding, ...]
    change: Change | None
    target: AchievementState | None
    event: AchievementEvent | None = None  # when it passed every rule that needs no other record


def _judge_records(
    records: Iterable[SubmittedRecord],
    context: RuleContext,
    existing: ExistingAchievements | None,
    event_of: Callable[[JudgedRecord, Change | None, AchievementState | None], AchievementEvent] | None = None,
    provisionals: dict[int, tuple[AchievementState, ...]] | None = None,
) -> tuple[_Judged, ...]:
    """`existing` None means achievement state is unknown (offline): the state rules are skipped.
    `event_of` gives the event of a record that passed every rule here (none offline); `provisionals` is given, by
    line, the live results each record given WV005 or WV008 names (`JudgedChunk`)."""
    judged_records: list[_Judged] = []
    append = judged_records.append
    job_type, merges = context.job_type, context.merges
    for record in records:
        judged = judge_record(record, context)
        address = judged.address
        state_errors: tuple[Finding, ...] = ()
        change: Change | None = None
        target: AchievementState | None = None
        if existing is not None and address is not None and (action := judged.action) is not None:
            states = _states_at(existing, merges, judged.record.uln, address)
            if not states and action is _CREATE:
                change = _RECORD  # `judge_against_state`'s verdict on a new achievement, nearly every record's
            else:
                state_errors, change, target = judge_against_state(action, job_type, address, judged.data, states)
                if (
                    change is _RECORD and not judged.errors
                ):  # recorded beside the AO's other states: WV004, WV005, WV008
                    found = new_achievement_warnings(job_type, address, target, states)
                    if found:
                        judged = judged._replace(warnings=judged.warnings + found)
                        if provisionals is not None and any(each.code in _JUDGED_OVER_THE_BATCH for each in found):
                            provisionals[judged.record.line] = (
                                provisionals_beside(address, states) if job_type is JobType.FINAL else ()
                            ) + finals_near(address, states)
        if judged.errors and (existing is None or target is not None):  # seldom: a rejected record
            judged = register_findings_excused(judged)
        event = None
        if event_of is not None and not (judged.errors or state_errors or change is _NO_OP):
            event = event_of(judged, change, target)
        append(_tuple_new(_Judged, (judged, state_errors, change, target, event)))
    return tuple(judged_records)


_LINE_OF = attrgetter("judged.record.line")  # no Python call a record


def _verdicts(
    judged_records: Iterable[_Judged], provisionals: Mapping[int, tuple[AchievementState, ...]] | None = None
) -> tuple[_Verdict, ...]:
    """Each record's verdict, in line order, with the findings about its place in the batch. `provisionals`: the
    live results each record given WV005 or WV008 names, by line (`JudgedChunk`)."""
    ordered = sorted(judged_records, key=_LINE_OF)
    out_of_order_line = first_line_out_of_uln_order([each.judged.record for each in ordered])
    first_line_of: dict[AchievementAddress, int] = {}
    verdicts: list[_Verdict] = []
    append = verdicts.append
    for judged, state_errors, change, target, event in ordered:
        # tuples, added to only when a record has more to say (seldom): `order_findings` keeps a tuple of
        # fewer than two as it is
        errors = judged.errors
        warnings = judged.warnings
        line = judged.record.line
        address = judged.address
        if address is not None:
            earlier_line = first_line_of.setdefault(address, line)
            if earlier_line != line:
                errors += (duplicate_in_batch(address, earlier_line),)
            if state_errors:
                errors += state_errors
        if line == out_of_order_line:
            warnings += (not_ordered_by_uln(),)
        if errors:
            status = _REJECTED
            if len(errors) > 1:
                errors = order_findings(errors)
        elif change is _NO_OP:
            status = _NO_OP_STATUS
        else:
            status = _ACCEPTED
        if len(warnings) > 1:  # `order_findings` keeps fewer than two as they are
            warnings = order_findings(warnings)
        append(_tuple_new(_Verdict, (judged, status, errors, warnings, change, target, event)))
    if provisionals:  # seldom: a record given WV005 or WV008
        _results_left(verdicts, provisionals)
    return tuple(verdicts)


def _results_left(verdicts: list[_Verdict], named: Mapping[int, tuple[AchievementState, ...]]) -> None:
    """WV005 and WV008 name only the results no other accepted record of the batch withdraws or supersedes (a Final
    at a Provisional's own date), and are dropped when they name none: the batch already does what they advise."""
    ended = {
        verdict.target.achievement_id
        for verdict in verdicts
        if verdict.status is _ACCEPTED and verdict.change in _ENDS_PROVISIONAL and verdict.target is not None
    }
    if not ended:
        return
    for index, verdict in enumerate(verdicts):
        beside = named.get(verdict.judged.record.line)
        if not beside or all(state.achievement_id not in ended for state in beside):
            continue
        warnings = tuple(
            kept for finding in verdict.warnings for kept in _judged_over_the_batch(finding, beside, ended)
        )
        verdicts[index] = verdict._replace(warnings=warnings)


def _judged_over_the_batch(
    finding: Finding, beside: tuple[AchievementState, ...], ended: set[uuid.UUID]
) -> tuple[Finding, ...]:
    """`finding` as it stands once the batch has ended the results among `beside` that `ended` holds."""
    judged = _JUDGED_OVER_THE_BATCH.get(finding.code)
    if judged is None:
        return (finding,)
    status, reworded = judged
    named = [state for state in beside if state.status is status]
    left = [state.key.award_date for state in named if state.achievement_id not in ended]
    if len(left) == len(named):
        return (finding,)
    return (reworded(left),) if left else ()


def _states_at(
    existing: ExistingAchievements,
    merges: LearnerMerges | None,
    named_uln: str | None,
    address: AchievementAddress,
) -> Sequence[AchievementState]:
    """The AO's achievements of the record's learner and qualification, under every ULN of the
    learner, nearest to the ULN the record names first (so its own achievement is the one addressed
    when a merge brought two with the same key together)."""
    ulns = merges.ulns_of(named_uln) if merges is not None and named_uln else (address.uln,)
    qan = address.qualification_number
    if len(ulns) == 1:  # a learner never merged: nearly every record, and nearly always no state
        return existing.get((ulns[0], qan), ())
    return [state for uln in ulns for state in existing.get((uln, qan), ())]


def _count(verdicts: Sequence[_Verdict]) -> BatchCounts:
    statuses = list(map(_STATUS_OF, verdicts))  # C loops, no Python call a record
    return BatchCounts(
        total=len(verdicts),
        accepted=statuses.count(_ACCEPTED),
        rejected=statuses.count(_REJECTED),
        no_ops=statuses.count(_NO_OP_STATUS),
        warnings=sum(map(len, map(_WARNINGS_OF, verdicts))),
    )


_STATUS_OF, _WARNINGS_OF = itemgetter(1), itemgetter(3)  # a `_Verdict`'s status and warnings


def rejected_of(rejected: int, total: int, *, would: bool = False) -> str:
    """`1 of 1 record was rejected`, `3,001 of 10,000 records were rejected` (`would`: `… would be rejected`): RS005's
    count in words, as the emails count (thousands separated)."""
    verb = "would be" if would else ("was" if rejected == 1 else "were")
    return f"{rejected:,} of {total:,} record{'' if total == 1 else 's'} {verb} rejected"


def _failure(counts: BatchCounts) -> BatchFailure | None:
    if not exceeds_rejection_threshold(counts.rejected, counts.total):
        return None
    return BatchFailure(
        code=BatchCode.REJECTION_THRESHOLD,
        reason=(
            f"{rejected_of(counts.rejected, counts.total)}, more than the 30% allowed: "
            "the whole batch failed and nothing of it reached any learner's record."
        ),
    )


def _outcomes(verdicts: Sequence[_Verdict], achievement_ids: Sequence[uuid.UUID | None]) -> tuple[RecordOutcome, ...]:
    outcomes: list[RecordOutcome] = []
    append = outcomes.append
    for (judged, status, errors, warnings, _, _, _), shown_id in zip(verdicts, achievement_ids, strict=True):
        values, action = judged[0].__dict__, judged[1]
        uln = values["uln"]
        append(
            _trusted_outcome(
                {
                    "line": values["line"],
                    "mis_identifier": values["mis_identifier"],
                    "action": _ACTION_TEXT[action] if action else values["action"],
                    # `_masked`, for the ten digits nearly every record's ULN is (trimmed already)
                    "uln_masked": _MASK + uln[-4:]
                    if uln is not None and len(uln) == ULN_LENGTH and uln.isascii() and uln.isdigit()
                    else _masked(uln),
                    "status": status,
                    "errors": errors,
                    "warnings": warnings,
                    "achievement_id": shown_id,
                },
            )
        )
    return tuple(outcomes)


_trusted_outcome = trusted_builder(RecordOutcome)
# an action's text by the action: an enum member's `value` is a property, read per record
_ACTION_TEXT: dict[RecordAction, str] = {action: action.value for action in RecordAction}


_MASK = mask_uln("0000000000")[:-4]


def _masked(uln: str | None) -> str | None:
    value = uln.strip() if uln else None
    return mask_uln(value) if value else None


class AchievementIds:
    """`lrs_domain.achievements.achievement_id` of many keys of one AO: uuid5 is SHA-1 over the
    namespace and the name, and the name's ("achievement", AO) prefix is hashed once."""

    __slots__ = ("_prefix",)

    def __init__(self, ao_id: str) -> None:
        # S324: uuid5 is SHA-1 by definition (RFC 4122)
        self._prefix = hashlib.sha1(LRS_NAMESPACE.bytes + f"achievement|{ao_id}|".encode())  # noqa: S324

    def of(self, key: AchievementKey) -> uuid.UUID:
        return self.named(key.uln, key.qualification_number, key.award_date)

    def named(
        self, uln: str, qualification_number: str, award_date: date, dates: dict[date, str] | None = None
    ) -> uuid.UUID:
        """`of` the key of this AO with these values; `dates` remembers the dates' text."""
        day = dates.get(award_date) if dates is not None else None
        if day is None:
            day = award_date.isoformat()
            if dates is not None:
                dates[award_date] = day
        hashed = self._prefix.copy()
        hashed.update(f"{uln}|{qualification_number}|{day}".encode())
        # what uuid.UUID(bytes=..., version=5) builds, without its checks of arguments we never vary
        built = _new_uuid(_UUID)
        _set_int(built, int.from_bytes(hashed.digest()[:16]) & _VERSION_BITS_CLEARED | _VERSION_5)
        _set_is_safe(built, _UNKNOWN_SAFETY)
        return built


# RFC 4122's variant (bits 62-63 of the integer) and version 5 (bits 76-79)
_VERSION_BITS_CLEARED = ~((0xC000 << 48) | (0xF000 << 64))
_VERSION_5 = (0x8000 << 48) | (5 << 76)
_UNKNOWN_SAFETY = uuid.SafeUUID.unknown  # an enum member read from its class costs a descriptor call each time
_UUID = uuid.UUID
_new_uuid = object.__new__
# a UUID's two slots set through their descriptors: `object.__setattr__` looks each name up on the class first
_set_int = uuid.UUID.__dict__["int"].__set__
_set_is_safe = uuid.UUID.__dict__["is_safe"].__set__


class _Events:
    """`_event` for the records of one batch, with its values bound: a new achievement's recording (nearly
    every event) is built here, every other event by `_event`."""

    __slots__ = ("_ao_id", "_batch_id", "_dates", "_ids", "_job_type", "_status", "_summaries")

    def __init__(self, batch_id: uuid.UUID, ao_id: str, job_type: JobType) -> None:
        self._batch_id = batch_id
        self._ao_id = ao_id
        self._job_type = job_type
        self._status = status_for(job_type)
        self._summaries: dict[int, QualificationSummary] = {}
        self._ids = AchievementIds(ao_id)
        self._dates: dict[date, str] = {}  # `date.isoformat` formats through `sprintf`: ~3,000 instructions

    def of(self, judged: JudgedRecord, change: Change | None, target: AchievementState | None) -> AchievementEvent:
        if change is not _RECORD or target is not None:
            return _event(
                judged, change, target, self._batch_id, self._ao_id, self._job_type, self._summaries, self._ids
            )
        # `_event` of a record that creates an achievement, step by step
        record, action, _, _, address, qualification, data = judged
        assert address is not None  # an accepted record always has a readable ULN, QAN and award date
        assert data is not None, f"{action} accepted without achievement data"
        assert qualification is not None
        assert action is _CREATE
        uln, qualification_number, award_date = address
        values = {
            "ao_id": self._ao_id,
            "uln": uln,
            "qualification_number": qualification_number,
            "award_date": award_date,
        }
        key = _trusted_key(values) if uln == record.uln else AchievementKey(**values)
        summary = self._summaries.get(id(qualification))
        if summary is None:
            summary = _summary(qualification, self._summaries)
        fields = record.__dict__
        return _trusted_recorded(
            {
                "event_type": _RECORDED,
                "achievement_id": self._ids.named(uln, qualification_number, award_date, self._dates),
                "key": key,
                "data": data,
                "status": self._status,
                "qualification": summary,
                # the AO's MIS identifier is echoed in the outcomes only: the log keeps an event for ever, in clear
                "provenance": _trusted_provenance(
                    {"batch_id": self._batch_id, "line": fields["line"], "mis_identifier": None}
                ),
            },
        )


_trusted_key = trusted_builder(AchievementKey)
_trusted_recorded = trusted_builder(AchievementRecorded)
_trusted_provenance = trusted_builder(Provenance)


def _key(ao_id: str, address: AchievementAddress, checked_uln: str | None) -> AchievementKey:
    uln, qualification_number, award_date = address
    values = {"ao_id": ao_id, "uln": uln, "qualification_number": qualification_number, "award_date": award_date}
    if uln == checked_uln:  # the record's own ULN, which passed RV001-RV003
        return trusted_from(AchievementKey, values)
    return AchievementKey(**values)  # the end of a merge chain, from the registry


def _event(
    judged: JudgedRecord,
    change: Change | None,
    target: AchievementState | None,
    batch_id: uuid.UUID,
    ao_id: str,
    job_type: JobType,
    summaries: dict[int, QualificationSummary],
    ids: AchievementIds,
) -> AchievementEvent:
    """The PLR event of a record accepted with `change` to `target` (None: a new achievement).
    Accepted means every rule passed, so its facts are known and are not validated again."""
    address, data, record = judged.address, judged.data, judged.record
    assert address is not None  # an accepted record always has a readable ULN, QAN and award date
    key = target.key if target is not None else _key(ao_id, address, record.uln)
    identity = target.achievement_id if target is not None else ids.of(key)
    # no `mis_identifier`: the AO's free-text key (which may name the learner) is echoed in the batch's outcomes, not
    # kept for ever, in clear, on the PLR log, where no erasure reaches it
    provenance = trusted_from(Provenance, {"batch_id": batch_id, "line": record.line, "mis_identifier": None})
    if change is _RECORD:  # nearly every event: tested first
        assert data is not None, f"{judged.action} accepted without achievement data"
        assert judged.qualification is not None
        assert judged.action is _CREATE
        return trusted(
            AchievementRecorded,
            event_type=_RECORDED,
            achievement_id=identity,
            key=key,
            data=data,
            status=status_for(job_type),
            qualification=_summary(judged.qualification, summaries),
            provenance=provenance,
        )
    if change is Change.WITHDRAW:
        return trusted(
            AchievementWithdrawn,
            event_type=_WITHDRAWN,
            achievement_id=identity,
            key=key,
            provenance=provenance,
        )
    if change is Change.REINSTATE:
        return trusted(
            AchievementReinstated,
            event_type=_REINSTATED,
            achievement_id=identity,
            key=key,
            provenance=provenance,
        )
    assert data is not None, f"{judged.action} accepted without achievement data"
    if change is Change.SUPERSEDE:
        return trusted(
            AchievementSuperseded,
            event_type=_SUPERSEDED,
            achievement_id=identity,
            key=key,
            data=data,
            provenance=provenance,
        )
    if change is Change.UPDATE:
        assert target is not None
        return trusted(
            AchievementUpdated,
            event_type=_UPDATED,
            achievement_id=identity,
            key=key,
            data=data,
            status=target.status,
            provenance=provenance,
        )
    raise AssertionError(f"an accepted record's change {change}")


def _summary(qualification: Qualification, known: dict[int, QualificationSummary]) -> QualificationSummary:
    """One summary per catalogue row and batch; rows are told apart by identity, which is cheaper than hashing."""
    summary = known.get(id(qualification))
    if summary is None:
        summary = known[id(qualification)] = qualification_summary(qualification)
    return summary
