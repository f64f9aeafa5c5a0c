"""MI aggregates for analysts on `lrs.reporting.*.v1` (compacted; key: AO id + period)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lrs_contracts.envelope import Contract


class AoMonthlySubmissions(Contract):
    """lrs.reporting.submissions.aggregated.v1 — an AO's batches and records in one calendar month."""

    event_type: Literal["lrs.reporting.submissions.aggregated.v1"] = "lrs.reporting.submissions.aggregated.v1"
    ao_id: str
    period: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}$")
    batches_completed: int = Field(ge=0)
    batches_failed: int = Field(ge=0)
    records_total: int = Field(ge=0)
    records_accepted: int = Field(ge=0)
    records_rejected: int = Field(ge=0)
    rejections_by_code: dict[str, int]


class AoMonthlyTimeliness(Contract):
    """lrs.reporting.timeliness.aggregated.v1 — results on the PLR within 10 working days of issue."""

    event_type: Literal["lrs.reporting.timeliness.aggregated.v1"] = "lrs.reporting.timeliness.aggregated.v1"
    ao_id: str
    period: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}$")
    batches_measured: int = Field(ge=0)
    batches_within_10_working_days: int = Field(ge=0)
    worst_working_days: int = Field(ge=0)


REPORTING_EVENTS = (AoMonthlySubmissions, AoMonthlyTimeliness)
