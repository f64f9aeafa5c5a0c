"""Reference data on `lrs.reference.qualifications.v1` (compacted; key: QAN|pathway)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from lrs_contracts.envelope import Contract


class Framework(StrEnum):
    """The qualification framework a catalogued qualification belongs to."""

    NQF = "NQF"
    QCF = "QCF"
    RQF = "RQF"


class QualificationKind(StrEnum):
    """A catalogue row is a whole qualification or a unit of one (a QCF unit reference)."""

    QUALIFICATION = "qualification"
    UNIT = "unit"


class QualificationPublished(Contract):
    """lrs.reference.qualification.published.v1 — a catalogue row, current version.

    Each reference load publishes every row of the catalogue under its key, then a tombstone for each key published
    before (by any earlier load, one whose publishing failed included) that the new load lacks: the key with a null
    value (no envelope), after the load's rows. A key whose last message is null is a qualification that left the
    catalogue: drop it (compaction drops the key too, in time). The last row of every other key is the catalogue.
    Loads published before tombstones were sent, and the first load published after, left a removed
    qualification's key holding an older load's row: a last row whose `source` names a load older than the newest
    is a qualification the newest load removed too.
    """

    event_type: Literal["lrs.reference.qualification.published.v1"] = "lrs.reference.qualification.published.v1"
    qualification_number: str
    pathway: str | None = None
    title: str
    awarding_organisation_id: str
    awarding_organisation_name: str
    level: str | None = None
    qualification_type: str
    framework: Framework
    kind: QualificationKind
    grade_set: tuple[str, ...]
    status: str = "Approved"
    source: str
    rows_in_load: int | None = Field(
        default=None,
        ge=0,
        description="how many rows the reference load named in `source` published: a reader holding that many rows"
        " of the load holds it whole (the Sandpit applies live's catalogue only then); absent from older publishers",
    )
