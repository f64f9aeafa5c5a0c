"""Operators' pages for any AO (the support duty): a batch looked up by its id and shown as its AO's users see it,
an AO's batches (or every AO's), and MI for one AO or all. The services' own operator routes answer them, as they
answer `lrs batch status|list --ao` and `lrs reports --ao`."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, NamedTuple

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from lrs_contracts.identifiers import AO_ID_PATTERN
from portal.auth import SignedIn
from portal.backend import NotFound
from portal.mi import CHARTS
from portal.web.ao_pages import MiMonths, chart_download, gather_mi
from portal.web.batch_pages import (
    BatchPageAsked,
    RecordsShown,
    batch_context,
    batch_status_answer,
    record_context,
    records_download,
)
from portal.web.common import PageError, SupportOperator, calls, portal_of, render, see_other

router = APIRouter(include_in_schema=False)

AO_ID = re.compile(AO_ID_PATTERN)
BATCHES_PAGE = 25
# A median of several AOs' medians is no median: the chart of days to resolve a challenge is one AO's only.
ONE_AO_ONLY = frozenset({"challenge-days"})
NO_SUCH_BATCH = "There is no batch {0}: check the id the AO gave you"


def ao_asked(typed: str | None) -> tuple[str | None, str | None]:
    """The AO an operator typed, as the register writes it (`rn9093` is RN9093; empty: every AO), or what is wrong
    with it."""
    ao_id = (typed or "").strip().upper()
    if not ao_id:
        return None, None
    if not AO_ID.fullmatch(ao_id):
        return None, "Enter an AO's id as the register writes it, like RN9093, or leave it empty for every AO"
    return ao_id, None


def batch_asked(typed: str) -> tuple[uuid.UUID | None, str | None]:
    """The batch id an operator typed or pasted, or what is wrong with it."""
    if not typed.strip():
        return None, "Enter the batch's id"
    try:
        return uuid.UUID(typed.strip()), None
    except ValueError:
        return None, "Enter the batch's id as the AO was given it, like 3f2b8c1e-4d5a-4b6c-9d7e-8f9a0b1c2d3e"


async def _batches_page(
    request: Request,
    user: SignedIn,
    *,
    ao_typed: str = "",
    batch_typed: str = "",
    page: int = 1,
    errors: dict[str, str] | None = None,
    status: int = 400,
) -> HTMLResponse:
    """`status`: the page's, when `errors` or the AO typed are wrong."""
    errors = dict(errors or {})
    ao_id, ao_error = ao_asked(ao_typed)
    listing: dict[str, Any] | None = None
    if ao_error:
        errors["ao"] = ao_error
    else:
        answer = await calls(request, user).batches(page=page, page_size=BATCHES_PAGE, ao_id=ao_id)
        listing = {"batches": answer["items"], "last_page": max(1, -(-answer["total"] // answer["page_size"]))}
    context = {
        "ao": ao_id or ao_typed.strip(),
        "ao_id": ao_id,
        "batch_typed": batch_typed,
        "listing": listing,
        "page": page,
        "errors": errors,
    }
    return render(request, "ops_batches.html", context, user=user, status_code=status if errors else 200)


@router.get("/ops/batches")
async def batches(
    request: Request,
    user: SupportOperator,
    batch: Annotated[str | None, Query(max_length=200)] = None,
    ao: Annotated[str | None, Query(max_length=50)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """Find a batch by its id (`batch`: then its page), and below, `ao`'s batches (empty: every AO's), newest first."""
    if batch is not None:
        batch_id, batch_error = batch_asked(batch)
        if batch_id is not None:
            return see_other(f"/ops/batches/{batch_id}")
        errors = {"batch": batch_error or ""}
        return await _batches_page(request, user, ao_typed=ao or "", batch_typed=batch, errors=errors)
    return await _batches_page(request, user, ao_typed=ao or "", page=page)


def _operator_view(batch_id: uuid.UUID) -> dict[str, Any]:
    return {"operator_view": True, "batch_path": f"/ops/batches/{batch_id}"}


@router.get("/ops/batches/{batch_id}")
async def batch_page(
    request: Request, batch_id: uuid.UUID, user: SupportOperator, asked: BatchPageAsked
) -> HTMLResponse:
    """The batch as its AO's users see it: status, counts, outcome, and its records with their codes."""
    page_size = portal_of(request).settings.records_page_size
    try:
        context = await batch_context(calls(request, user), batch_id, asked, page_size=page_size, operator=True)
    except NotFound:
        errors = {"batch": NO_SUCH_BATCH.format(batch_id)}
        return await _batches_page(request, user, batch_typed=str(batch_id), errors=errors, status=404)
    return render(request, "batch.html", context | _operator_view(batch_id) | {"sent_before": None}, user=user)


@router.get("/ops/batches/{batch_id}/status.json")
async def batch_status(request: Request, batch_id: uuid.UUID, user: SupportOperator) -> JSONResponse:
    return await batch_status_answer(calls(request, user), batch_id)


@router.get("/ops/batches/{batch_id}/records/{line}")
async def record_page(
    request: Request, batch_id: uuid.UUID, line: int, user: SupportOperator, shown: RecordsShown
) -> HTMLResponse:
    context = await record_context(calls(request, user), batch_id, line, shown)
    return render(request, "record.html", context | _operator_view(batch_id), user=user)


@router.get("/ops/batches/{batch_id}/records.csv")
async def records_csv(request: Request, batch_id: uuid.UUID, user: SupportOperator) -> Response:
    return await records_download(calls(request, user), batch_id)


def charts_for(ao_id: str | None) -> list[str]:
    """The charts of one AO's MI, or of every AO's (those that add up across AOs)."""
    return [name for name in CHARTS if ao_id is not None or name not in ONE_AO_ONLY]


class MiAsked(NamedTuple):
    """The MI an operator asked for: the AO as typed, its id as the register writes it (None: every AO) or what is
    wrong with what was typed, and how many months."""

    ao_typed: str
    ao_id: str | None
    ao_error: str | None
    months: int


def _mi_asked(months: MiMonths, ao: Annotated[str | None, Query(max_length=50)] = None) -> MiAsked:
    ao_id, ao_error = ao_asked(ao)
    return MiAsked((ao or "").strip(), ao_id, ao_error, months)


OperatorMiAsked = Annotated[MiAsked, Depends(_mi_asked)]


@router.get("/ops/mi")
async def mi_page(request: Request, user: SupportOperator, asked: OperatorMiAsked) -> HTMLResponse:
    """One AO's MI (`ao`), or every AO's together, as the AO's own MI page draws it."""
    context: dict[str, Any] = {"operator_view": True, "months": asked.months, "ao": asked.ao_id or asked.ao_typed}
    if asked.ao_error:
        context |= {"charts": [], "errors": {"ao": asked.ao_error}, "mi_for": None}
        return render(request, "mi.html", context, user=user, status_code=400)
    data = await gather_mi(calls(request, user), asked.months, asked.ao_id)
    charts = [(name, CHARTS[name](data)) for name in charts_for(asked.ao_id)]
    context |= {"charts": charts, "errors": {}, "mi_for": asked.ao_id, "left_out": asked.ao_id is None, "data": data}
    return render(request, "mi.html", context, user=user)


@router.get("/ops/mi/{chart}.csv")
async def mi_csv(request: Request, chart: str, user: SupportOperator, asked: OperatorMiAsked) -> Response:
    if asked.ao_error or chart not in charts_for(asked.ao_id):
        raise PageError("not_found")
    data = await gather_mi(calls(request, user), asked.months, asked.ao_id)
    return chart_download(chart, data, of=asked.ao_id or "every-ao")
