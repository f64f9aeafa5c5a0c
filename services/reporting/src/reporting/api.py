"""MI API: an AO reads its own monthly aggregates; operators read everyone's. JSON or CSV."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from lrs_contracts.reporting import AoMonthlySubmissions, AoMonthlyTimeliness
from lrs_platform.identity import CurrentPrincipal, Principal, PrincipalKind, require_kind
from lrs_platform.problems import problem_responses
from reporting.store import ReportingStore

PERIOD_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
AO_ID_PATTERN = r"^RN[0-9]{1,8}$"

router = APIRouter(prefix="/v1/reports", tags=["MI reports"])

Period = Annotated[str, Query(pattern=PERIOD_PATTERN, description="a calendar month, yyyy-mm (UK time)")]
AoFilter = Annotated[str | None, Query(pattern=AO_ID_PATTERN, description="operators: one AO only")]
Format = Annotated[Literal["json", "csv"], Query(description="csv downloads the same rows as a file")]


class SubmissionsReport(BaseModel):
    period: str
    items: list[AoMonthlySubmissions]


class TimelinessReport(BaseModel):
    period: str
    target_working_days: int = 10
    items: list[AoMonthlyTimeliness]


def _scope(principal: Principal, ao_id: str | None) -> str | None:
    """Which AO the caller may read: its own if an AO (whatever it asked for), any for an operator."""
    require_kind(principal, PrincipalKind.AO)
    if principal.kind is PrincipalKind.AO:
        return principal.id
    return ao_id


def _csv(rows: list[dict[str, object]], filename: str) -> Response:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return Response(
        buffer.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _store(request: Request) -> ReportingStore:
    store: ReportingStore = request.app.state.reporting
    return store


@router.get(
    "/submissions",
    summary="Batches and records submitted per AO in a month",
    responses={**problem_responses(401, 403, 422), 200: {"content": {"text/csv": {}}}},
    response_model=SubmissionsReport,
)
async def submissions(
    principal: CurrentPrincipal, request: Request, period: Period, ao_id: AoFilter = None, format: Format = "json"
) -> SubmissionsReport | Response:
    rows = [pair[0] for pair in await _store(request).aggregates(period, _scope(principal, ao_id))]
    if format == "csv":
        flat = []
        for row in rows:
            fields = row.model_dump(exclude={"event_type", "rejections_by_code"})
            fields["rejections_by_code"] = ";".join(f"{code}={n}" for code, n in row.rejections_by_code.items())
            flat.append(fields)
        return _csv(flat, f"lrs-submissions-{period}.csv")
    return SubmissionsReport(period=period, items=rows)


@router.get(
    "/timeliness",
    summary="Batches on the PLR within 10 working days of results being issued",
    description="Working days exclude weekends and England-and-Wales bank holidays.",
    responses={**problem_responses(401, 403, 422), 200: {"content": {"text/csv": {}}}},
    response_model=TimelinessReport,
)
async def timeliness(
    principal: CurrentPrincipal, request: Request, period: Period, ao_id: AoFilter = None, format: Format = "json"
) -> TimelinessReport | Response:
    rows = [pair[1] for pair in await _store(request).aggregates(period, _scope(principal, ao_id))]
    if format == "csv":
        return _csv([row.model_dump(exclude={"event_type"}) for row in rows], f"lrs-timeliness-{period}.csv")
    return TimelinessReport(period=period, items=rows)
