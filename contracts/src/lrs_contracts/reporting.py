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

AO_BATCHES = "the awarding organisation whose batches these are: the key's first part"
MONTH = "yyyy-mm, the key's second part: the calendar month (UK time, Europe/London) in which"
DECIDED_MONTH = f"{MONTH} each batch counted was decided"
WORKING_DAYS = "working days (England and Wales: weekdays that are not bank holidays; the same day is 0)"


class AoMonthlySubmissions(Contract):
    """lrs.reporting.submissions.aggregated.v1 — an AO's batches and records in one calendar month (UK time).
    Published again after each outcome of the month, changed or not: a key's last message is the month's figures.

    A batch counts in the month it was decided, or — abandoned — given up on (decision 0105).
    """

    event_type: Literal["lrs.reporting.submissions.aggregated.v1"] = "lrs.reporting.submissions.aggregated.v1"
    ao_id: str = Field(description=AO_BATCHES)
    period: str = Field(pattern=PERIOD, description=f"{DECIDED_MONTH}, or (abandoned) given up on")
    batches_completed: int = Field(ge=0, description="batches completed in the month (lrs.batch.completed.v1)")
    batches_failed: int = Field(
        ge=0,
        description="batches failed in the month (lrs.batch.failed.v1, with an RS code such as RS005): none of their"
        " records went onto the PLR",
    )
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
    ao_id: str = Field(description=AO_BATCHES)
    period: str = Field(pattern=PERIOD, description=DECIDED_MONTH)
    batches_measured: int = Field(
        ge=0,
        description="completed batches that gave a results-issued date from 2006-09-01 to a year after the decision"
        " (the others cannot be measured; decision 0133)",
    )
    batches_within_10_working_days: int = Field(
        ge=0,
        description=f"of those, decided at most 10 {WORKING_DAYS} after it, counted to the UK day of the decision"
        " (a date after the decision counts)",
    )
    worst_working_days: int = Field(
        ge=0, description="the most working days any of them took from results issued to decided; 0 when none"
    )


class QualificationTypeTimeliness(Contract):
    """One qualification type's share of a month: each batch counts once per type it carried."""

    qualification_type: str = Field(description="the catalogue's type, e.g. 'GCSE'; 'unknown' when not catalogued")
    batches_measured: int = Field(
        ge=0, description="the month's measured batches that put results of this type on the PLR"
    )
    batches_within_10_working_days: int = Field(
        ge=0,
        description="of those, with their results of this type on the PLR at most 10 working days after results"
        " were issued",
    )
    median_working_days: int = Field(
        ge=0, description="the lower median of their working days to the PLR for this type; 0 when nothing was measured"
    )
    worst_working_days: int = Field(ge=0, description="the most working days any of them took for this type")


class AoMonthlyPlrTimeliness(Contract):
    """lrs.reporting.plr_timeliness.aggregated.v1 — working days from results issued to results on the PLR.
    Published again after each completed batch of the month that gave a results-issued date timeliness can count,
    changed or not, once a measured batch of the month is on the PLR; not after a failed or abandoned batch, nor
    after one without such a date: a key's last message is the month's figures.

    A batch is on the PLR when its completion, written in the same Kafka transaction as its events, is
    on lrs.batch.outcomes.v1 (the record timestamp of `lrs.batch.completed.v1`, CreateTime: set by validation's
    producer as it sends it, inside the transaction; per qualification it
    names in `on_plr`; the latest when it is completed twice) plus `projection_lag_bound_seconds`, the
    projector lag past which operators are alerted (decisions 0035, 0107). Period: the month of the
    decision (UK time), as for the other aggregates. Batches without an issue date, batches that put
    nothing on the PLR, and batches whose completion does not state `on_plr` (written before it
    existed; unless reporting reads the PLR log itself) are not measured. When reporting reads the PLR log
    itself, a month's figures are also published again after the log's writes of its batches.
    """

    event_type: Literal["lrs.reporting.plr_timeliness.aggregated.v1"] = "lrs.reporting.plr_timeliness.aggregated.v1"
    ao_id: str = Field(description=AO_BATCHES)
    period: str = Field(pattern=PERIOD, description=f"{DECIDED_MONTH} (not the month its results were on the PLR)")
    projection_lag_bound_seconds: int = Field(
        ge=0,
        description="seconds added to the record timestamp of a batch's completion (or of its last write to the PLR"
        " log) to date when its results were on the PLR, a UK day: the projector lag past which operators are alerted"
        " (REPORTING_PROJECTION_LAG_BOUND_SECONDS, 300 by default)",
    )
    batches_measured: int = Field(
        ge=0,
        description="completed batches of the month with a results-issued date timeliness can count that put results"
        " on the PLR, each once",
    )
    batches_within_10_working_days: int = Field(
        ge=0,
        description=f"of those, on the PLR at most 10 {WORKING_DAYS} after results were issued; an issue date after"
        " the day on the PLR counts as 0 days, on time",
    )
    median_working_days: int = Field(
        ge=0,
        description="the lower median of the measured batches' working days from results issued to on the PLR;"
        " 0 when nothing was measured",
    )
    worst_working_days: int = Field(ge=0, description="the most working days any measured batch took; 0 when none")
    by_qualification_type: tuple[QualificationTypeTimeliness, ...] = Field(
        description="the same figures per qualification type the measured batches put on the PLR, in order of type:"
        " a batch counts under each type it carried, measured at its latest write of that type, so the types'"
        " batches_measured can add up to more than the month's"
    )


class CodeRejections(Contract):
    """One rejection code's month: how many batches and records it touched."""

    code: str = Field(
        pattern=r"^R[SV][0-9]{3}$",
        description="RVnnn: a rule a record broke (the record rejected); RSnnn: why a batch failed",
    )
    batches: int = Field(ge=0, description="RVnnn: batches with a record rejected for it; RSnnn: batches it failed")
    records: int = Field(ge=0, description="RVnnn: rejected records carrying it; RSnnn: records of the failed batches")


class AoMonthlyRejections(Contract):
    """lrs.reporting.rejections.aggregated.v1 — an AO's rejections by code in one calendar month (decided).
    Published again after each outcome of the month, changed or not: a key's last message is the month's figures.
    """

    event_type: Literal["lrs.reporting.rejections.aggregated.v1"] = "lrs.reporting.rejections.aggregated.v1"
    ao_id: str = Field(description=AO_BATCHES)
    period: str = Field(pattern=PERIOD, description=DECIDED_MONTH)
    records_rejected: int = Field(
        ge=0,
        description="rejected records of the month's completed and failed batches, as lrs.reporting.submissions.v1"
        " counts",
    )
    batches_failed: int = Field(
        ge=0, description="batches failed in the month (lrs.batch.failed.v1), as lrs.reporting.submissions.v1 counts"
    )
    by_code: tuple[CodeRejections, ...] = Field(
        description="each code that rejected a record or failed a batch in the month, in order of code; empty when"
        " none did"
    )


class AoMonthlyChallenges(Contract):
    """lrs.reporting.challenges.aggregated.v1 — challenges raised in one month (UK time) and how they ended.
    Published again after each event of the month's challenges, changed or not: a key's last message is the
    month's figures.

    Working days (England and Wales) from raised to resolved, over the challenges the AO resolved so far: a
    challenge the learner withdrew (decision 0194) counts as resolved, but not in the days; nor does one the LRS
    service desk (an operator, for the AO) resolved, which `resolved_by_service_desk` counts apart.
    """

    event_type: Literal["lrs.reporting.challenges.aggregated.v1"] = "lrs.reporting.challenges.aggregated.v1"
    ao_id: str = Field(description="the awarding organisation whose achievements were challenged: the key's first part")
    period: str = Field(
        pattern=PERIOD,
        description=f"{MONTH} each challenge counted was raised, whenever it was acknowledged or resolved",
    )
    raised: int = Field(ge=0, description="challenges of the AO's achievements raised in the month")
    acknowledged: int = Field(
        ge=0,
        description="of those raised, acknowledged or resolved by the AO (or by the LRS service desk for it:"
        " acknowledged_by_service_desk): one the learner withdrew counts only if it had been acknowledged",
    )
    resolved: int = Field(
        ge=0,
        description="of those raised, resolved so far (in any month), by the AO or withdrawn by the learner: the sum of"
        " resolutions",
    )
    still_open: int = Field(ge=0, description="raised - resolved: those not resolved yet, acknowledged ones included")
    resolutions: dict[str, int] = Field(
        description="resolved challenges by resolution: corrected, upheld, rejected and withdrawn (by the learner),"
        " each named (0 when none)"
    )
    median_working_days_to_resolve: int = Field(
        ge=0,
        description=f"the lower median of the resolved challenges' {WORKING_DAYS} from the UK day raised to the UK day"
        " resolved, those the learner withdrew and those the service desk resolved aside (the AO did not resolve them);"
        " 0 when the AO resolved none (resolved - resolutions.withdrawn - resolved_by_service_desk is 0): then no day"
        " was measured",
    )
    worst_working_days_to_resolve: int = Field(
        ge=0,
        description="the most working days any resolved challenge took, those the learner withdrew and those the"
        " service desk resolved aside; 0 when the AO resolved none (resolved - resolutions.withdrawn -"
        " resolved_by_service_desk is 0): then no day was measured",
    )
    acknowledged_by_service_desk: int = Field(
        default=0,
        ge=0,
        description="of those acknowledged, the ones the LRS service desk (an LRS operator, for the AO) acknowledged,"
        " or resolved unacknowledged, rather than the AO itself: acknowledged - acknowledged_by_service_desk are the"
        " AO's own. Told from the events' `causation_id` (`operator:…`): the desk's answers before reporting told them"
        " apart count as the AO's until its store is rebuilt from the topics, and figures published before then"
        " lack the field (read as 0)",
    )
    resolved_by_service_desk: int = Field(
        default=0,
        ge=0,
        description="of those resolved as corrected, upheld or rejected, the ones the LRS service desk (an LRS"
        " operator) resolved for the AO: resolved - resolutions.withdrawn - resolved_by_service_desk are the AO's own"
        " answers, the only ones the working days measure. Told apart as acknowledged_by_service_desk is",
    )


REPORTING_EVENTS = (
    AoMonthlySubmissions,
    AoMonthlyTimeliness,
    AoMonthlyPlrTimeliness,
    AoMonthlyRejections,
    AoMonthlyChallenges,
)
