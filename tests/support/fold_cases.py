"""Every achievement event type after every kind of achievement before it, with the domain's one fold's answer
(`lrs_domain.achievements.transition`): what the readers of the PLR log that fold it on plain values (the
projector's plain path and bulk rebuild, the challenges service's record) are checked against."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from lrs_contracts.envelope import Contract
from lrs_contracts.plr import (
    AchievementData,
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
from lrs_contracts.registry import encode, event_type_of, wrap
from lrs_domain.achievements import (
    KIND_OF_EVENT_TYPE,
    AchievementChange,
    AchievementEvent,
    AchievementEventMismatch,
    AchievementState,
    transition,
)

ULN = "1000000043"
KEY = AchievementKey(ao_id="RN5133", uln=ULN, qualification_number="6001166X", award_date=date(2024, 5, 20))
ACHIEVEMENT = uuid.UUID("66666666-7777-4888-9999-000000000000")
T0 = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
P, F = ResultStatus.PROVISIONAL, ResultStatus.FINAL
QUALIFICATION = QualificationSummary(
    title="GCSE Mathematics",
    qualification_type="GCSE (9 to 1)",
    framework="RQF",
    kind="qualification",
    awarding_organisation_name="AQA",
)


def _provenance(line: int) -> Provenance:
    return Provenance(batch_id=uuid.UUID("11111111-2222-4333-8444-555555555555"), line=line)


def recorded(status: ResultStatus, grade: str = "7", line: int = 1) -> AchievementRecorded:
    return AchievementRecorded(
        achievement_id=ACHIEVEMENT,
        key=KEY,
        data=AchievementData(grade=grade),
        status=status,
        qualification=QUALIFICATION,
        provenance=_provenance(line),
    )


def updated(status: ResultStatus, grade: str, line: int = 1) -> AchievementUpdated:
    return AchievementUpdated(
        achievement_id=ACHIEVEMENT,
        key=KEY,
        data=AchievementData(grade=grade),
        status=status,
        provenance=_provenance(line),
    )


def superseded(grade: str, line: int = 1) -> AchievementSuperseded:
    return AchievementSuperseded(
        achievement_id=ACHIEVEMENT, key=KEY, data=AchievementData(grade=grade), provenance=_provenance(line)
    )


def withdrawn(line: int = 1) -> AchievementWithdrawn:
    return AchievementWithdrawn(achievement_id=ACHIEVEMENT, key=KEY, provenance=_provenance(line))


def reinstated(line: int = 1) -> AchievementReinstated:
    return AchievementReinstated(achievement_id=ACHIEVEMENT, key=KEY, provenance=_provenance(line))


# The achievement before the event: none, live Provisional or Final, withdrawn from either.
BEFORE: dict[str, list[AchievementEvent]] = {
    "nothing": [],
    "provisional": [recorded(P)],
    "final": [recorded(F)],
    "withdrawn provisional": [recorded(P), withdrawn(line=2)],
    "withdrawn final": [recorded(F), withdrawn(line=2)],
}
# Each event type, saying the achievement's data again or other data, and each status where it says one.
EVENTS: dict[str, AchievementEvent] = {
    **{f"recorded {s.value} grade {g}": recorded(s, g, line=9) for s in (P, F) for g in ("7", "8")},
    **{f"updated {s.value} grade {g}": updated(s, g, line=9) for s in (P, F) for g in ("7", "8")},
    **{f"superseded grade {g}": superseded(g, line=9) for g in ("7", "8")},
    "withdrawn": withdrawn(line=9),
    "reinstated": reinstated(line=9),
}
if {event_type_of(type(event)) for event in EVENTS.values()} != set(KIND_OF_EVENT_TYPE):
    raise AssertionError("the cases leave out an achievement event type the fold takes: add it to EVENTS")


@dataclass(frozen=True)
class FoldCase:
    """`event` after `before`: the domain's state before it, and its answer (`refused`, or the transition's change and
    state: `change` None when the event changes nothing)."""

    before: list[AchievementEvent]
    event: AchievementEvent
    state_before: AchievementState | None
    refused: bool
    change: AchievementChange | None
    state_after: AchievementState | None

    @property
    def events(self) -> list[AchievementEvent]:
        return [*self.before, self.event]

    def changes(self) -> list[AchievementChange]:
        """What each event did, in log order, as the PLR history names it (the event itself last, if it did)."""
        state: AchievementState | None = None
        done = []
        for event in self.before:
            moved = transition(state, event)
            assert moved is not None, "the cases' histories are ones the fold takes"
            state = moved.state
            done.append(moved.change)
        return done if self.change is None else [*done, self.change]


def fold_cases() -> dict[str, FoldCase]:
    cases = {}
    for before_name, before in BEFORE.items():
        state: AchievementState | None = None
        for earlier in before:
            moved = transition(state, earlier)
            assert moved is not None
            state = moved.state
        for event_name, event in EVENTS.items():
            try:
                answer = transition(state, event)
            except AchievementEventMismatch:
                case = FoldCase(before, event, state, True, None, None)
            else:
                after = state if answer is None else answer.state
                case = FoldCase(before, event, state, False, None if answer is None else answer.change, after)
            cases[f"{event_name} after {before_name}"] = case
    return cases


def event_value(payload: Contract, number: int) -> bytes:
    """The log's `number`-th event (not a decision's: deduplicated by its id alone)."""
    return encode(
        wrap(
            payload,
            source="tests",
            correlation_id="fold",
            event_id=uuid.UUID(int=number + 1),
            occurred_at=T0 + timedelta(minutes=number),
        )
    )
