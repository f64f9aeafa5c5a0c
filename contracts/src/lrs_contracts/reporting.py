"""MI aggregates for analysts on `lrs.reporting.*.v1` (compacted; key: AO id + period).

Delivery is at least once, and a month's aggregates are published again after each outcome (or challenge event)
of the month they count, changed or not (PLR timeliness: after a measured batch's only, see
`AoMonthlyPlrTimeliness`): unchanged figures follow one another under the same `event_id` (derived from the key
and the figures). A reader keeps the last message of each key, or drops repeated ids. `occurred_at` is when a
message was published, not when its figures changed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lrs_contracts.envelope import Contract

PERIOD = r"^[0-9]{4}-[0-9]{2}$"


class AoMonthlySubmissions(Contract):
    """lrs.reporting.submissions.aggregated.v1 — an AO's batches and records in one calendar month (UK time).
    Published again after each outcome of the month, changed or not: a key's last message is the month's figures.

    A batch counts in the month it was decided, or — abandoned — given up on (decision 0105).
    """

    event_type: Literal["lrs.reporting.submissions.aggregated.v1"] = "lrs.reporting.submissions.aggregated.v1"
    ao_id: str
    period: str = Field(pattern=PERIOD)
    batches_completed: int = Field(ge=0)
    batches_failed: int = Field(ge=0)
    batches_abandoned: int = Field(
        default=0,
        ge=0,
        description="batches the LRS gave up on (lrs.batch.abandoned.v1), in the month they were given up;"
        " they add no records and no code",
    )
    records_total: int = Field(
        ge=0,
        description="every record of the month's completed and failed batches: accepted, rejected and unchanged"
        " (no-op) records alike, those of failed batches included",
    )
    records_accepted: int = Field(
        ge=0, description="records of completed batches that changed a PLR (a failed batch records nothing)"
    )
    records_rejected: int = Field(
        ge=0,
        description="rejected records of completed and failed batches; the rest of records_total are"
        " records_unchanged and the failed batches' records that were not rejected",
    )
    records_unchanged: int = Field(
        default=0,
        ge=0,
        description="records of completed batches that changed nothing (no-op): the PLR already held them as sent."
        " records_total - records_accepted - records_rejected - records_unchanged = the failed batches' records"
        " that were not rejected (a failed batch records nothing)",
    )
    rejections_by_code: dict[str, int] = Field(
        description="RVnnn: the records rejected for it (a record with several codes counts under each); RSnnn:"
        " the batches it failed. lrs.reporting.rejections.v1 gives both counts for every code"
    )


class AoMonthlyTimeliness(Contract):
    """lrs.reporting.timeliness.aggregated.v1 — batches decided within 10 working days of results issued.
    Published again after each outcome of the month, changed or not: a key's last message is the month's figures.

    Measured to the decision; `AoMonthlyPlrTimeliness` measures to the results being on the PLR.
    """

    event_type: Literal["lrs.reporting.timeliness.aggregated.v1"] = "lrs.reporting.timeliness.aggregated.v1"
    ao_id: str
    period: str = Field(pattern=PERIOD)
    batches_measured: int = Field(
        ge=0,
        description="completed batches that gave a results-issued date from 2006-09-01 to a year after the decision"
        " (the others cannot be measured; decision 0133)",
    )
    batches_within_10_working_days: int = Field(
        ge=0, description="of those, decided at most 10 working days after it (a date after the decision counts)"
    )
    worst_working_days: int = Field(ge=0, description="the most working days any of them took; 0 when none")


class QualificationTypeTimeliness(Contract):
    """One qualification type's share of a month: each batch counts once per type it carried."""

    qualification_type: str = Field(description="the catalogue's type, e.g. 'GCSE'; 'unknown' when not catalogued")
    batches_measured: int = Field(ge=0)
    batches_within_10_working_days: int = Field(ge=0)
    median_working_days: int = Field(ge=0, description="the lower median; 0 when nothing was measured")
    worst_working_days: int = Field(ge=0)


class AoMonthlyPlrTimeliness(Contract):
    """lrs.reporting.plr_timeliness.aggregated.v1 — working days from results issued to results on the PLR.
    Published again after each completed batch of the month that gave a results-issued date timeliness can count,
    changed or not, once a measured batch of the month is on the PLR; not after a failed or abandoned batch, nor
    after one without such a date: a key's last message is the month's figures.

    A batch is on the PLR when its completion, written in the same Kafka transaction as its events, is
    on lrs.batch.outcomes.v1 (the broker's timestamp of `lrs.batch.completed.v1`, per qualification it
    names in `on_plr`; the latest when it is completed twice) plus `projection_lag_bound_seconds`, the
    projector lag past which operators are alerted (decisions 0035, 0107). Period: the month of the
    decision (UK time), as for the other aggregates. Batches without an issue date, batches that put
    nothing on the PLR, and batches whose completion does not state `on_plr` (written before it
    existed; unless reporting reads the PLR log itself) are not measured. When reporting reads the PLR log
    itself, a month's figures are also published again after the log's writes of its batches.
    """

    event_type: Literal["lrs.reporting.plr_timeliness.aggregated.v1"] = "lrs.reporting.plr_timeliness.aggregated.v1"
    ao_id: str
    period: str = Field(pattern=PERIOD)
    projection_lag_bound_seconds: int = Field(ge=0)
    batches_measured: int = Field(ge=0)
    batches_within_10_working_days: int = Field(ge=0)
    median_working_days: int = Field(ge=0, description="the lower median; 0 when nothing was measured")
    worst_working_days: int = Field(ge=0)
    by_qualification_type: tuple[QualificationTypeTimeliness, ...]


class CodeRejections(Contract):
    """One rejection code's month: how many batches and records it touched."""

    code: str = Field(pattern=r"^R[SV][0-9]{3}$")
    batches: int = Field(ge=0, description="RVnnn: batches with a record rejected for it; RSnnn: batches it failed")
    records: int = Field(ge=0, description="RVnnn: rejected records carrying it; RSnnn: records of the failed batches")


class AoMonthlyRejections(Contract):
    """lrs.reporting.rejections.aggregated.v1 — an AO's rejections by code in one calendar month (decided).
    Published again after each outcome of the month, changed or not: a key's last message is the month's figures.
    """

    event_type: Literal["lrs.reporting.rejections.aggregated.v1"] = "lrs.reporting.rejections.aggregated.v1"
    ao_id: str
    period: str = Field(pattern=PERIOD)
    records_rejected: int = Field(ge=0)
    batches_failed: int = Field(ge=0)
    by_code: tuple[CodeRejections, ...]


class AoMonthlyChallenges(Contract):
    """lrs.reporting.challenges.aggregated.v1 — challenges raised in one month (UK time) and how they ended.
    Published again after each event of the month's challenges, changed or not: a key's last message is the
    month's figures.

    Working days (England and Wales) from raised to resolved, over the challenges resolved so far.
    """

    event_type: Literal["lrs.reporting.challenges.aggregated.v1"] = "lrs.reporting.challenges.aggregated.v1"
    ao_id: str
    period: str = Field(pattern=PERIOD)
    raised: int = Field(ge=0)
    acknowledged: int = Field(ge=0, description="of those raised, acknowledged or resolved")
    resolved: int = Field(ge=0)
    still_open: int = Field(ge=0)
    resolutions: dict[str, int] = Field(
        description="resolved challenges by resolution: corrected, upheld, rejected, each named (0 when none)"
    )
    median_working_days_to_resolve: int = Field(ge=0, description="the lower median; 0 when none is resolved")
    worst_working_days_to_resolve: int = Field(ge=0)


REPORTING_EVENTS = (
    AoMonthlySubmissions,
    AoMonthlyTimeliness,
    AoMonthlyPlrTimeliness,
    AoMonthlyRejections,
    AoMonthlyChallenges,
)
