"""What a fault did to one row's work: records lost, records applied twice, emails per notification.

Pure: it compares what was submitted with what the system holds (batch view, PLR read model, the PLR
log, MI facts, the SMTP sink), gathered elsewhere into an `Observation`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ExpectedBatch:
    """One submitted batch: record `line` (1-based) is about `ulns[line - 1]`."""

    batch_id: str
    ulns: tuple[str, ...]


@dataclass(frozen=True)
class Expected:
    """A row's work: batches in submission order; the last one leaves every learner at `final_grade`."""

    batches: tuple[ExpectedBatch, ...]
    final_grade: str
    challenge_id: str | None = None

    @property
    def records(self) -> int:
        return sum(len(batch.ulns) for batch in self.batches)

    @property
    def notifications(self) -> tuple[str, ...]:
        """What must be emailed exactly once: each batch run, and the challenge raised."""
        ids = tuple(batch.batch_id for batch in self.batches)
        return (*ids, self.challenge_id) if self.challenge_id else ids


@dataclass
class Observation:
    """What the system holds about a row's work at one moment."""

    batch_status: dict[str, str] = field(default_factory=dict)
    batches_per_submission: dict[str, int] = field(default_factory=dict)  # batch id -> batches with its key
    batch_view_lines: Counter[tuple[str, int]] = field(default_factory=Counter)
    history_lines: Counter[tuple[str, int]] = field(default_factory=Counter)  # PLR read model changes
    log_lines: Counter[tuple[str, int]] | None = None  # PLR log events; None when not read
    plr_grades: dict[str, tuple[str, int]] = field(default_factory=dict)  # uln -> (grade, version)
    mi_batches: set[str] = field(default_factory=set)
    challenge_projected: bool = False
    emails: dict[str, list[str]] = field(default_factory=dict)  # notification id -> Message-IDs received


@dataclass(frozen=True)
class Assessment:
    records: int
    lost: int
    duplicated: int
    emails_per_notification: dict[str, int]  # distinct Message-IDs per notification
    redeliveries: int  # the same Message-ID delivered again (allowed: the receiver drops it)
    missing: tuple[str, ...]  # what is still missing, for the report

    @property
    def recovered(self) -> bool:
        return self.lost == 0 and all(count >= 1 for count in self.emails_per_notification.values())

    @property
    def passed(self) -> bool:
        return (
            self.recovered
            and self.duplicated == 0
            and all(count == 1 for count in self.emails_per_notification.values())
        )


def assess(expected: Expected, seen: Observation) -> Assessment:
    lost: set[tuple[str, int]] = set()
    duplicated: set[tuple[str, int]] = set()
    missing: Counter[str] = Counter()
    last = expected.batches[-1].batch_id if expected.batches else None
    for batch in expected.batches:
        for line, uln in enumerate(batch.ulns, start=1):
            record = (batch.batch_id, line)
            gaps = []
            if seen.batch_status.get(batch.batch_id) != "completed":
                gaps.append("batch not completed")
            if seen.batch_view_lines[record] == 0:
                gaps.append("batch view")
            if seen.history_lines[record] == 0:
                gaps.append("PLR history")
            if seen.log_lines is not None and seen.log_lines[record] == 0:
                gaps.append("PLR log")
            if batch.batch_id not in seen.mi_batches:
                gaps.append("MI")
            if batch.batch_id == last and seen.plr_grades.get(uln, ("", 0))[0] != expected.final_grade:
                gaps.append("PLR grade")
            if gaps:
                lost.add(record)
                missing.update(gaps)
            applied_twice = (
                seen.batch_view_lines[record] > 1
                or seen.history_lines[record] > 1
                or (seen.log_lines is not None and seen.log_lines[record] > 1)
            )
            if applied_twice:
                duplicated.add(record)
        if seen.batches_per_submission.get(batch.batch_id, 1) > 1:
            duplicated.update((batch.batch_id, line) for line in range(1, len(batch.ulns) + 1))
    if expected.challenge_id and not seen.challenge_projected:
        missing["challenge on the PLR"] += 1
    emails = {notification: len(set(seen.emails.get(notification, []))) for notification in expected.notifications}
    redeliveries = sum(
        len(seen.emails.get(notification, [])) - emails[notification] for notification in expected.notifications
    )
    missing.update({"email": 1} if any(count == 0 for count in emails.values()) else {})
    return Assessment(
        records=expected.records,
        lost=len(lost) + (0 if not expected.challenge_id or seen.challenge_projected else 1),
        duplicated=len(duplicated),
        emails_per_notification=emails,
        redeliveries=redeliveries,
        missing=tuple(f"{what} ({count})" for what, count in sorted(missing.items())),
    )
