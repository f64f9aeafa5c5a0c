"""Operators' pages for any AO (the support duty): a batch looked up by its id and shown as its AO's users see it,
an AO's batches (or every AO's), and MI for one AO or all. The services' own operator routes answer them, as they
answer `lrs batch status|list --ao` and `lrs reports --ao`."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, NamedTuple
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from lrs_contracts.identifiers import AO_ID_PATTERN
from lrs_platform.identity import OperatorScope
from portal.auth import SignedIn
from portal.backend import KeyRejected, NotFound, ServiceCalls, ServiceError, Services
from portal.mi import CHARTS
from portal.web.ao_pages import CHART_REPORTS, MiMonths, chart_download, gather_mi
from portal.web.batch_pages import (
    BatchPageAsked,
    RecordsShown,
    batch_context,
    batch_status_answer,
    line_asked,
    record_context,
    records_download,
)
from portal.web.common import (
    UK,
    PageError,
    SupportOperator,
    SupportOperatorFollowing,
    calls,
    portal_of,
    render,
    see_other,
)
from portal.web.key_names import key_named

router = APIRouter(include_in_schema=False)

AO_ID = re.compile(AO_ID_PATTERN)
BATCHES_PAGE = 25
# A median of several AOs' medians is no median: the chart of days to resolve a challenge is one AO's only.
ONE_AO_ONLY = frozenset({"challenge-days"})
NO_SUCH_BATCH = "There is no batch {0}: check the id the AO gave you"
# Added where the portal has a Sandpit: its batches are not listed here (report-sandpit finding 8: an AO phoning about a
# "[SANDPIT] …" email was told its right id was wrong). The portal holds no operator's Sandpit key to look for itself.
IN_THE_SANDPIT = (
    ". A Sandpit batch (its email's subject starts [SANDPIT]) is not listed here: look it up with"
    " lrs --sandpit batch status {0} and a Sandpit operator key"
)


def no_such_batch(request: Request, said: str, typed: str) -> str:
    """`said` (no batch has the id, or starts so), and where the portal has a Sandpit, where a Sandpit batch is found."""
    return said + (IN_THE_SANDPIT.format(typed) if portal_of(request).sandpit is not None else "")


def ao_asked(typed: str | None) -> tuple[str | None, str | None]:
    """The AO an operator typed, as the register writes it (`rn9093` is RN9093; empty: every AO), or what is wrong
    with it."""
    ao_id = (typed or "").strip().upper()
    if not ao_id:
        return None, None
    if not AO_ID.fullmatch(ao_id):
        return None, "Enter an AO recognition number, like RN9093, or leave it empty for every AO"
    return ao_id, None


# The statuses ingest's batch list is asked for (`GET /v1/batches?status=`), as the filter offers them: `queued` is
# not one (a batch maintenance holds is `accepted` until it is picked up, and listed as such).
LIST_STATUSES = ("received", "accepted", "validating", "completed", "failed", "abandoned", "refused")
STATUS_OPTIONS = {"accepted": "accepted (queued or waiting to be checked)", "validating": "validating (being checked)"}
# The start of a batch's id as the AO quotes it: the email's subject says "(batch 5a398464)" (ingest's `id_prefix`).
ID_PREFIX = re.compile(r"[0-9a-f][0-9a-f-]{7,35}")
BATCH_ID_ERROR = (
    "Enter the batch's id as the AO was given it, like 3f2b8c1e-4d5a-4b6c-9d7e-8f9a0b1c2d3e, or its first 8"
    " characters at least, like 3f2b8c1e (as its email's subject quotes it)"
)
DAY_TYPED = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[ T]([0-9]{1,2}):([0-9]{2}))?")


def batch_asked(typed: str) -> tuple[uuid.UUID | str | None, str | None]:
    """The batch id an operator typed or pasted, or the start of one (8 characters or more, lower case), or what is
    wrong with it."""
    text = typed.strip().lower()
    if not text:
        return None, "Enter the batch's id"
    try:
        return uuid.UUID(text), None
    except ValueError:
        pass
    if ID_PREFIX.fullmatch(text):
        return text, None
    return None, BATCH_ID_ERROR


def received_asked(typed: str | None, *, end: bool) -> tuple[datetime | None, str | None]:
    """The instant a "received from" (`end` False) or "received to" (`end` True) filter names, typed as a UK date and
    maybe a time ("2026-12-07" or "2026-12-07 10:00"): a day alone from its start, or to its end (the next day's
    start, which ingest's `received_to` leaves out); None for nothing typed, or what is wrong with it."""
    text = (typed or "").strip()
    if not text:
        return None, None
    what = "to" if end else "from"
    wrong = (
        f"Enter the “received {what}” date as year-month-day, like 2026-12-07, or with a UK time, like 2026-12-07 10:00"
    )
    found = DAY_TYPED.fullmatch(text)
    if found is None:
        return None, wrong
    year, month, day, hour, minute = found.groups()
    try:
        on = date(int(year), int(month), int(day))
        at = time(int(hour), int(minute)) if hour is not None else time(0, 0)
    except ValueError:  # 2026-02-30, 25:00
        return None, wrong
    if hour is None and end:
        on += timedelta(days=1)
    return datetime.combine(on, at, tzinfo=UK).astimezone(UTC), None


class ListAsked(NamedTuple):
    """What the operators' batch list is filtered by: as typed (`typed`, shown again in the form) and as ingest is
    asked (`params`), or what is wrong (`errors`, by field)."""

    typed: dict[str, str]
    params: dict[str, Any]
    errors: dict[str, str]


def list_asked(
    *, status: str | None = None, received_from: str | None = None, received_to: str | None = None
) -> ListAsked:
    typed = {"status": status or "", "received_from": received_from or "", "received_to": received_to or ""}
    params: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if status:
        if status in LIST_STATUSES:
            params["status"] = status
        else:
            errors["status"] = "Choose a status from the list"
    for name, end in (("received_from", False), ("received_to", True)):
        moment, error = received_asked(typed[name], end=end)
        if error:
            errors[name] = error
        elif moment is not None:
            params[name] = moment.isoformat()
    if "received_from" in params and "received_to" in params and params["received_from"] >= params["received_to"]:
        errors["received_to"] = "The “received up to” date and time must be after the “received from” one"
    return ListAsked(typed, params, errors)


async def _batches_page(
    request: Request,
    user: SignedIn,
    *,
    ao_typed: str = "",
    batch_typed: str = "",
    page: int = 1,
    errors: dict[str, str] | None = None,
    status: int = 400,
    asked: ListAsked | None = None,
    id_prefix: str | None = None,
) -> HTMLResponse:
    """`status`: the page's, when `errors` or the AO typed are wrong; `asked`: the list's filters; `id_prefix`: the
    batches whose ids start so are listed (several matched what was typed)."""
    errors = dict(errors or {})
    asked = asked or list_asked()
    errors |= asked.errors
    ao_id, ao_error = ao_asked(ao_typed)
    listing: dict[str, Any] | None = None
    if ao_error:
        errors["ao"] = ao_error
    elif not asked.errors:
        params = {"ao_id": ao_id, **asked.params, **({"id_prefix": id_prefix} if id_prefix else {})}
        answer = await calls(request, user).batches(page=page, page_size=BATCHES_PAGE, **params)
        listing = {
            "batches": answer["items"],
            "total": answer["total"],
            "last_page": max(1, -(-answer["total"] // answer["page_size"])),
        }
    # what the list's pages carry, besides `page`
    carried = {"ao": ao_id, **{name: value for name, value in asked.typed.items() if value}}
    context = {
        "ao": ao_id or ao_typed.strip(),
        "ao_id": ao_id,
        "batch_typed": batch_typed,
        "listing": listing,
        "page": page,
        "errors": errors,
        "filters": asked.typed,
        "filtered": bool(asked.params),
        "status_options": [(name, STATUS_OPTIONS.get(name, name)) for name in LIST_STATUSES],
        "id_prefix": id_prefix,
        "list_query": "".join(f"{name}={quote(value, safe='')}&" for name, value in carried.items() if value),
    }
    return render(request, "ops_batches.html", context, user=user, status_code=status if errors else 200)


@router.get("/ops/batches")
async def batches(
    request: Request,
    user: SupportOperator,
    batch: Annotated[str | None, Query(max_length=200)] = None,
    ao: Annotated[str | None, Query(max_length=50)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    status: Annotated[str | None, Query(max_length=20)] = None,
    received_from: Annotated[str | None, Query(max_length=40)] = None,
    received_to: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """Find a batch by its id or the start of it (`batch`: then its page, or the batches it may be), and below, `ao`'s
    batches (empty: every AO's), newest first, of one `status` and received between two UK times if asked."""
    asked = list_asked(status=status, received_from=received_from, received_to=received_to)
    if batch is not None:
        batch_id, batch_error = batch_asked(batch)
        if isinstance(batch_id, uuid.UUID):
            return see_other(f"/ops/batches/{batch_id}")
        if batch_id is not None:  # the start of an id: its batch, when one batch's id starts so
            found = await calls(request, user).batches(page=1, page_size=BATCHES_PAGE, id_prefix=batch_id)
            if found["total"] == 1:
                return see_other(f"/ops/batches/{found['items'][0]['batch_id']}")
            if found["total"] == 0:
                said = f"No batch's id starts {batch_id}: check the id the AO gave you"
                errors = {"batch": no_such_batch(request, said, batch_id)}
                return await _batches_page(request, user, batch_typed=batch, errors=errors, status=404)
            return await _batches_page(request, user, batch_typed=batch, id_prefix=batch_id)
        errors = {"batch": batch_error or ""}
        return await _batches_page(request, user, ao_typed=ao or "", batch_typed=batch, errors=errors, asked=asked)
    return await _batches_page(request, user, ao_typed=ao or "", page=page, asked=asked)


def _operator_view(batch_id: uuid.UUID) -> dict[str, Any]:
    return {"operator_view": True, "batch_path": f"/ops/batches/{batch_id}"}


# How long the batch page waits for the notifier's answer on the batch's email: the page is drawn without it after.
EMAIL_WAIT_SECONDS = 5.0


async def key_that_sent(request: Request, batch: dict[str, Any]) -> dict[str, Any] | None:
    """The key the batch was sent with (ingest's `submitted_with_key`), as `key_named` says it."""
    return await key_named(request, batch.get("submitted_with_key"), batch.get("submitted_by"))


async def notifier_waiting(services: Services) -> str | None:
    """What the notifier's `/readyz` says of its emails (`emails`) while its consumer retries an earlier one: "the
    notifier is waiting for the mail relay (SMTPConnectError, for 28 s): emails queue behind it and go once it
    answers"; None while it does not (plain "ok"), or when it did not say."""
    answer = (await services.ready("notifier")).get("notifier") or {}
    said = str((answer.get("checks") or {}).get("emails", "ok"))
    return said.removeprefix("ok: ") if said.startswith("ok: ") else None


async def batch_email(
    service: ServiceCalls, batch_id: uuid.UUID, *, waiting_from: Services | None = None
) -> dict[str, Any]:
    """The batch's email as the notifier keeps it (`GET /v1/deliveries?batch=`): `deliveries`, the first handled
    first (none: no email yet), or `unavailable` when the notifier could not be asked: the page is drawn either way.
    `waiting_from` (a decided batch's page): with no email yet, `notifier_waiting`, the email it waits behind (the
    relay away: "not handled yet" left the desk without the why, the incident walk's finding 1)."""
    try:
        found = await service.deliveries(batch=batch_id, timeout=EMAIL_WAIT_SECONDS)
    except KeyRejected:
        raise  # the person's key was revoked: signed out, not shown the page
    except ServiceError:
        return {"deliveries": [], "unavailable": True}
    waiting = await notifier_waiting(waiting_from) if waiting_from is not None and not found else None
    return {"deliveries": list(found), "unavailable": False, "notifier_waiting": waiting}


@router.get("/ops/batches/{batch_id}")
async def batch_page(request: Request, batch_id: uuid.UUID, user: SupportOperator, asked: BatchPageAsked) -> Response:
    """The batch as its AO's users see it: status, counts, outcome, and its records with their codes; and for the
    service desk, the key that sent it, its email, and whether its outcome waits in ingest's dead letters."""
    line, _ = line_asked(asked.line)
    if line is not None:  # "Go to a record"
        return see_other(f"/ops/batches/{batch_id}/records/{line}")
    page_size = portal_of(request).settings.records_page_size
    service = calls(request, user)
    try:
        context = await batch_context(service, batch_id, asked, page_size=page_size, operator=True)
    except NotFound:
        errors = {"batch": no_such_batch(request, NO_SUCH_BATCH.format(batch_id), str(batch_id))}
        return await _batches_page(request, user, batch_typed=str(batch_id), errors=errors, status=404)
    desk = {
        "sent_before": None,
        "sent_with": await key_that_sent(request, context["batch"]),
        "batch_email": await batch_email(
            service, batch_id, waiting_from=portal_of(request).services if context["decided"] else None
        ),
        "reads_dead_letters": user.account.has_duty(OperatorScope.DEAD_LETTERS),
    }
    status = 400 if context["line_error"] else 200
    return render(request, "batch.html", context | _operator_view(batch_id) | desk, user=user, status_code=status)


@router.get("/ops/batches/{batch_id}/status.json")
async def batch_status(request: Request, batch_id: uuid.UUID, user: SupportOperatorFollowing) -> JSONResponse:
    """What the batch page's script follows: it keeps no session (the AO's batch page's, `batch_pages`)."""
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
    data = await gather_mi(calls(request, user), asked.months, asked.ao_id, reports=CHART_REPORTS[chart])
    return chart_download(chart, data, of=asked.ao_id or "every-ao")
