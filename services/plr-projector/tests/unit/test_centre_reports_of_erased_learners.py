"""A provider's centre report is free text it wrote (`subject`, `provider_name`), which may name the learner: once
the learner is erased, the read model keeps their reports without it, whichever came first on the log, live, in a
replay and in a rebuild's workers. The grade stays, as an AO's grades do."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from lrs_contracts.learner import LearnerErased
from lrs_contracts.plr import CentreAchievementReported
from lrs_contracts.registry import encode, wrap
from plr_projector.projection import (
    LEARNER_TOPIC,
    CentreRow,
    Message,
    Snapshot,
    decode_message,
    needs_of,
)
from plr_projector.rebuild import FoldState, Rows
from plr_projector.store import BULK_COLUMNS

from .log_messages import T0, consumer_records, project

ULN, OTHER_ULN = "1000000043", "1026893096"
NAMING = "Quenivere Zdravkowitzka (born 1977-12-29) - resit after illness"
PROVIDER_NAMING = "Quenivere Zdravkowitzka's tutor group"


class Log:
    """The learner topic's and the PLR topic's records in one order (each its own partition, offsets rising)."""

    def __init__(self) -> None:
        self.offset = 0

    def message(self, payload: CentreAchievementReported | LearnerErased) -> Message:
        topic = LEARNER_TOPIC if isinstance(payload, LearnerErased) else "lrs.plr.events.v1"
        self.offset += 1
        return Message(
            topic,
            0,
            self.offset,
            payload.uln.encode(),
            _encoded(payload, self.offset),
            1_700_000_000_000 + self.offset,
        )


def _encoded(payload: CentreAchievementReported | LearnerErased, number: int) -> bytes:
    return encode(
        wrap(
            payload,
            source="tests",
            correlation_id="c",
            event_id=uuid.UUID(int=number),
            occurred_at=T0 + timedelta(minutes=number),
        )
    )


def report(uln: str = ULN, qualification_number: str = "603/3796/5") -> CentreAchievementReported:
    return CentreAchievementReported(
        report_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{uln}|{qualification_number}"),
        uln=uln,
        provider_ukprn="10004567",
        provider_name=PROVIDER_NAMING,
        qualification_number=qualification_number,
        subject=NAMING,
        grade="Merit",
    )


def erasure(uln: str = ULN) -> LearnerErased:
    return LearnerErased(uln=uln, erasure_id=uuid.uuid4(), erased_by="operator:dpo", erased_at=T0)


def _texts(rows: Any) -> dict[tuple[str, str], tuple[str | None, str | None, str | None]]:
    """(uln, qualification) -> (subject, provider_name, grade) of centre rows."""
    return {
        (row.uln, row.qualification_number): (row.subject, row.provider_name, row.grade)
        for row in rows
        if isinstance(row, CentreRow)
    }


ERASED = (None, None, "Merit")
KEPT = (NAMING, PROVIDER_NAMING, "Merit")


def test_an_erasure_empties_the_free_text_of_the_learners_reports_in_its_batch_and_keeps_their_grades() -> None:
    log = Log()
    changes = project(
        [
            log.message(report()),
            log.message(report(qualification_number="601/0001/2")),
            log.message(report(OTHER_ULN)),
            log.message(erasure()),
        ]
    )

    assert _texts(changes.centre.values()) == {
        (ULN, "60337965"): ERASED,
        (ULN, "60100012"): ERASED,
        (OTHER_ULN, "60337965"): KEPT,  # another learner's reports are not touched
    }
    assert changes.erased_ulns == {ULN}  # those stored before this batch lose it as it is written
    assert changes.parked == []


def test_a_report_on_the_log_after_the_erasure_is_kept_without_its_free_text() -> None:
    """Read late (it was accepted just before the erasure), replayed or rebuilt: in the batch of the erasure, or in
    a later one that reads the learner as erased."""
    log = Log()
    same_batch = project([log.message(erasure()), log.message(report()), log.message(report(OTHER_ULN))])
    later = [log.message(report()), log.message(report(OTHER_ULN))]
    decoded = [decode_message(message) for message in later]
    later_batch = project(later, Snapshot(erased_ulns={ULN}))

    for changes in (same_batch, later_batch):
        assert _texts(changes.centre.values()) == {(ULN, "60337965"): ERASED, (OTHER_ULN, "60337965"): KEPT}
    assert needs_of(decoded).centre_ulns == {ULN, OTHER_ULN}  # whether they were erased is read for the batch


def _centre_rows_written(state: FoldState) -> dict[tuple[str, str], tuple[str | None, str | None, str | None]]:
    """(uln, qualification) -> (subject, provider_name, grade) of the centre rows the worker COPYs."""
    rows = Rows()
    rows.add_final(state)
    written = [
        dict(zip(BULK_COLUMNS["centre_achievements"], row, strict=True)) for row in rows.tables["centre_achievements"]
    ]
    return {
        (row["uln"], row["qualification_number"]): (row["subject"], row["provider_name"], row["grade"])
        for row in written
    }


@pytest.mark.parametrize("erased_first", [False, True], ids=["report then erasure", "erasure then report"])
@pytest.mark.parametrize("chunk", [1, 10], ids=["one record a chunk", "one chunk"])
def test_a_rebuild_worker_writes_an_erased_learners_reports_without_their_free_text(
    erased_first: bool, chunk: int
) -> None:
    log = Log()
    ours = [log.message(report()), log.message(report(OTHER_ULN))]
    erased = [log.message(erasure())]
    messages = erased + ours if erased_first else ours + erased
    state = FoldState({})
    rows = Rows()
    for start in range(0, len(messages), chunk):
        state.fold(consumer_records(messages[start : start + chunk]), rows)

    assert _centre_rows_written(state) == {(ULN, "60337965"): ERASED, (OTHER_ULN, "60337965"): KEPT}


def test_a_worker_that_read_no_erasure_leaves_the_text_to_the_end_of_the_rebuild() -> None:
    """Another worker (or a later pass) folded the report; the erasure went to worker 0's first pass: the rebuild
    empties the text when its tables are restored (`ReadModel.erase_centre_text`, integration-tested)."""
    state = FoldState({})
    state.fold(consumer_records([Log().message(report())]), Rows())
    assert _centre_rows_written(state) == {(ULN, "60337965"): KEPT}
