"""AO users' batches: check then submit an upload, follow a batch, read its records, download them."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import datetime
from typing import Annotated, Any, NamedTuple
from urllib.parse import urlencode

import anyio
import httpx
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.datastructures import UploadFile
from starlette.types import Receive, Scope, Send

from lrs_contracts.codes import MAX_BATCH_BYTES, REJECTION_THRESHOLD, ProblemCode
from lrs_contracts.environments import Environment
from lrs_domain.rules import rejected_share_shown
from lrs_platform.clock import today_in_england
from lrs_platform.logging import get_logger
from portal.backend import LAST_RECORD_LINE, Busy, Download, Refused, ServiceCalls, ServiceError, Unavailable
from portal.checking import FILENAME_TOO_LONG, MEDIA_TYPES, UploadCheck, check_upload, filename_fault
from portal.direct_entry import is_direct_entry
from portal.web.common import (
    AoUser,
    AoUserFollowing,
    BodyTooLarge,
    FieldTooLarge,
    PageError,
    PartHeadersTooLong,
    base,
    calls,
    checked_form,
    field,
    in_sandpit,
    notice_for,
    portal_of,
    render,
    see_other,
    see_other_telling,
)
from portal.web.key_names import own_key

_log = get_logger("portal.web")

router = APIRouter(include_in_schema=False)

DECIDED = frozenset({"completed", "failed", "abandoned", "refused"})
RECORD_STATUSES = ("accepted", "rejected", "no_op")
CODE = re.compile(r"^(RV|WV)[0-9]{3}$")
LAST_RECORDS_PAGE = 10_000  # the batch page's last page of records (of 10,000 records, one a page at the fewest)
PAGE_NUMBER = re.compile(r"[1-9][0-9]{0,4}")
# The most of a check's body read: the file, and room for the form's other fields and the multipart framing.
LARGEST_UPLOAD = MAX_BATCH_BYTES + 64 * 1024
# How long the batch page waits for the projector to confirm a completed batch is on learners' records: it usually
# is within a second or two of the decision; past this the page says it is being added, with a way to look again.
PROJECTION_WAIT_MS = 2_000
# What ingest answers for an empty file (RS001: the body is empty), said of the file chosen.
EMPTY_FILE = "The selected file is empty (RS001): a batch file starts with its header"
TOO_LARGE = "The file is larger than 6 MB (RS002): split it into smaller batches"
# Files checked at once by one portal process ("Check file", live and Sandpit): each check parses and checks up to
# 10,000 records, a second or so of CPU, in a thread so that every other page goes on meanwhile; more wait their turn.
CHECKS_AT_ONCE = 2


def _checks_at_once(request: Request) -> asyncio.Semaphore:
    """The app's turns at checking a file (`CHECKS_AT_ONCE`), made with the app's first check."""
    state = request.app.state
    turns: asyncio.Semaphore | None = getattr(state, "checks_at_once", None)
    if turns is None:
        turns = state.checks_at_once = asyncio.Semaphore(CHECKS_AT_ONCE)
    return turns


def _environment(request: Request) -> Environment:
    """The environment a page's upload is checked and submitted in (its address says which): a file checked in one is
    never submitted in the other, even by a form made by hand."""
    return Environment.SANDPIT if in_sandpit(request) else Environment.LIVE


async def _checked(request: Request, upload: UploadFile, content: bytes) -> UploadCheck:
    """The offline checks of an upload, run in a thread in its turn: never on the event loop, which would hold every
    other page of the portal (its style sheet included) until they end."""
    assert upload.filename is not None
    catalogue = portal_of(request).catalogue
    async with _checks_at_once(request):
        # The parser counted the whole part as it spooled it (`size`): the real size of a file over the limit.
        return await asyncio.to_thread(
            check_upload, upload.filename, content, upload.content_type, catalogue, today_in_england(), upload.size
        )


@router.get("/batches")
async def batch_list(request: Request, user: AoUser, page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> HTMLResponse:
    answer = await calls(request, user).batches(page=page, page_size=25)
    last_page = max(1, -(-answer["total"] // answer["page_size"]))
    return render(
        request, "batches.html", {"batches": answer["items"], "page": page, "last_page": last_page}, user=user
    )


@router.get("/batches/new")
async def upload_form(request: Request, user: AoUser) -> HTMLResponse:
    return render(request, "upload.html", {"errors": {}}, user=user)


@router.get("/batches/check")
async def check_again(request: Request, user: AoUser) -> Response:
    """The check page's address asked by GET (Back to it, or a reload): its file is not kept unless submittable, and
    then sealed under a key only that page held, so the check cannot be drawn again: the form to check a file."""
    return see_other(f"{base(request)}/batches/new")


@router.get("/batches/submit")
async def submit_again(request: Request, user: AoUser) -> Response:
    """The submit's address asked by GET (where signing in leads back to after a session ended at Submit): the upload
    is chosen and checked again, on the form to check a file; not a batch "submit", which is no batch."""
    return see_other(f"{base(request)}/batches/new")


@router.post("/batches/check")
async def check(request: Request, user: AoUser) -> HTMLResponse:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > LARGEST_UPLOAD:
        return render(request, "upload.html", {"errors": {"batch_file": TOO_LARGE}}, user=user, status_code=413)
    try:
        # the route's body is bounded here, not by the app's body limit (decision 0134): RS002, in the AO's terms
        form = await checked_form(request, user, max_body=LARGEST_UPLOAD)
    except BodyTooLarge:  # sent without a Content-Length (chunked): refused at the limit, not spooled to the end
        return render(request, "upload.html", {"errors": {"batch_file": TOO_LARGE}}, user=user, status_code=413)
    except PartHeadersTooLong:
        return render(request, "upload.html", {"errors": {"batch_file": FILENAME_TOO_LONG}}, user=user, status_code=400)
    except FieldTooLarge as too_large:
        if too_large.name != "batch_file":
            raise
        # the file sent as a text field, not as a file (a script's `curl -F 'batch_file=<file'`): read no further
        sent_as_text = (
            f"The file was sent as text rather than as a file, and is larger than {too_large.limit // 1_048_576} MB"
            " as text: send it as a file (at most 6 MB, RS002)"
        )
        return render(request, "upload.html", {"errors": {"batch_file": sent_as_text}}, user=user, status_code=413)
    upload = form.get("batch_file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return render(
            request, "upload.html", {"errors": {"batch_file": "Select a batch file"}}, user=user, status_code=400
        )
    if fault := filename_fault(upload.filename):
        return render(request, "upload.html", {"errors": {"batch_file": fault}}, user=user, status_code=400)
    content = await upload.read(MAX_BATCH_BYTES + 1)
    if not content:
        return render(request, "upload.html", {"errors": {"batch_file": EMPTY_FILE}}, user=user, status_code=400)
    portal = portal_of(request)
    result = await _checked(request, upload, content)
    wrong_ao = result.ao_id is not None and result.ao_id != user.account.ao_id
    kept = None
    if not result.would_fail and not wrong_ao:
        kept = await portal.uploads.keep(
            user.account.username, upload.filename, result.media_type, content, environment=_environment(request)
        )
    context = {"check": result, "upload": kept, "wrong_ao": wrong_ao, "threshold": REJECTION_THRESHOLD}
    return render(request, "check.html", context, user=user)


@router.post("/batches/submit")
async def submit(request: Request, user: AoUser) -> Response:
    form = await checked_form(request, user)
    try:
        upload_id = uuid.UUID(field(form, "upload_id"))
    except ValueError:
        raise PageError("not_found", "That upload is no longer here: upload the file again.") from None
    portal = portal_of(request)
    environment = _environment(request)
    upload = await portal.uploads.get(
        user.account.username, upload_id, field(form, "upload_key"), environment=environment
    )
    if upload is None:
        made = await portal.uploads.submitted_batch(user.account.username, upload_id, environment=environment)
        if made is not None:  # submitted already (Back, then Submit again): the batch it made
            return see_other(f"{base(request)}/batches/{made}")
        raise PageError("not_found", "That upload is no longer here: upload the file again.")
    # Only a type the portal gave it (one kept before the portal did may be the browser's own).
    content_type = upload.content_type or ""
    if content_type not in MEDIA_TYPES.values():
        content_type = "application/octet-stream"
    service = calls(request, user)
    # Without a key ingest recognises a file the AO sent before (and a second click on this one): no second
    # batch. "Send it again as a new batch" (`again`) asks for one on purpose, keyed by the upload.
    again = field(form, "again") == "yes"
    try:
        accepted = await service.submit_batch(
            upload.content,
            content_type,
            f"portal-{upload_id}" if again else None,
            timeout=portal.settings.submit_timeout_seconds,
        )
    except Unavailable as unavailable:
        # ingest's 503 naming the batch (Kafka did not take it): stored, not queued. Its page says so at once
        # (`not_queued`: ingest's own view says it only some seconds later), and to send the same file again, which
        # queues it as this batch; the upload is kept, so Back and Submit do that too
        if (not_queued := _batch_named(unavailable)) is None:
            raise
        _log.warning("batch_not_queued", batch_id=str(not_queued), detail=unavailable.detail[:200])
        return see_other(f"{base(request)}/batches/{not_queued}?not_queued=1")
    except Refused as refused:
        if refused.problem.get("code") == ProblemCode.TOO_MANY_RECORDS_WAITING:  # decision 0171: the same form again
            context = {
                "filename": upload.filename,
                "upload_id": str(upload_id),
                "upload_key": field(form, "upload_key"),
                "again": again,
                "records_waiting": int(refused.problem.get("records_waiting") or 0),
                "limit": int(refused.problem.get("limit") or 0),
                "batches_waiting": int(refused.problem.get("batches_waiting") or 0),
                "batch_limit": int(refused.problem.get("batch_limit") or 0),
                "retry_after": int(refused.problem.get("retry_after") or 30),
                "held": refused.problem.get("maintenance"),  # a window or pause holds the batches: until when
            }
            return render(request, "batch_busy.html", context, user=user, status_code=429)
        if isinstance(refused, Busy):  # any other 429 (too many uploads at once): the busy page, with Retry-After
            raise
        if (made := _batch_named(refused)) is not None:
            await portal.uploads.submitted(upload_id, made)
            return see_other(f"{base(request)}/batches/{made}")
        raise PageError("refused", refused.detail) from refused
    batch_page = f"{base(request)}/batches/{accepted['batch_id']}"
    queued_now = None
    if accepted["replayed"] and not again:
        earlier = await service.batch(uuid.UUID(accepted["batch_id"]))
        if datetime.fromisoformat(earlier["received_at"]) < upload.kept_at:  # not this upload's own batch
            # ingest sets `accepted_at` once, as Kafka takes the batch: after this upload was kept, this submit queued
            # it (a replay of a batch stored when the file was sent before, which Kafka did not take: its page said to
            # upload the same file again), so it is the batch the AO was told to make, followed as one just made
            queued = earlier.get("accepted_at")
            if queued is None or datetime.fromisoformat(queued) < upload.kept_at:
                sent = {
                    "upload_id": str(upload_id),
                    "upload_key": field(form, "upload_key"),
                    "filename": upload.filename,
                }
                return await see_other_telling(request, user, batch_page, sent_before=sent)
            queued_now = {"filename": upload.filename}
    await portal.uploads.submitted(upload_id, uuid.UUID(accepted["batch_id"]))
    # a batch maintenance holds is not decided in the next seconds: its page at once, saying so
    shown = batch_page if accepted.get("maintenance") else f"{batch_page}?wait=10"
    if queued_now is not None:
        return await see_other_telling(request, user, shown, queued_now=queued_now)
    return see_other(shown)


def _batch_named(error: ServiceError) -> uuid.UUID | None:
    """The batch ingest's problem names (`instance` /v1/batches/{id}): a refused file's, or one stored that Kafka did
    not take; None for a problem of the request itself (`instance` /v1/batches)."""
    instance = str(error.problem.get("instance") or "")
    if not instance.startswith("/v1/batches/"):
        return None
    try:
        return uuid.UUID(instance.removeprefix("/v1/batches/"))
    except ValueError:
        return None


def _record_filter(status: str | None) -> str | None:
    return status if status in RECORD_STATUSES else None


class BatchPageQuery(NamedTuple):
    """What the batch page is asked, whoever reads it: its records filtered by result (`status`) and `code`, which
    `page` of them, how many seconds to `wait` for the batch's decision, and `decided`: "1" when the page, following
    the batch, reloaded itself once it was decided (the outcome is then said in a banner that takes focus)."""

    status: str | None
    code: str | None
    page: int
    wait: float
    decided: str | None
    line: str | None = None  # "Go to a record": the line (or position) typed, as typed


def _batch_page_query(
    status: Annotated[str | None, Query(max_length=20)] = None,
    code: Annotated[str | None, Query(max_length=5)] = None,
    page: Annotated[int, Query(ge=1, le=LAST_RECORDS_PAGE)] = 1,
    wait: Annotated[float, Query(ge=0, le=25, allow_inf_nan=False)] = 0,
    decided: Annotated[str | None, Query()] = None,
    line: Annotated[str | None, Query(max_length=50)] = None,
) -> BatchPageQuery:
    return BatchPageQuery(status, code, page, wait, decided, line)


BatchPageAsked = Annotated[BatchPageQuery, Depends(_batch_page_query)]

# "Go to a record": a line (CSV) or a record's position (XML, JSON), as typed, thousands separators allowed
LINE_TYPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+")
LINE_ERROR = "Enter the record's line (CSV) or its number (XML, JSON) as digits, like 4515"


def line_asked(typed: str | None) -> tuple[int | None, str | None]:
    """The record's line the "Go to a record" box was given (None when it was not used), or what is wrong with it. A
    line past any batch is left for the record page to say it has no record there."""
    text = (typed or "").strip()
    if not text:
        return None, None if typed is None else LINE_ERROR
    if not LINE_TYPED.fullmatch(text) or not 1 <= int(text.replace(",", "")) <= LAST_RECORD_LINE:
        return None, LINE_ERROR
    return int(text.replace(",", "")), None


def records_shown(status: str | None, code: str | None, page: int | str | None) -> str:
    """The batch page's records as the person chose them (its result and code filters, and its page) as a query
    string, carried by its record links to a record's page and back by "Back to the batch"; "" for the first page of
    every record. Only what the batch page takes is carried (a known result, a code of the rules' pattern, a page
    from 2 to `LAST_RECORDS_PAGE`, in ASCII digits): anything else in a record page's address is left out, so that
    nothing typed into an address is written into the page."""
    carried: dict[str, str] = {}
    if status in RECORD_STATUSES:
        carried["status"] = status
    if code is not None and CODE.fullmatch(code):
        carried["code"] = code
    number = str(page) if page is not None else ""
    if PAGE_NUMBER.fullmatch(number) and 1 < int(number) <= LAST_RECORDS_PAGE:
        carried["page"] = number
    return urlencode(carried)


def _records_shown_query(
    status: Annotated[str | None, Query()] = None,
    code: Annotated[str | None, Query()] = None,
    page: Annotated[str | None, Query()] = None,
) -> str:
    """A record page's way back to its batch's page as it was (`records_shown`): what is not taken is left out rather
    than refused, as the record is shown all the same."""
    return records_shown(status, code, page)


RecordsShown = Annotated[str, Depends(_records_shown_query)]


async def on_learners_records(
    service: ServiceCalls, batch: dict[str, Any], *, operator: bool
) -> tuple[str | None, int]:
    """What the batch page may say of a completed batch's accepted records, and how many of its events the projector
    holds back: "yes" when the projector confirms they are on learners' records, "held" when it has the batch but
    holds some of its events in dead letters (a learner's stream behind a poison: those are not on the records until
    an operator resolves it), "pending" while it says they are not yet (all of them held keep them off for as long),
    "unknown" when it could not be asked; None when no record of the batch goes on one. The batch is `completed`
    once validation decided it: the projector applies it after that (decision 0012)."""
    if batch["status"] != "completed" or not (batch.get("counts") or {}).get("accepted"):
        return None, 0
    ao_id = batch.get("ao_id") if operator else None  # an operator's key reads the AO's view naming the AO
    answer = await service.batch_on_the_plr(uuid.UUID(str(batch["batch_id"])), wait_ms=PROJECTION_WAIT_MS, ao_id=ao_id)
    if answer is None:
        return "unknown", 0
    if not answer.projected:
        return "pending", 0
    return ("held", answer.held) if answer.held else ("yes", 0)


async def _read_from_every_record(
    service: ServiceCalls,
    batch_id: uuid.UUID,
    batch: dict[str, Any],
    status: str | None,
    code: str | None,
    shown: dict[str, Any],
    page: int,
    page_size: int,
) -> tuple[list[dict[str, Any]], int, list[str]]:
    """The page of the records of `status` and `code`, how many there are, and the codes of the batch's records, as
    they were read where ingest says no codes and takes no code (one from before them, while an upgrade rolls out):
    from every record holding codes, only the rejected ones when no record has a warning. `shown`: the page ingest
    answered for `status`, which is the page when no code is chosen."""
    coded = await service.all_batch_records(batch_id, None if batch["counts"].get("warnings") else "rejected")
    codes = sorted({finding["code"] for record in coded for finding in record["errors"] + record["warnings"]})
    if code is None:
        return shown["records"], shown["total"], codes
    chosen = [
        record
        for record in coded
        if (status is None or record["status"] == status)
        and any(f["code"] == code for f in record["errors"] + record["warnings"])
    ]
    return chosen[(page - 1) * page_size : page * page_size], len(chosen), codes


async def batch_context(
    service: ServiceCalls, batch_id: uuid.UUID, asked: BatchPageQuery, *, page_size: int, operator: bool = False
) -> dict[str, Any]:
    """What the batch page shows of a batch, whoever reads it (its AO's users, or an operator): its status, counts,
    outcome, whether its accepted records are on learners' records yet, and a page of its records filtered by result
    and code."""
    batch = await service.batch(batch_id, wait_until_decided=asked.wait or None)
    status = _record_filter(asked.status)
    code = asked.code if asked.code and CODE.match(asked.code) else None
    records: list[dict[str, Any]] = []
    total = 0
    codes: list[str] = []
    if batch["status"] in ("completed", "failed"):
        # One call: the page shown, of the result and code chosen (ingest finds a code's records), and the codes of
        # all the batch's records beside it (ingest keeps them with its chunks of records, migration 0121).
        plain = code is None or CODE.fullmatch(code)  # a code and a line break ("RV004%0A") is no finding's code
        shown = await service.batch_records(batch_id, asked.page, page_size, status, code if plain else None)
        if "codes" in shown:
            codes = shown["codes"]
            records, total = (shown["records"], shown["total"]) if plain else ([], 0)
        else:
            records, total, codes = await _read_from_every_record(
                service, batch_id, batch, status, code, shown, asked.page, page_size
            )
    on_records, records_held = await on_learners_records(service, batch, operator=operator)
    counts = batch.get("counts") or {}
    return {
        "batch": batch,
        "line_typed": asked.line or "",
        # said at the "Go to a record" box, which a batch with records has
        "line_error": line_asked(asked.line)[1] if batch["status"] in ("completed", "failed") else None,
        "on_records": on_records,
        "records_held": records_held,
        "decided": batch["status"] in DECIDED,
        "announce": asked.decided == "1" and batch["status"] in DECIDED,
        "direct_entry": is_direct_entry(batch),
        "records": records,
        "total": total,
        "codes": codes,
        "status_filter": status,
        "code_filter": code,
        "page": asked.page,
        "records_shown": records_shown(status, code, asked.page),  # carried by the record links, and back
        "last_page": max(1, -(-total // page_size)),
        "threshold": REJECTION_THRESHOLD,
        # never "30.0%" for a batch that failed RS005, nor more than 30.0% for one that passed
        "rejected_share": rejected_share_shown(counts.get("rejected") or 0, counts.get("total") or 0),
        "statuses": RECORD_STATUSES,
    }


async def sent_by(request: Request, batch: dict[str, Any], ao_id: str) -> dict[str, Any] | None:
    """Who sent the batch, as its AO's own batch page says it (decision 0169): one of the AO's own keys, as `own_key`
    names it (a colleague signed in to the portal by their username, an API key by its label), or "an LRS operator",
    whose name and key are no business of the AO's. None for a batch older than `submitted_by`, and in the Sandpit,
    whose keys are in the Sandpit's identity store, which the pages do not read (decision 0060)."""
    by = batch.get("submitted_by")
    if not by or in_sandpit(request):
        return None
    if by == "an LRS operator" or str(by).startswith("operator:"):  # as ingest says it to the AO, or to an operator
        return {"by_the_ao": False, "by": None, "key": None}
    if by != f"ao:{ao_id}":  # no other AO's batch is read by the AO: never named, whatever a service answers
        return None
    return {"by_the_ao": True, "by": ao_id, "key": await own_key(request, batch.get("submitted_with_key"), ao_id)}


@router.get("/batches/{batch_id}")
async def batch_page(
    request: Request,
    batch_id: uuid.UUID,
    user: AoUser,
    asked: BatchPageAsked,
    not_queued: str | None = None,
) -> Response:
    """A batch's page. `not_queued` "1" (anything else is as if not asked): where Submit sends the AO when ingest
    answered 503 naming the batch (Kafka did not take it). Ingest's view says `not_published` only once the request that stored the batch must have been
    answered (its publish timeout and a margin): until then the page says so itself, while the batch is `received`
    (stored, not queued), and does not follow a batch nothing is processing."""
    line, _ = line_asked(asked.line)
    if line is not None:  # "Go to a record"
        return see_other(f"{base(request)}/batches/{batch_id}/records/{line}")
    page_size = portal_of(request).settings.records_page_size
    context = await batch_context(calls(request, user), batch_id, asked, page_size=page_size)
    context["not_queued"] = not_queued == "1" and context["batch"]["status"] == "received"
    notice = await notice_for(request, user)
    context["sent_before"] = notice.get("sent_before")
    context["queued_now"] = notice.get("queued_now")  # a file sent before but not queued then, queued by this submit
    context["entry_sent"] = notice.get("entry_sent")  # a direct entry's, just sent as this batch
    assert user.account.ao_id is not None
    context["sent_by"] = await sent_by(request, context["batch"], user.account.ao_id)
    return render(request, "batch.html", context, user=user, status_code=400 if context["line_error"] else 200)


async def batch_status_answer(service: ServiceCalls, batch_id: uuid.UUID) -> JSONResponse:
    """What the batch page's script follows: the status, whether it is decided (held up to 20 s until it is), and
    whether ingest says nothing will process it (`not_published`: stored, but Kafka did not take it), which the page,
    drawn again, says what to do about."""
    batch = await service.batch(batch_id, wait_until_decided=20)
    return JSONResponse(
        {
            "status": batch["status"],
            "decided": batch["status"] in DECIDED,
            "not_published": bool(batch.get("not_published")),
        }
    )


async def record_context(service: ServiceCalls, batch_id: uuid.UUID, line: int, shown: str = "") -> dict[str, Any]:
    """A record's page; `shown`: the batch page's records as the person left them (`records_shown`), to go back to."""
    batch = await service.batch(batch_id)
    first = 4 if batch.get("format") == "csv" else 1
    record = await service.batch_record(batch_id, line, first_line=first)
    if record is None:
        # said alone: "nothing here, or it is not yours to see" would contradict the batch it names
        at, start = (
            (f"on line {line}", "Its records start on line 4") if first == 4 else (f"{line}", "Its first record is 1")
        )
        after = "." if line < first else ", and each is listed on the batch's page."
        raise PageError("no_record", f"Batch {batch_id} has no record {at}. {start}{after}")
    return {"batch": batch, "record": record, "direct_entry": is_direct_entry(batch), "records_shown": shown}


class _SentOn(StreamingResponse):
    """A service's file sent on as it arrives (`Download`), its connection held open while it is sent and let go
    once it is sent, the browser has gone or the sending failed: the route returns before any of the body is read, so
    the download cannot be closed by the route."""

    def __init__(self, download: Download, **options: Any) -> None:
        super().__init__(download.chunks, media_type=download.media_type, **options)
        self._download = download

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except httpx.HTTPError as error:
            # the service broke off partway: raised on, for uvicorn to close the browser's connection without the
            # body's last chunk (a failed download, not a short file); every middleware on the way is plain ASGI
            # (bootstrap's `_SecurityHeaders`), which lets it through unended
            _log.warning("download_broken", error=type(error).__name__)
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await self._download.close()


async def records_download(service: ServiceCalls, batch_id: uuid.UUID, *, sandpit: bool = False) -> Response:
    """The batch's results CSV, sent on from ingest a chunk at a time: ingest's answers other than the file (404,
    409 BATCH_NOT_DECIDED, its 429 with Retry-After) are pages, said before any of it is sent."""
    download = await service.batch_records_csv(batch_id)
    try:
        filename = download.filename or f"batch-{batch_id}-records.csv"
        if sandpit and not filename.startswith("sandpit-"):
            filename = f"sandpit-{filename}"  # saved beside live's results, the file says it is the Sandpit's
        return _SentOn(download, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
    except BaseException:
        await download.close()
        raise


@router.get("/batches/{batch_id}/status.json")
async def batch_status(request: Request, batch_id: uuid.UUID, user: AoUserFollowing) -> JSONResponse:
    """What the batch page's script follows: asked by the page, not the person, so it keeps no session."""
    return await batch_status_answer(calls(request, user), batch_id)


@router.get("/batches/{batch_id}/records/{line}")
async def record_page(
    request: Request, batch_id: uuid.UUID, line: int, user: AoUser, shown: RecordsShown
) -> HTMLResponse:
    return render(request, "record.html", await record_context(calls(request, user), batch_id, line, shown), user=user)


@router.get("/batches/{batch_id}/records.csv")
async def records_csv(request: Request, batch_id: uuid.UUID, user: AoUser) -> Response:
    return await records_download(calls(request, user), batch_id, sandpit=in_sandpit(request))
