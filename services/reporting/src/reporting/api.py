"""MI API: an AO reads its own monthly aggregates; operators read everyone's. JSON or CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AfterValidator, BaseModel, Field, computed_field
from pydantic_core import PydanticCustomError

from lrs_contracts.identifiers import AoIdText
from lrs_contracts.reporting import (
    AoMonthlyChallenges,
    AoMonthlyPlrTimeliness,
    AoMonthlyRejections,
    AoMonthlySubmissions,
    AoMonthlyTimeliness,
    CodeRejections,
    QualificationTypeTimeliness,
)
from lrs_contracts.topics import BATCH_OUTCOMES, CHALLENGE_EVENTS, PLR_EVENTS
from lrs_platform.authentication import caller_of_kind, require_kind
from lrs_platform.identity import OperatorScope, Principal, PrincipalKind, operator_scope
from lrs_platform.problems import ProblemError, problem_responses
from reporting.aggregates import period_of
from reporting.store import Held, ReportingStore
from reporting.working_days import TARGET_WORKING_DAYS

# months of years 1900 to 2999: every report's, with room either side (year 0 or the month after 9999-12
# has no date to read from)
PERIOD_PATTERN = r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$"
_ANY_MONTH = r"[0-9]{4}-(0[1-9]|1[0-2])"  # well formed, if outside the years above

router = APIRouter(prefix="/v1/reports", tags=["MI reports"])

# An AO (its own reports) or an operator (everyone's): as a dependency it refuses any other caller (403) before the
# report's months or AO are read, so a learner or a provider is told it may not, not what is wrong with what it sent
# (decision 0032). `_scope` checks the same again.
Reader = Annotated[
    Principal,
    Depends(caller_of_kind("This operation is not open to {kind} callers.", PrincipalKind.AO, PrincipalKind.OPERATOR)),
]


def _calendar_month(value: str | None) -> str | None:
    """A month as people are told to write it, refused in those words rather than as a regular expression."""
    if value is not None and not re.fullmatch(PERIOD_PATTERN, value):
        if re.fullmatch(_ANY_MONTH, value):  # 9999-12 is a month: say which ones are reported on
            raise PydanticCustomError("calendar_month", "a month of the years 1900 to 2999 only")
        raise PydanticCustomError("calendar_month", "not a calendar month: write yyyy-mm, such as 2026-11")
    return value


CalendarMonth = AfterValidator(_calendar_month)
_DOCUMENTED_PATTERN = {"pattern": PERIOD_PATTERN}

Period = Annotated[
    str | None,
    Query(
        description="a calendar month, yyyy-mm (UK time); default: this month", json_schema_extra=_DOCUMENTED_PATTERN
    ),
    CalendarMonth,
]
AoFilter = Annotated[
    AoIdText | None,
    Query(description="operators: one AO only; an AO reads only its own (another is a 403)"),
]
Format = Annotated[Literal["json", "csv"], Query(description="csv downloads the same rows as a file")]
FirstPeriod = Annotated[
    str | None,
    Query(
        alias="from",
        description="the first calendar month, yyyy-mm (UK time); default: this month",
        json_schema_extra=_DOCUMENTED_PATTERN,
    ),
    CalendarMonth,
]
LastPeriod = Annotated[
    str | None,
    Query(alias="to", description="the last calendar month (default: `from`)", json_schema_extra=_DOCUMENTED_PATTERN),
    CalendarMonth,
]
MAX_MONTHS = 36

FIGURES_HEADER = "X-LRS-Figures"
"""Every report's answer, CSV or JSON: `partial` while reporting's store reads the history again after a rebuild
(decision 0161) or holds messages of the report's topics in its dead letters, `complete` otherwise."""
PARTIAL, COMPLETE = "partial", "complete"
HELD_HEADER = "X-LRS-Held-In-Dead-Letters"
"""How many messages of the report's topics reporting holds in its dead letters; only when some are."""
PARTIAL_SAID = (
    "While reporting's store is being rebuilt (decision 0161; docs/operations.md, \"Rebuilding reporting's store\")"
    " it reads the history again, and until it has read all of it the figures are partial: they count only what it"
    " has read so far. They may also be short while reporting holds messages of the topics the report is read from in"
    " its dead letters (a message it could not apply, and the later messages of its key held behind it, such as a"
    " batch's outcome): until an operator retries or skips them, what they say is counted nowhere, whichever AO or"
    " month it is of. A JSON answer then has `complete` false, and for held messages `held_in_dead_letters` (how"
    f" many, since when); every answer, a CSV's included, has the header `{FIGURES_HEADER}: {PARTIAL}`"
    f" (`{COMPLETE}` otherwise), with held messages `{HELD_HEADER}` (how many) too, and a CSV's columns are the same"
    " either way."
)
Complete = Annotated[
    bool,
    Field(
        description="false while reporting's store reads the history again after a rebuild (decision 0161): the"
        " figures count only what it has read so far, and they will grow to the months' real figures without any"
        " new batch or challenge; false too while reporting holds messages the report is read from in its dead"
        " letters (`held_in_dead_letters`): the figures may be short of what they say until an operator retries or"
        f" skips them; true otherwise. Every answer also says it in its `{FIGURES_HEADER}` header"
        f" (`{PARTIAL}` or `{COMPLETE}`)"
    ),
]


class HeldInDeadLetters(BaseModel):
    """Messages of the topics a report is read from that reporting could not apply, kept in its dead letters for an
    operator: the poison, and the later messages of its key held behind it."""

    count: int = Field(
        description="how many messages are held: each one that could not be applied and those that wait behind it"
    )
    since: datetime = Field(description="when the first of them was parked")


HeldField = Annotated[
    HeldInDeadLetters | None,
    Field(
        description="messages of the topics this report is read from (a batch's outcomes; for challenges, the"
        " challenge events) that reporting holds in its dead letters (how many, since when): until an operator"
        " retries or skips them (`lrs dlq list --service reporting`) what they say is not counted, whichever AO or"
        f" month it is of, and `complete` is false. Null when none is held. Also in the `{HELD_HEADER}` header"
    ),
]


class SubmissionsItem(AoMonthlySubmissions):
    """An AO's batches and records in one calendar month (UK time), as lrs.reporting.submissions.aggregated.v1 has
    them, and the records of its failed batches that were not added."""

    @computed_field(  # type: ignore[prop-decorator]
        description="records of the month's failed batches that were not rejected: they passed their checks, but a"
        " failed batch (such as RS005) adds nothing. records_total - records_accepted - records_rejected -"
        " records_unchanged, so that the four add up to records_total (not on the topic, where it is that"
        " difference)"
    )
    @property
    def records_not_added(self) -> int:
        return self.records_total - self.records_accepted - self.records_rejected - self.records_unchanged


class SubmissionsReport(BaseModel):
    period: str
    complete: Complete
    held_in_dead_letters: HeldField = None
    items: list[SubmissionsItem]


class SubmissionsRangeReport(BaseModel):
    """`from` and `to` asked: the months as the other range reports give them, an item per AO and month."""

    first_period: str
    last_period: str
    complete: Complete
    held_in_dead_letters: HeldField = None
    items: list[SubmissionsItem]


class TimelinessReport(BaseModel):
    period: str
    complete: Complete
    held_in_dead_letters: HeldField = None
    target_working_days: int = 10
    items: list[AoMonthlyTimeliness]


class TimelinessRangeReport(BaseModel):
    """`from` and `to` asked: the months as the other range reports give them, an item per AO and month."""

    first_period: str
    last_period: str
    complete: Complete
    held_in_dead_letters: HeldField = None
    target_working_days: int = 10
    items: list[AoMonthlyTimeliness]


class PlrTimelinessReport(BaseModel):
    first_period: str
    last_period: str
    complete: Complete
    held_in_dead_letters: HeldField = None
    target_working_days: int = TARGET_WORKING_DAYS
    items: list[AoMonthlyPlrTimeliness]


class RejectionsReport(BaseModel):
    first_period: str
    last_period: str
    complete: Complete
    held_in_dead_letters: HeldField = None
    items: list[AoMonthlyRejections]


class ChallengesReport(BaseModel):
    first_period: str
    last_period: str
    complete: Complete
    held_in_dead_letters: HeldField = None
    items: list[AoMonthlyChallenges]


def this_month() -> str:
    """The calendar month now, in UK time (as every report's months are)."""
    return period_of(datetime.now(UTC))


def _months(first: str, last: str | None) -> tuple[str, str]:
    last = last or first
    first_year, first_month = map(int, first.split("-"))
    last_year, last_month = map(int, last.split("-"))
    months = (last_year - first_year) * 12 + last_month - first_month + 1
    if months < 1:
        raise ProblemError(422, "Unprocessable range", f"`to` ({last}) is before `from` ({first}).")
    if months > MAX_MONTHS:
        raise ProblemError(
            422,
            "Unprocessable range",
            f"The range from {first} to {last} is {months} months: a report covers at most {MAX_MONTHS}, `from` and"
            f" `to` included.",
        )
    return first, last


def _scope(principal: Principal, ao_id: str | None) -> str | None:
    """Which AO the caller reads (None: every AO): an operator any it names; an AO its own, and naming another is a
    403, as for its batches, rather than its own rows under a question about someone else's."""
    require_kind(principal, PrincipalKind.AO)
    if principal.is_operator:
        return ao_id
    if ao_id is not None and ao_id != principal.id:
        raise ProblemError(403, "Forbidden", "An awarding organisation sees only its own reports.")
    return principal.id


@dataclass(frozen=True)
class MonthRange:
    """The months a range report covers and the AO the caller may read (None: every AO)."""

    first: str
    last: str
    ao_id: str | None


def _month_range(
    request: Request,
    principal: Reader,
    first: FirstPeriod = None,
    last: LastPeriod = None,
    ao_id: AoFilter = None,
) -> MonthRange:
    _refuse_the_other_reports_months(request, taken_by_others=("period",), takes="`from` and `to`")
    first, last = _months(first or this_month(), last)
    return MonthRange(first, last, _scope(principal, ao_id))


def _refuse_the_other_reports_months(request: Request, *, taken_by_others: tuple[str, ...], takes: str) -> None:
    """A month parameter of the other kind of report is refused, not ignored: `rejections?period=2023-01` would answer
    this month, as if the filter had been applied (as `submissions?from=2023-01` did before it took a range)."""
    if named := [name for name in taken_by_others if name in request.query_params]:
        raise ProblemError(
            422,
            "Invalid request",
            f"This report does not take {' or '.join(f'`{name}`' for name in named)}: its months are {takes}.",
        )


RangeQuery = Annotated[MonthRange, Depends(_month_range)]


@dataclass(frozen=True)
class MonthOrRange:
    """The months of a report that takes one month (`period`) or a range (`from` and `to`): `period` None for a
    range, which is answered as the range reports are (`first_period`, `last_period`)."""

    period: str | None
    first: str
    last: str
    ao_id: str | None


def _month_or_range(
    request: Request, principal: Principal, period: str | None, first: str | None, last: str | None, ao_id: str | None
) -> MonthOrRange:
    """`period` (default: this month), or, when `from` or `to` is given, the range as the range reports read it:
    both at once are refused, not one of them ignored. (The route's own parameters, not a dependency's, so that they
    stay documented in the order they were, `from` and `to` after them.)"""
    ranged = [name for name in ("from", "to") if name in request.query_params]
    if ranged and "period" in request.query_params:
        raise ProblemError(
            422,
            "Invalid request",
            f"`period` and {' and '.join(f'`{name}`' for name in ranged)} given together: this report's months are"
            " one, `period`, or a range, `from` and `to`.",
        )
    if ranged:
        first, last = _months(first or this_month(), last)
        return MonthOrRange(None, first, last, _scope(principal, ao_id))
    period = period or this_month()
    return MonthOrRange(period, period, period, _scope(principal, ao_id))


def _joined(counts: Mapping[str, int]) -> str:
    return ";".join(f"{name}={n}" for name, n in counts.items())


def _columns(model: type[BaseModel], *, leaving_out: set[str], then: tuple[str, ...] = ()) -> list[str]:
    """A CSV report's columns: `model`'s fields in their order, less `leaving_out`, then `then`."""
    named = [name for name in model.model_fields if name not in leaving_out]
    return named + [name for name in then if name not in named]


def _csv(rows: list[dict[str, object]], filename: str, columns: list[str], *, figures: Figures) -> Response:
    """The rows under their header: the header too when there is no row, so that a reader finds its columns. Whether
    the figures are complete is said in headers of the answer, not in the file: a CSV keeps its columns."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return Response(
        buffer.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', **figures.headers()},
    )


def _store(request: Request) -> ReportingStore:
    store: ReportingStore = request.app.state.reporting
    return store


OUTCOMES_READ = (BATCH_OUTCOMES.name,)
"""What the submissions, timeliness and rejections are read from; the PLR timeliness from the PLR log too (read with
`REPORTING_READ_PLR_LOG`), the challenges from the challenge events alone."""
PLR_TIMELINESS_READ = (BATCH_OUTCOMES.name, PLR_EVENTS.name)
CHALLENGES_READ = (CHALLENGE_EVENTS.name,)


@dataclass(frozen=True)
class Figures:
    """What a report says of its figures: whether they are complete, and the messages of its topics held in
    reporting's dead letters (None: none)."""

    complete: bool
    held: HeldInDeadLetters | None

    def said(self) -> dict[str, Any]:
        """The answer's fields about its figures."""
        return {"complete": self.complete, "held_in_dead_letters": self.held}

    def headers(self) -> dict[str, str]:
        said = {FIGURES_HEADER: COMPLETE if self.complete else PARTIAL}
        if self.held is not None:
            said[HELD_HEADER] = str(self.held.count)
        return said


async def _figures(request: Request, response: Response, topics: tuple[str, ...]) -> Figures:
    """Whether the figures about to be read from `topics` are complete: not while the store reads the history again
    after a rebuild (decision 0161), nor while messages of `topics` are held in reporting's dead letters. Asked before
    the figures are read: a catch-up that ends in between has them said partial, never figures read during it said
    complete. Said in the JSON answer's headers too (a CSV's are its own Response's)."""
    store = _store(request)
    catching_up = bool(await store.catching_up())
    held = _held(await store.held_in_dead_letters(topics))
    figures = Figures(complete=not catching_up and held is None, held=held)
    response.headers.update(figures.headers())
    return figures


def _held(held: Held | None) -> HeldInDeadLetters | None:
    return None if held is None else HeldInDeadLetters(count=held.messages, since=held.since)


CSV_RESPONSES = {
    **problem_responses(401, 403, 422),
    200: {
        "content": {"text/csv": {}},
        "headers": {
            FIGURES_HEADER: {
                "description": f"`{PARTIAL}` while reporting's store reads the history again after a rebuild (decision"
                " 0161): the figures count only what it has read so far; also while reporting holds messages of the"
                f" report's topics in its dead letters (`{HELD_HEADER}`): the figures may be short of them;"
                f" `{COMPLETE}` otherwise",
                "schema": {"type": "string", "enum": [COMPLETE, PARTIAL]},
            },
            HELD_HEADER: {
                "description": "only while reporting holds messages of the report's topics in its dead letters (a"
                " message it could not apply and those of its key held behind it): how many. What they say is not"
                " counted until an operator retries or skips them",
                "schema": {"type": "integer", "minimum": 1},
            },
        },
    },
}


MONTH_OR_RANGE_SAID = (
    "One month (`period`), or a range of months (`from` and `to`, as the range reports take them: at most"
    f" {MAX_MONTHS}, `to` defaulting to `from`), not both: a range is answered as the range reports are,"
    " `first_period` and `last_period` with an item per AO and month, in one read of the months."
)


@router.get(
    "/submissions",
    summary="Batches and records submitted per AO in a month, or in each month of a range",
    description=(
        "Per AO and month of decision (UK time). `records_not_added`: the records of failed batches that passed"
        " their checks, which a failed batch does not add; with the accepted, rejected and unchanged records they"
        f" make `records_total`. CSV: one row per AO (and month), `records_not_added` last. {MONTH_OR_RANGE_SAID}"
        f" {PARTIAL_SAID}"
    ),
    responses=CSV_RESPONSES,
    response_model=SubmissionsReport | SubmissionsRangeReport,
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def submissions(
    principal: Reader,
    request: Request,
    response: Response,
    period: Period = None,
    ao_id: AoFilter = None,
    format: Format = "json",
    first: FirstPeriod = None,
    last: LastPeriod = None,
) -> SubmissionsReport | SubmissionsRangeReport | Response:
    months = _month_or_range(request, principal, period, first, last, ao_id)
    figures = await _figures(request, response, OUTCOMES_READ)
    rows = [SubmissionsItem(**pair[0].model_dump()) for pair in await _aggregates(request, months)]
    if format == "csv":
        flat = []
        for row in rows:
            fields = row.model_dump(exclude={"event_type", "rejections_by_code"})
            fields["rejections_by_code"] = _joined(row.rejections_by_code)
            flat.append(fields)
        # records_not_added after the columns there were before it, so that a reader of columns by place reads on
        columns = _columns(
            AoMonthlySubmissions,
            leaving_out={"event_type", "rejections_by_code"},
            then=("rejections_by_code", "records_not_added"),
        )
        return _csv(flat, f"lrs-submissions-{_named(months)}.csv", columns, figures=figures)
    if months.period is None:
        return SubmissionsRangeReport(first_period=months.first, last_period=months.last, **figures.said(), items=rows)
    return SubmissionsReport(period=months.period, **figures.said(), items=rows)


@router.get(
    "/timeliness",
    summary="Batches decided within 10 working days of results being issued (on the PLR: `/plr-timeliness`)",
    description=(
        "Per AO and month of decision (UK time). Working days exclude weekends and England-and-Wales bank holidays."
        f" {MONTH_OR_RANGE_SAID} {PARTIAL_SAID}"
    ),
    responses=CSV_RESPONSES,
    response_model=TimelinessReport | TimelinessRangeReport,
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def timeliness(
    principal: Reader,
    request: Request,
    response: Response,
    period: Period = None,
    ao_id: AoFilter = None,
    format: Format = "json",
    first: FirstPeriod = None,
    last: LastPeriod = None,
) -> TimelinessReport | TimelinessRangeReport | Response:
    months = _month_or_range(request, principal, period, first, last, ao_id)
    figures = await _figures(request, response, OUTCOMES_READ)
    rows = [pair[1] for pair in await _aggregates(request, months)]
    if format == "csv":
        flat = [row.model_dump(exclude={"event_type"}) for row in rows]
        columns = _columns(AoMonthlyTimeliness, leaving_out={"event_type"})
        return _csv(flat, f"lrs-timeliness-{_named(months)}.csv", columns, figures=figures)
    if months.period is None:
        return TimelinessRangeReport(first_period=months.first, last_period=months.last, **figures.said(), items=rows)
    return TimelinessReport(period=months.period, **figures.said(), items=rows)


async def _aggregates(request: Request, months: MonthOrRange) -> list[tuple[AoMonthlySubmissions, AoMonthlyTimeliness]]:
    """The months' submissions and timeliness per AO and month: one month read as it always was, a range in one read
    of the whole range (not a read per month)."""
    if months.period is not None:
        return await _store(request).aggregates(months.period, months.ao_id)
    return await _store(request).aggregates(months.first, months.ao_id, last=months.last)


def _named(months: MonthOrRange) -> str:
    """The months in a CSV's file name: the month, as ever, or the range as the range reports name theirs."""
    return months.period or f"{months.first}-{months.last}"


@router.get(
    "/plr-timeliness",
    summary="Results on learners' PLRs within 10 working days of being issued, per qualification type",
    description=(
        "Per AO and month of decision (UK time): working days (weekends and England-and-Wales bank holidays "
        "excluded) from the batch's results issued date to the day its results were on the PLR: the broker time "
        "of its `lrs.batch.completed.v1`, written in the same Kafka transaction as its events on "
        "`lrs.plr.events.v1` (decision 0107), plus `projection_lag_bound_seconds` (decision 0035). Each "
        "batch counts once overall and once per qualification type it carried. CSV: one row per AO, month and "
        f"qualification type, `all` first. {PARTIAL_SAID}"
    ),
    responses=CSV_RESPONSES,
    response_model=PlrTimelinessReport,
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def plr_timeliness(
    request: Request, response: Response, months: RangeQuery, format: Format = "json"
) -> PlrTimelinessReport | Response:
    lag_bound = request.app.state.projection_lag_bound
    figures = await _figures(request, response, PLR_TIMELINESS_READ)
    rows = await _store(request).plr_timeliness(months.first, months.last, months.ao_id, lag_bound)
    if format == "csv":
        flat: list[dict[str, object]] = []
        for row in rows:
            fields = row.model_dump(exclude={"event_type", "by_qualification_type"})
            flat.append({**fields, "qualification_type": "all"})
            flat += [{**fields, **part.model_dump()} for part in row.by_qualification_type]
        columns = _columns(
            AoMonthlyPlrTimeliness,
            leaving_out={"event_type", "by_qualification_type"},
            then=tuple(QualificationTypeTimeliness.model_fields),
        )
        return _csv(flat, f"lrs-plr-timeliness-{months.first}-{months.last}.csv", columns, figures=figures)
    return PlrTimelinessReport(first_period=months.first, last_period=months.last, **figures.said(), items=rows)


@router.get(
    "/rejections",
    summary="Rejections by code per month",
    description=(
        "Per AO and month of decision (UK time), each code with the batches and records it concerns: RVnnn counts "
        "rejected records carrying it, RSnnn counts the batches it failed and their records. CSV: one row per "
        f"AO, month and code. {PARTIAL_SAID}"
    ),
    responses=CSV_RESPONSES,
    response_model=RejectionsReport,
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def rejections(
    request: Request, response: Response, months: RangeQuery, format: Format = "json"
) -> RejectionsReport | Response:
    figures = await _figures(request, response, OUTCOMES_READ)
    rows = await _store(request).rejections(months.first, months.last, months.ao_id)
    if format == "csv":
        flat = [{"ao_id": row.ao_id, "period": row.period, **code.model_dump()} for row in rows for code in row.by_code]
        columns = ["ao_id", "period", *CodeRejections.model_fields]
        return _csv(flat, f"lrs-rejections-{months.first}-{months.last}.csv", columns, figures=figures)
    return RejectionsReport(first_period=months.first, last_period=months.last, **figures.said(), items=rows)


@router.get(
    "/challenges",
    summary="Challenges raised per month, how they were resolved and how long it took",
    description=(
        "Per AO and month the challenges were raised in (UK time); working days from raised to resolved exclude "
        f"weekends and England-and-Wales bank holidays. {PARTIAL_SAID}"
    ),
    responses=CSV_RESPONSES,
    response_model=ChallengesReport,
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def challenges(
    request: Request, response: Response, months: RangeQuery, format: Format = "json"
) -> ChallengesReport | Response:
    figures = await _figures(request, response, CHALLENGES_READ)
    rows = await _store(request).challenges(months.first, months.last, months.ao_id)
    if format == "csv":
        flat = []
        for row in rows:
            fields = row.model_dump(exclude={"event_type", "resolutions"})
            fields["resolutions"] = _joined(row.resolutions)
            flat.append(fields)
        columns = _columns(AoMonthlyChallenges, leaving_out={"event_type", "resolutions"}, then=("resolutions",))
        return _csv(flat, f"lrs-challenges-{months.first}-{months.last}.csv", columns, figures=figures)
    return ChallengesReport(first_period=months.first, last_period=months.last, **figures.said(), items=rows)
