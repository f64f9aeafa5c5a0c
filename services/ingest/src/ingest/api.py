"""HTTP entrypoints: Submit Achievement Batch and View Achievement Batch (`/v1`). Handlers stay thin:
they translate HTTP to the use cases in `service` and the answers in `views`."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import AsyncIterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import AwareDatetime
from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive, Scope, Send

from ingest import maintenance_api
from ingest.config import IngestSettings
from ingest.maintenance import maintenance_notice, notice_for, status_shown
from ingest.maintenance_api import Maintenance
from ingest.metrics import SUBMISSIONS_DEFERRED
from ingest.repository import BatchRepository, Waiting, id_range
from ingest.service import (
    BatchRefusedError,
    BatchSubmissions,
    DecisionSignal,
    NotAllowedToRead,
    PublishFailed,
    scope_for,
    wait_until_decided,
)
from ingest.submission import (
    DECIDED_STATUSES,
    BatchOfAnotherAo,
    BatchStatus,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
    NotAllowedToSubmit,
    SubmissionError,
    SubmissionInProgress,
    content_sha256,
    declared_too_large,
    dedup_key,
    may_submit,
    normalise_idempotency_key,
    refusal_title,
    replay_headers,
    status_url,
)
from ingest.uploads import TooManyUploads, UploadGate, UploadStalled, until_idle
from ingest.views import (
    BatchAccepted,
    BatchPage,
    BatchView,
    RecordPage,
    batch_view,
    format_of,
    not_published_note,
    offset_of,
    record_view,
    records_csv_head,
    records_csv_rows,
)
from lrs_contracts.batch import BatchFormat
from lrs_contracts.codes import MAX_BATCH_BYTES, BatchCode, ProblemCode
from lrs_contracts.environments import Environment
from lrs_contracts.identifiers import AoIdText
from lrs_contracts.outcomes import Finding, RecordStatus
from lrs_domain.formats import BatchRefused, JsonBatch, read_limited
from lrs_domain.formats.limits import in_file_words
from lrs_platform.authentication import CurrentPrincipal, caller_of_kind, current_principal
from lrs_platform.credential_store import KEY_ID
from lrs_platform.http import (
    DATABASE_UNAVAILABLE,
    RETRY_AFTER,
    database_unavailable_reason,
    finish_document,
    keyring_problem,
)
from lrs_platform.idempotency import SENT_TWICE
from lrs_platform.identity import OperatorScope, Principal, PrincipalKind, operator_scope
from lrs_platform.keyring import KeyringUnavailable
from lrs_platform.logging import get_logger
from lrs_platform.maintenance import Closure
from lrs_platform.paging import PagePosition
from lrs_platform.paging_api import page_after
from lrs_platform.problems import PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA_REF, Problem, ProblemError, problem_response

XSD_PACKAGE = "lrs_domain.formats"
XSD_NAME = "achievement-batch.xsd"

_log = get_logger("ingest.api")

_PROBLEM_REF = {"$ref": PROBLEM_SCHEMA_REF}

_DESCRIPTIONS = {
    400: "The request is unusable (e.g. a malformed Idempotency-Key)",
    401: "No API key, or an unknown or revoked one",
    403: "The caller may not do this (e.g. the header names another AO)",
    404: "No such batch for this caller (another AO's batch answers 404 too)",
    409: (
        "IDEMPOTENCY_KEY_REUSED: the Idempotency-Key was used before for a different file, which made the batch"
        " `batch_id`; nothing of this file was kept, whether it would have been accepted or refused (send it under a"
        " new key). Or CONFLICT: the same batch is being published right now (`batch_id`, when known): send it again"
        " after `Retry-After` seconds"
    ),
    413: (
        "RS002: the file is larger than 6 MB; ingest stopped reading it. Under an Idempotency-Key that refused a file"
        " over 6 MB before, the first such refusal is answered again (same `instance`, `Idempotent-Replay: true`):"
        " any file over the limit is the same file to a key, never having been read whole"
    ),
    422: "Invalid path or query parameters",
    429: (
        "TOO_MANY_RECORDS_WAITING: the AO has too many records waiting for their decision (`records_waiting`,"
        " `limit`; decision 0171), or too many batches, however few records each holds (`batches_waiting`,"
        " `batch_limit`; the `detail` says which); nothing of the file was kept. Send it again after `Retry-After`"
        " seconds. While a maintenance window or pause holds the batches, none is decided before it ends: the problem carries the"
        " `maintenance` notice a 202 carries, and `Retry-After` is the seconds until the window's end (300 during a"
        " pause, which has none). A resend"
        " of a stored batch adds nothing to the queue and is answered as that batch instead: under its"
        " Idempotency-Key before the file is read; without a key, once the file is read and found to be that"
        " batch's"
    ),
    503: (
        "Kafka or PostgreSQL is unavailable (a submission learns it within the publish time limit, 30 s by"
        " default), or, for a submission, the learner key store (code `KEYRING_UNAVAILABLE`: the learners'"
        " personal fields cannot be sealed): nothing was accepted or changed. Retry after `Retry-After`"
        " seconds, with the same Idempotency-Key for a submission"
    ),
}


_REFUSAL_REPLAY_HEADER = {
    "description": "`true` when this answers the refusal filed earlier for the same file under the same"
    " Idempotency-Key (nothing new was filed)",
    "schema": {"type": "string"},
}


def _refusals_replayed(responses: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """The submission's answers, its refusals (413, 422) declaring the `Idempotent-Replay` header they may carry."""
    return responses | {
        status: responses[status] | {"headers": {"Idempotent-Replay": _REFUSAL_REPLAY_HEADER}} for status in (413, 422)
    }


def problems(*statuses: int, descriptions: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for problem+json answers."""
    described = {**_DESCRIPTIONS, **(descriptions or {})}
    return {
        status: {"description": described[status], "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}}
        for status in statuses
    }


_SUBMIT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": (
            "The batch file itself as the request body (not a multipart form), at most 6 MB"
            f" ({MAX_BATCH_BYTES:,} bytes) and 10,000 records. The format is taken from `?format=`,"
            " else the Content-Type, else the file's first bytes."
        ),
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/JsonBatch"}},
            "application/xml": {
                "schema": {
                    "type": "string",
                    "description": "an AchievementBatch document; see GET /v1/schema/achievement-batch.xsd",
                }
            },
            "text/csv": {
                "schema": {
                    "type": "string",
                    "description": "header names, header values, record headings, then one row per record",
                }
            },
        },
    }
}


async def _submissions(request: Request) -> BatchSubmissions:
    submissions: BatchSubmissions = request.app.state.submissions
    return submissions


async def _repository(request: Request) -> BatchRepository:
    repository: BatchRepository = request.app.state.batches
    return repository


async def _signal(request: Request) -> DecisionSignal:
    signal: DecisionSignal = request.app.state.decision_signal
    return signal


async def _settings(request: Request) -> IngestSettings:
    settings: IngestSettings = request.app.state.settings
    return settings


async def _uploads(request: Request) -> UploadGate:
    uploads: UploadGate = request.app.state.uploads
    return uploads


async def _downloads(request: Request) -> UploadGate:
    downloads: UploadGate = request.app.state.downloads
    return downloads


def _caller(principal: Principal) -> str:
    """Whose place a gate counts: an AO's keys (and its portal users) are one caller; an operator is its own."""
    return f"{principal.kind.value}:{principal.id}"


async def _after(
    after: Annotated[
        str | None,
        Query(max_length=200, description="the `next` of the page before; absent or empty: the first page"),
    ] = None,
) -> PagePosition | None:
    """`lrs_platform.paging_api.page_after` on the event loop (a plain `def` dependency takes a worker thread)."""
    return page_after(after)


def _refuse_who_may_not_submit(principal: Principal) -> None:
    if not may_submit(principal):
        raise NotAllowedToSubmit(f"{principal.kind.value.capitalize()} callers cannot submit achievement batches.")


async def _submitting_caller(principal: CurrentPrincipal) -> Principal:
    """An AO or an operator: as a dependency it refuses any other caller (403) before the route reads `format` or
    the Idempotency-Key, so a learner or a provider is told it may not, not what is wrong with what it sent
    (decision 0032)."""
    _refuse_who_may_not_submit(principal)
    return principal


# An AO (its own batches) or an operator (any AO's), before the route's parameters are read (decision 0032);
# `scope_for` checks the same again
BatchReader = Annotated[
    Principal,
    Depends(caller_of_kind("Batches are not open to {kind} callers.", PrincipalKind.AO, PrincipalKind.OPERATOR)),
]
Submitter = Annotated[Principal, Depends(_submitting_caller)]
Submissions = Annotated[BatchSubmissions, Depends(_submissions)]
Batches = Annotated[BatchRepository, Depends(_repository)]
Signal = Annotated[DecisionSignal, Depends(_signal)]
Settings = Annotated[IngestSettings, Depends(_settings)]
Uploads = Annotated[UploadGate, Depends(_uploads)]
Downloads = Annotated[UploadGate, Depends(_downloads)]
PageAfter = Annotated[PagePosition | None, Depends(_after)]

router = APIRouter(prefix="/v1")

StoredStatus = Literal["received", "accepted", "validating", "completed", "failed", "abandoned", "refused"]
"""The states a batch is stored in, which the batch list filters by: every `BatchStatus` but `queued`, which is how an
`accepted` batch shows while a maintenance window or pause holds it, not a state of its own."""


@router.post(
    "/batches",
    tags=["submit"],
    summary="Submit Achievement Batch",
    description=(
        "Accepts a batch once it is durably queued for validation, and answers 202 with its id."
        " The header's AwardingOrganisation must be the calling AO. Sending the same Idempotency-Key"
        " again (or, without a key, the same file again, whether its first batch came with a key or not) answers the"
        " original batch with"
        " `Idempotent-Replay: true` instead of creating a second one; but the same file sent again without a key"
        " after its batch failed (RS005) is a new batch, judged again (decision 0185), as is any resend of an"
        " abandoned one. A key that made a batch answers once: any other file under it, one that would be refused"
        " (RS001-RS007) included, is 409 IDEMPOTENCY_KEY_REUSED and nothing of it is kept. A refused file does not"
        " hold its key: sent again under the same key it is answered with its first refusal (same `instance`,"
        " `Idempotent-Replay: true`) and nothing new is filed, while a corrected file under that key is a new batch,"
        " which from then on holds the key. (An operator's refused upload is filed under no AO, so anew each"
        " time.) The format is `?format=`'s, else the"
        " Content-Type's (CSV: text/csv, application/csv, text/comma-separated-values or application/vnd.ms-excel;"
        " XML: application/xml, text/xml or any `+xml` type; JSON: application/json, text/json or any `+json` type);"
        " a generic type (text/plain, application/octet-stream) or none leaves it to the extension of a"
        " Content-Disposition filename, then to the file's first bytes. Any other type (image/png, a multipart form)"
        " is RS001 unless `?format=` names the format."
    ),
    status_code=202,
    response_model=BatchAccepted,
    responses=_refusals_replayed(
        {
            202: {
                "description": "Accepted: the whole batch is queued for validation",
                "headers": {
                    "Location": {"description": "the batch's status URL", "schema": {"type": "string"}},
                    "Idempotent-Replay": {
                        "description": "`true` when this answers an earlier identical submission",
                        "schema": {"type": "string"},
                    },
                },
            },
            **problems(
                400,
                401,
                403,
                408,
                409,
                413,
                422,
                429,
                503,
                descriptions={
                    401: _DESCRIPTIONS[401] + ". The key is checked again once the file has arrived: one revoked while"
                    " it was being sent is refused so, and nothing of the file was kept",
                    400: "MALFORMED_REQUEST: the Idempotency-Key is not 1 to 255 visible ASCII characters, or was sent"
                    " more than once; nothing of the file was read or kept",
                    403: "BATCH_OF_ANOTHER_AO: the batch's header names another AO than the calling one; nothing of it"
                    " was kept. Or FORBIDDEN: the key is not an AO's (a learner's or a provider's)",
                    408: "Nothing of the file arrived for `INGEST_UPLOAD_IDLE_SECONDS` (30 s by default): ingest stopped"
                    " waiting, kept nothing of it and closes the connection (decision 0185). Send it again",
                    429: _DESCRIPTIONS[429]
                    + ". Or TOO_MANY_REQUESTS: as many of the caller's files (4 by default), or of"
                    " all callers' (16), are being received or processed at the moment (`limit`); nothing of this one was"
                    " read. Send it again after `Retry-After` seconds (decision 0185)",
                    422: "RS001, RS003, RS004, RS006 or RS007 (the file was read and refused; `line` and `column`"
                    " point at an RS001 fault, such as a value that cannot be stored: a control character, a line"
                    " break in a header value, a lone surrogate, a non-character, more than 1,024 characters),"
                    " or invalid query parameters. The same file refused before under the same Idempotency-Key is"
                    " answered with that refusal again (same `instance`, `Idempotent-Replay: true`); nothing new is filed",
                },
            ),
        }
    ),
    openapi_extra=_SUBMIT_BODY | operator_scope(OperatorScope.SUPPORT),
)
async def submit_batch(
    request: Request,
    principal: Submitter,
    submissions: Submissions,
    batches: Batches,
    settings: Settings,
    maintenance: Maintenance,
    uploads: Uploads,
    batch_format: Annotated[BatchFormat | None, Query(alias="format", description="overrides the Content-Type")] = None,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", description="unique per AO; a retry with the same key is answered once"),
    ] = None,
) -> JSONResponse:
    _refuse_who_may_not_submit(principal)  # as `Submitter` did, for a call that is not a request
    if len(request.headers.getlist("Idempotency-Key")) > 1:  # one Item: which of two was meant is not ours to pick
        raise InvalidIdempotencyKey(SENT_TWICE)
    key = normalise_idempotency_key(idempotency_key)
    too_large = declared_too_large(request.headers.get("content-length"))
    waiting = await _records_waiting_at_the_limit(principal, batches, settings, key)
    # at the limit during a hold, the 429 says when the hold ends: nothing waiting is decided before then
    held = await maintenance.closure() if waiting is not None else None
    if waiting is not None and (key is not None or too_large):
        # a key no stored batch has, or a file larger than any stored batch's: a new file, told before it is read
        raise _deferred(principal, waiting, settings, held)
    if too_large:
        await submissions.refuse_unread(
            principal, BatchRefused(BatchCode.TOO_LARGE, f"the file is more than {MAX_BATCH_BYTES:,} bytes"), key
        )
    try:
        # The place is held until the submission ends, not only while the body is read: a body read whole
        # waits in memory for the parser (one at a time), and its encoded batch for the publisher, so the
        # limits bound the uploads held, read or waiting (decision 0185).
        with uploads.admit(_caller(principal)):
            content = await _received(request, principal, submissions, settings, key, waiting, held)
            # at the limit, only a resend of a stored batch's file goes on: it adds nothing to the queue
            if waiting is not None and not await submissions.stored(
                principal.id, idempotency_key=None, sha256=content_sha256(content)
            ):
                raise _deferred(principal, waiting, settings, held)
            submitting = submissions.submit(
                principal,
                content,
                requested_format=batch_format,
                content_type=request.headers.get("content-type"),
                content_disposition=request.headers.get("content-disposition"),
                idempotency_key=key,
                held=maintenance.closure,  # an undecided batch sent again is published again, unless held
            )
            del content  # the submission lets go of the upload once it is encoded; nothing here may hold it longer
            result = await submitting
    except TooManyUploads as busy:
        # at the limit, a keyless file with no place to be read cannot be told for a replay: answered as a new file
        raise (
            _too_many_uploads(busy, settings) if waiting is None else _deferred(principal, waiting, settings, held)
        ) from None
    body = BatchAccepted(batch_id=result.batch_id, status=result.status, status_url=status_url(result.batch_id))
    body = notice_for(await maintenance.closure(), body)
    return JSONResponse(
        body.model_dump(mode="json"), status_code=202, headers=replay_headers(result.batch_id, replay=result.replay)
    )


async def _received(
    request: Request,
    principal: Principal,
    submissions: BatchSubmissions,
    settings: IngestSettings,
    idempotency_key: str | None,
    waiting: Waiting | None = None,
    held: Closure | None = None,
) -> bytes:
    """The whole body, read within the idle deadline and the size limit (RS002, filed as a refusal; while the AO's
    `waiting` records or batches are at the limit the 429 instead: a file over 6 MB is no stored batch's, and nothing is kept).
    Either way the caller's key is checked again first (`_key_still_accepted`)."""
    try:
        content = await read_limited(until_idle(request.stream(), settings.upload_idle_seconds))
    except UploadStalled as stalled:
        raise _upload_stalled(stalled) from None
    except BatchRefused as refusal:
        await _key_still_accepted(request, principal)
        if waiting is not None:
            raise _deferred(principal, waiting, settings, held) from None
        await submissions.refuse_unread(principal, refusal, idempotency_key)
    except ClientDisconnect:
        raise ProblemError(400, "Bad request", "The client went away before the whole file arrived.") from None
    await _key_still_accepted(request, principal)
    return content


async def _key_still_accepted(request: Request, principal: Principal) -> None:
    """The caller's key checked again once its file is read, before anything of it is kept: a key revoked while a slow
    upload was under way (checked when the request began, minutes before) is refused 401 as any revoked key is, and
    nothing of the file is filed. Through `current_principal`, as every request is checked: a revocation by `lrs` (in
    another process) is seen within the key store's cache time (`CACHE_SECONDS`). A principal that authenticated with
    no key (none does in service) has none to check."""
    if principal.key_id is not None:
        await current_principal(request)


async def _records_waiting_at_the_limit(
    principal: Principal, batches: BatchRepository, settings: IngestSettings, idempotency_key: str | None
) -> Waiting | None:
    """The AO's records and batches waiting for their decision when the records are `max_waiting_records_per_ao` or
    more, or the batches `max_waiting_batches_per_ao` or more (each costs a decision however few records it holds),
    else None: an AO's batches share their partition's queue with other AOs', so its next batch waits at its own door,
    not in front of theirs (decision 0171). Asked before the file is read: a refused upload costs one index look-up. Operators
    submitting for an AO are not held, nor is a retry under the Idempotency-Key of a batch already stored: it is
    answered as it was, or published now. A keyless resend of a stored batch's file adds nothing to the queue
    either, but only its content tells it: the caller reads the file to know (`_deferred` if it is new)."""
    record_limit, batch_limit = settings.max_waiting_records_per_ao, settings.max_waiting_batches_per_ao
    if principal.kind is not PrincipalKind.AO or record_limit == batch_limit == 0:
        return None
    publishing = settings.publish_timeout_seconds + settings.row_lock_timeout_seconds
    waiting = await batches.records_waiting(principal.id, publishing_seconds=publishing)
    # the AO's series exists at 0 from its first submission since the start: `increase()` then sees its first
    # deferral (a series born at 1 increases by nothing); metrics.py
    SUBMISSIONS_DEFERRED.labels(principal.id)
    if not _at_the_limit(waiting.records, record_limit) and not _at_the_limit(waiting.batches, batch_limit):
        return None
    if idempotency_key is not None and await batches.find_by_dedup(principal.id, dedup_key(idempotency_key, "")):
        return None
    return waiting


def _at_the_limit(waiting: int, limit: int) -> bool:
    return limit != 0 and waiting >= limit


PAUSED_RETRY_AFTER_SECONDS = 300
"""`Retry-After` of the queue limit's 429 during an unplanned pause, which has no end to wait for: a pause lasts minutes
to hours, so an AO's script obeying it sends the file 12 times an hour, not 120, and is let in at most 5 minutes after
the resume (by when the batches held are being decided, and the AO's next 429, if any, says so)."""


def _deferred(
    principal: Principal, waiting: Waiting, settings: IngestSettings, held: Closure | None = None
) -> ProblemError:
    """The 429 of an AO's submission while `waiting` of its records, or of its batches, wait (decision 0171), counted
    and logged; it says which limit was met (the records' when both were). While a maintenance window or pause `held`
    the batches, none of them is decided before it ends: the answer says when (with the notice a 202 carries), not
    "in 30 seconds"."""
    limit, batch_limit = settings.max_waiting_records_per_ao, settings.max_waiting_batches_per_ao
    SUBMISSIONS_DEFERRED.labels(principal.id).inc()
    _log.info(
        "submission_deferred",
        ao_id=principal.id,
        records_waiting=waiting.records,
        limit=limit,
        batches_waiting=waiting.batches,
        batch_limit=batch_limit,
        held=held is not None,
    )
    if _at_the_limit(waiting.batches, batch_limit) and not _at_the_limit(waiting.records, limit):
        title = "Too many batches waiting"
        waits = (
            f"{waiting.batches:,} of your batches are waiting for their decision (at most {batch_limit:,} may wait,"
            " however few records each holds)"
        )
    else:
        title = "Too many records waiting"
        waits = (
            f"{waiting.records:,} records of your batches are waiting for their decision (at most {limit:,} may wait)"
        )
    extra: dict[str, Any] = {}
    if held is None:
        retry_after = settings.busy_retry_after_seconds
        detail = f"{waits}: send this file again in {retry_after} seconds, once some of them are decided."
    else:
        if held.until is None:
            retry_after = PAUSED_RETRY_AFTER_SECONDS
            resumes = "the Sandpit" if held.environment.is_sandpit else "the LRS"
            until = f"until {resumes} resumes after an unplanned pause"
        else:
            retry_after = max(1, math.ceil((held.until - datetime.now(UTC)).total_seconds()))
            until = f"until {held.until.astimezone(UTC).isoformat().replace('+00:00', 'Z')}"
        detail = f"{waits}, and they are held by maintenance ({held.reason}) {until}: send this file after that."
        extra["maintenance"] = maintenance_notice(held).model_dump(mode="json")
    busy = ProblemError(
        429,
        title,
        f"{detail} Nothing of it was kept.",
        ProblemCode.TOO_MANY_RECORDS_WAITING,
        records_waiting=waiting.records,
        limit=limit,
        batches_waiting=waiting.batches,
        batch_limit=batch_limit,
        retry_after=retry_after,
        **extra,
    )
    busy.headers["Retry-After"] = str(retry_after)
    return busy


def _too_many_uploads(busy: TooManyUploads, settings: IngestSettings) -> ProblemError:
    """Each upload is held in memory from its first byte until its submission ends: past the caller's or the
    replica's limit the next one is turned away before its body is read (decision 0185)."""
    whose = "of your files are" if busy.per_caller else "files are"
    _log.info("upload_deferred", per_caller=busy.per_caller, limit=busy.limit)
    problem = ProblemError(
        429,
        "Too many uploads at once",
        f"{busy.limit:,} {whose} being received or processed at the moment: send this file again in"
        f" {settings.uploads_retry_after_seconds} seconds. Nothing of it was read.",
        ProblemCode.TOO_MANY_REQUESTS,
        limit=busy.limit,
        retry_after=settings.uploads_retry_after_seconds,
    )
    problem.headers["Retry-After"] = str(settings.uploads_retry_after_seconds)
    return problem


def _upload_stalled(stalled: UploadStalled) -> ProblemError:
    """A body that stopped arriving is dropped, and so is the connection: what it would send later is not
    this request's any more (decision 0185)."""
    _log.info("upload_stalled", idle_seconds=stalled.idle_seconds)
    problem = ProblemError(
        408,
        "The file stopped arriving",
        f"Nothing of the file arrived for {stalled.idle_seconds:g} seconds, so ingest stopped waiting for it and"
        " kept nothing of it. Send it again.",
        ProblemCode.REQUEST_TIMEOUT,
    )
    problem.headers["Connection"] = "close"
    return problem


ID_PREFIX_PATTERN = r"^[0-9A-Fa-f-]{8,36}$"
FINDING_CODE: str = Finding.model_json_schema()["properties"]["code"]["pattern"]
"""A record finding's code (RVnnn, WVnnn): what a batch's records may be filtered by."""


FindingCodeAsked = Annotated[
    str | None,
    Query(
        pattern=FINDING_CODE,
        description="only records with a finding (an error or a warning) of this code, e.g. RV004; with `status`,"
        " the records of both",
    ),
]
"""A records query's `code`: the JSON view's and the results CSV's alike."""


def _only_received(
    received_from: datetime | None, received_to: datetime | None, ids: tuple[uuid.UUID, uuid.UUID] | None
) -> dict[str, Any]:
    """The list's bounds that were given, as `BatchRepository.history` takes them."""
    bounds = {"received_from": received_from, "received_to": received_to, "ids": ids}
    return {name: value for name, value in bounds.items() if value is not None}


def _only_of_reference(reference: str | None) -> dict[str, Any]:
    """The list's BatchReference filter, if one was given, as `BatchRepository.history` takes it."""
    return {"reference": reference} if reference is not None else {}


def _only_sent_with(key_id: str | None, principal: Principal) -> dict[str, Any]:
    """The list's API-key filter, if one was given, as `BatchRepository.history` takes it: to an AO, only the batches
    it sent itself with that key (an operator's key that sent one on its behalf is not its business: decision 0169)."""
    if key_id is None:
        return {}
    if principal.is_operator:
        return {"submitted_with_key": key_id}
    return {"submitted_with_key": key_id, "submitted_by": str(principal)}


def _not_found(batch_id: uuid.UUID) -> ProblemError:
    return ProblemError(404, "Not found", f"There is no batch {batch_id} for this caller.")


async def _no_queued_filter(request: Request) -> None:
    """`status=queued` told what to ask for instead, once the caller is known to be one who may list batches (as a
    dependency after it), rather than as a value the filter's enum lacks."""
    if request.query_params.get("status") == BatchStatus.QUEUED:
        raise ProblemError(
            422,
            "Not a stored state",
            "A queued batch is an accepted one a maintenance window holds: ask for status=accepted.",
            ProblemCode.INVALID_REQUEST,
        )


@router.get(
    "/batches",
    tags=["view"],
    summary="List batches (the caller AO's history, newest first)",
    description=(
        "Newest first (by when each was received, then by id). To read the whole list, follow `next`: pass it back"
        " as `after` for the batches after the last one shown, which neither repeats nor misses a batch however many"
        " arrive meanwhile (decision 0118). `page` numbers the pages instead, as they stand at each request: a batch"
        " received between two requests moves every batch down, so the next numbered page repeats one and a deleted"
        " one (a Sandpit reset) makes it miss one. `total` is counted in the same read as the page. `received_from`"
        ' and `received_to` keep the batches received in that time ("we uploaded at about 10"), `id_prefix` those'
        " whose id starts so (the 8 characters of a batch email's subject), `reference` those whose file's header"
        " gave that BatchReference (exactly), `submitted_with_key` those that API key sent (after a key leaked:"
        " what it sent; to an AO, of the batches it sent itself); each narrows the list and its `total`,"
        " an AO's to its own batches as ever. `held_in_dead_letters` is null here: the batch's own view says it."
    ),
    response_model=BatchPage,
    responses=problems(401, 403, 422, 503),
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def list_batches(
    principal: BatchReader,
    _: Annotated[None, Depends(_no_queued_filter)],
    batches: Batches,
    maintenance: Maintenance,
    settings: Settings,
    after: PageAfter = None,
    page: Annotated[
        int | None,
        Query(ge=1, le=100_000, description="a numbered page (1 unless `after` is given, which it cannot be with)"),
    ] = None,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    ao_id: Annotated[
        AoIdText | None,
        Query(description="operators: only this AO's batches (e.g. RN9093); AOs: their own id"),
    ] = None,
    status: Annotated[
        StoredStatus | None,
        Query(
            description="only batches in this state (`failed`: those RS005 failed). Every state but `queued`, which"
            " is not stored: a batch a maintenance window or pause holds is `accepted`, and shows as `queued` (in this"
            " list too) until it is picked up, so `accepted` lists it"
        ),
    ] = None,
    received_from: Annotated[
        AwareDatetime | None,
        Query(
            description="only batches received at or after this instant: ISO 8601 with its zone"
            " (2026-12-07T09:00:00Z, 2026-06-01T10:00:00+01:00); a time without a zone is refused (422)"
        ),
    ] = None,
    received_to: Annotated[
        AwareDatetime | None,
        Query(description="only batches received before this instant (not at it): ISO 8601 with its zone"),
    ] = None,
    id_prefix: Annotated[
        str | None,
        Query(
            pattern=ID_PREFIX_PATTERN,
            description="only batches whose id starts with this: 8 to 36 characters of its text form (hex digits"
            " and hyphens, in either case), such as the 8 a batch email's subject gives (`(batch 5a398464)`)",
        ),
    ] = None,
    reference: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=1_000,
            description="only batches whose file's header gave this BatchReference (an exact match: case counts);"
            " an AO's own batches only, as ever",
        ),
    ] = None,
    submitted_with_key: Annotated[
        str | None,
        Query(
            pattern=f"^{KEY_ID.pattern}$",
            description="only batches sent with this API key: its id (16 characters, 0-9 and a-f, as `lrs"
            " credentials list` shows it; never the key itself). To an AO, only those it sent itself: not one an"
            " operator sent on its behalf",
        ),
    ] = None,
) -> BatchPage:
    scope = scope_for(principal, ao_id)
    ids = id_range(id_prefix) if id_prefix is not None else None
    if id_prefix is not None and ids is None:  # no batch id's text starts so: none is listed
        return BatchPage(items=[], page=None if after is not None else page or 1, page_size=page_size, total=0)
    if after is not None and page is not None:
        raise ProblemError(
            422,
            "A page by number or after a position",
            "Give `after` (the `next` of the page before) or `page`, not both.",
            ProblemCode.INVALID_REQUEST,
        )
    listed = await batches.history(
        ao_id=scope,
        status=status,
        limit=page_size,
        offset=0 if after is not None else offset_of(page or 1, page_size),
        after=after,
        **_only_received(received_from, received_to, ids),
        **_only_of_reference(reference),
        **_only_sent_with(submitted_with_key, principal),
    )
    closure = await maintenance.closure()
    now = datetime.now(UTC)
    items = [
        not_published_note(
            notice_for(closure, batch_view(row, settings.environment, principal)),
            settings.publish_timeout_seconds,
            now,
        )
        for row in listed.rows
    ]
    return BatchPage(
        items=items,
        page=None if after is not None else page or 1,
        page_size=page_size,
        total=listed.total,
        next=listed.next.token() if listed.next else None,
    )


@router.get(
    "/batches/{batch_id}",
    tags=["view"],
    summary="View Achievement Batch",
    description=(
        "Status (received, accepted, queued, validating, completed, failed, abandoned, refused), counts, refusal or"
        " failure code, job type, reference and timestamps. `received`: stored, not yet taken by Kafka; past the"
        " publish timeout, `not_published` says to send the same file again. `queued`: accepted and waiting for a maintenance window"
        " or pause to end, which `maintenance` describes. `abandoned`: validation could not process the batch and"
        " gave up on it (`failure_reason` says so); none of its records were recorded, and the same file submitted"
        " again is a new batch. `wait_until_decided` holds the answer up to that many seconds until the batch is"
        " completed, failed or abandoned. `held_in_dead_letters`: the batch's messages ingest could not apply, held"
        " in its dead letters for an operator (how many, since when); until then the batch reads as it stood, though"
        " the LRS may have decided it."
    ),
    response_model=BatchView,
    responses=problems(401, 403, 404, 422, 503),
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def view_batch(
    batch_id: uuid.UUID,
    principal: BatchReader,
    batches: Batches,
    signal: Signal,
    settings: Settings,
    maintenance: Maintenance,
    wait_until_decided_seconds: Annotated[
        float | None,
        Query(
            alias="wait_until_decided",
            ge=0,
            le=30,
            allow_inf_nan=False,
            description="long-poll up to this many seconds",
        ),
    ] = None,
) -> BatchView:
    scope = scope_for(principal)
    row = await batches.get(batch_id, ao_id=scope)
    if row is None:
        raise _not_found(batch_id)
    if wait_until_decided_seconds and BatchStatus(row["status"]) not in DECIDED_STATUSES:
        timeout = min(wait_until_decided_seconds, settings.max_wait_seconds)
        await wait_until_decided(batches, signal, batch_id, timeout)
        row = await batches.get(batch_id, ao_id=scope)
        if row is None:
            raise _not_found(batch_id)
    view = notice_for(await maintenance.closure(), batch_view(row, settings.environment, principal))
    return not_published_note(view, settings.publish_timeout_seconds, datetime.now(UTC))


@router.get(
    "/batches/{batch_id}/records",
    tags=["view"],
    summary="The batch's per-record results, in line order",
    description=(
        "`batch_status` is the batch's status as its view (GET /v1/batches/{batch_id}) says it: `queued` while a"
        " maintenance window or pause holds an accepted batch."
    ),
    response_model=RecordPage,
    responses=problems(401, 403, 404, 422, 503),
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def list_records(
    batch_id: uuid.UUID,
    principal: BatchReader,
    batches: Batches,
    settings: Settings,
    maintenance: Maintenance,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=1_000)] = 100,
    status: Annotated[RecordStatus | None, Query(description="only records with this result")] = None,
    code: FindingCodeAsked = None,
) -> RecordPage:
    row = await batches.get(batch_id, ao_id=scope_for(principal))
    if row is None:
        raise _not_found(batch_id)
    read = await batches.records_and_codes(
        batch_id,
        status=status.value if status else None,
        limit=page_size,
        offset=offset_of(page, page_size),
        code=code,
    )
    batch_status = BatchStatus(row["status"])
    fmt = format_of(row)
    ResultsDownload(batch_id, principal, "json", rows_sent=len(read.rows)).logged(whole=True)
    return RecordPage(
        environment=settings.environment,
        batch_id=batch_id,
        batch_status=status_shown(await maintenance.closure(), batch_status),
        records=[record_view(record, batch_status, fmt) for record in read.rows],
        page=page,
        page_size=page_size,
        total=read.total,
        codes=read.codes,
    )


@router.get(
    "/batches/{batch_id}/records.csv",
    tags=["view"],
    summary="Download the batch's per-record results as CSV",
    response_class=Response,
    responses={
        200: {
            "description": "The results of a decided batch (completed, failed, abandoned or refused: a batch not"
            " decided yet is 409 BATCH_NOT_DECIDED): Line, MISIdentifier, Action, ULN (last 4 digits), Status, Codes,"
            " Messages, PLRChanged (Y: the record changed the learner's PLR; N: it did not, as no record of a failed"
            " batch did); UTF-8 with a byte-order mark, which spreadsheets read as UTF-8. An"
            " MISIdentifier starting with =, +, -, @, a tab or a carriage return is prefixed with ' so that a"
            " spreadsheet does not run it as a formula (`-2+3` comes back as `'-2+3`); the JSON view"
            " (`/records`) has the value as sent",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **problems(
            401,
            403,
            404,
            409,
            422,
            429,
            503,
            descriptions={
                409: "BATCH_NOT_DECIDED: the batch is not decided yet (`batch_status`: received, accepted, queued or"
                " validating), so it has no results to download yet: ask again once its view says it is decided"
                " (`GET /v1/batches/{batch_id}?wait_until_decided=30`)",
                429: "TOO_MANY_REQUESTS: as many of the caller's results downloads (3 by default,"
                " `INGEST_MAX_DOWNLOADS_PER_CALLER`; an AO's keys and portal users are one caller) are being sent at"
                " the moment (`limit`). Download it again after `Retry-After` seconds",
            },
        ),
    },
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def download_records(
    batch_id: uuid.UUID,
    principal: BatchReader,
    batches: Batches,
    settings: Settings,
    downloads: Downloads,
    maintenance: Maintenance,
    status: Annotated[RecordStatus | None, Query(description="only records with this result")] = None,
    code: FindingCodeAsked = None,
) -> Response:
    row = await batches.get(batch_id, ao_id=scope_for(principal))
    if row is None:
        raise _not_found(batch_id)
    batch_status = BatchStatus(row["status"])
    if batch_status not in DECIDED_STATUSES:
        # its records are not all there yet: a file of some, or none, would read as the batch's results
        raise _not_decided(batch_id, status_shown(await maintenance.closure(), batch_status))
    filename = records_csv_filename(batch_id, settings.environment)
    # The CSV is built a slice at a time on the event loop while it is sent: a caller's downloads at once are bounded,
    # as its uploads are, and each keeps its place until its last byte is sent, its client has gone or its client has
    # taken nothing of it for the idle deadline of uploads (`INGEST_UPLOAD_IDLE_SECONDS`).
    place = ExitStack()
    try:
        place.enter_context(downloads.admit(_caller(principal)))
    except TooManyUploads as busy:
        raise _too_many_downloads(busy, settings) from None
    download = ResultsDownload(batch_id, principal, "csv")
    try:
        return _SentInPlace(
            place,
            _records_csv(
                batches, batch_id, batch_status, status.value if status else None, format_of(row), code, download
            ),
            idle_seconds=settings.upload_idle_seconds,
            said={"batch_id": str(batch_id), "caller_kind": principal.kind.value},
            download=download,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    except BaseException:
        place.close()
        raise


@dataclass
class ResultsDownload:
    """A batch's results read (its records' page, or its records.csv), as its `results_downloaded` log line says it:
    which batch, with which API key, in which format, how many records' rows were sent; never personal data. After a
    key leaked, these lines say what it took."""

    batch_id: uuid.UUID
    principal: Principal
    format: Literal["json", "csv"]
    rows_sent: int = 0
    last_row_sent: bool = False  # the CSV's last row was handed to the connection

    def logged(self, *, whole: bool) -> None:
        """`whole`: every row asked for was sent (a CSV download cut short, its reader stalled or gone, was not)."""
        _log.info(
            "results_downloaded",
            batch_id=str(self.batch_id),
            key_id=self.principal.key_id,
            caller_kind=self.principal.kind.value,
            format=self.format,
            rows_sent=self.rows_sent,
            whole=whole,
        )


def _not_decided(batch_id: uuid.UUID, shown: BatchStatus) -> ProblemError:
    """The results download of a batch not decided yet: said with its status, as its view says it."""
    return ProblemError(
        409,
        "The batch is not decided yet",
        f"Batch {batch_id} is {shown.value}, not decided yet: it has no results to download until it is decided. Its"
        f" view (GET /v1/batches/{batch_id}) says when it is.",
        ProblemCode.BATCH_NOT_DECIDED,
        batch_status=shown.value,
    )


class _SentInPlace(StreamingResponse):
    """A streamed answer that holds its caller's place in a gate (`place`, entered) until it is sent, its client has
    gone or its sending failed: the route returns before its body is built, so the place cannot be the route's.

    Each piece (`SENT_PIECE` bytes at most) must be taken within `idle_seconds`, as each piece of an upload must arrive
    within them: a client that stopped reading but kept its connection open (a hung script, a laptop asleep) held its
    place for as long as the connection stayed open, and a caller's downloads were all refused 429 meanwhile. Pieces
    far smaller than a slice of the CSV make the deadline one for a reader that stopped, not for a slow one: a reader
    taking a few KB a second keeps its download. A download that stalls is logged `download_stalled` (with `said`: no
    personal data) and ended unfinished, its place given back: the server closes the connection, and its client,
    seeing the answer end before its last chunk, does not take the part sent for the whole file. However it ends, the
    `download` is logged (`results_downloaded`) with the rows sent."""

    def __init__(
        self,
        place: ExitStack,
        content: AsyncIterator[str],
        *,
        idle_seconds: float,
        said: dict[str, str],
        download: ResultsDownload,
        **options: Any,
    ) -> None:
        super().__init__(content, **options)
        self._place = place
        self._idle_seconds = idle_seconds
        self._said = said
        self._download = download

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stalled = False

        async def within_deadline(message: Message) -> None:
            nonlocal stalled
            for piece in _pieces(message):
                try:
                    async with asyncio.timeout(self._idle_seconds):  # no task a piece, as `wait_for` would make
                        await send(piece)
                except TimeoutError:
                    stalled = True
                    raise _DownloadStalled from None

        sent = False
        try:
            await super().__call__(scope, receive, within_deadline)
            sent = not stalled
        except Exception:
            if not stalled:
                raise
        finally:
            self._place.close()
            self._download.logged(whole=sent and self._download.last_row_sent)
        if stalled:
            # returned unfinished, so the server closes the connection: no last chunk says the file is whole
            _log.info("download_stalled", idle_seconds=self._idle_seconds, **self._said)


class _DownloadStalled(Exception):
    """A piece of a download was not taken within its idle deadline."""


SENT_PIECE = 64 * 1024
"""The most of a download sent in one piece, each within the idle deadline: the server waits before a piece until
what it holds of the ones before has mostly gone (uvicorn: below 16 KiB of 64), so a reader is cut only if it took
less than about two pieces in the deadline, not a whole slice of the CSV (~0.5 MB of 1,000 records)."""


def _pieces(message: Message) -> list[Message]:
    """`message`, its body cut into pieces of `SENT_PIECE` bytes at most; only the last says whether more follows."""
    body = message.get("body", b"")
    if message["type"] != "http.response.body" or len(body) <= SENT_PIECE:
        return [message]
    cuts = range(0, len(body), SENT_PIECE)
    return [
        {
            **message,
            "body": body[at : at + SENT_PIECE],
            "more_body": True if at + SENT_PIECE < len(body) else message.get("more_body", False),
        }
        for at in cuts
    ]


def _too_many_downloads(busy: TooManyUploads, settings: IngestSettings) -> ProblemError:
    """One more results download than the caller may have sent at once: told before any of it is built."""
    retry_after = settings.downloads_retry_after_seconds
    _log.info("download_deferred", limit=busy.limit)
    problem = ProblemError(
        429,
        "Too many downloads at once",
        f"You already have {busy.limit:,} downloads of batch results under way, as many as may be at once: download"
        f" this one again in {retry_after} seconds.",
        ProblemCode.TOO_MANY_REQUESTS,
        limit=busy.limit,
        retry_after=retry_after,
    )
    problem.headers["Retry-After"] = str(retry_after)
    return problem


def records_csv_filename(batch_id: uuid.UUID, environment: Environment) -> str:
    """Saved beside live's results, a Sandpit's say they are the Sandpit's (as the portal's download does)."""
    name = f"batch-{batch_id}-records.csv"
    return f"sandpit-{name}" if environment.is_sandpit else name


CSV_SLICE = 1_000
"""Records a results download reads and writes at a time: between slices the service answers other requests (a
10,000-record CSV built in one go held them up ~0.1 s each, seconds when many AOs download on results day)."""


async def _records_csv(
    batches: BatchRepository,
    batch_id: uuid.UUID,
    status: BatchStatus,
    only: str | None = None,
    fmt: BatchFormat | None = None,
    code: str | None = None,
    download: ResultsDownload | None = None,
) -> AsyncIterator[str]:
    """The results CSV of a decided batch (its records no longer change), a slice at a time (`only`: of the records
    with that result; `code`: with a finding of that code; `fmt`: the batch's format, in whose words its findings are
    said); `download` counts the rows as they are sent."""
    yield records_csv_head()
    offset = 0
    while True:
        records, total = await batches.records(batch_id, status=only, limit=CSV_SLICE, offset=offset, code=code)
        if records:
            yield records_csv_rows(record_view(record, status, fmt) for record in records)
            if download is not None:
                download.rows_sent += len(records)
        offset += len(records)
        if not records or offset >= total:
            if download is not None:
                download.last_row_sent = True
            return


@router.get(
    "/schema/achievement-batch.xsd",
    tags=["submit"],
    summary="The XML Schema of an achievement batch",
    response_class=Response,
    responses={
        200: {"description": "the XSD", "content": {"application/xml": {"schema": {"type": "string"}}}},
        **problems(404),
    },
)
async def batch_schema() -> Response:
    schema = resources.files(XSD_PACKAGE).joinpath(XSD_NAME)
    if not schema.is_file():
        raise ProblemError(404, "Not found", "The batch XSD is not shipped with this build.")
    return Response(schema.read_bytes(), media_type="application/xml")


async def _refused(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, BatchRefusedError)
    refusal = error.refusal
    problem = Problem(
        status=refusal_status(refusal.code),
        title=refusal_title(refusal.code),
        detail=in_file_words(refusal.detail, error.fmt),  # `notificationEmail` to a JSON file, as its view says
        code=refusal.code.value,
        instance=status_url(error.batch_id),
        line=refusal.line,
        column=refusal.column,
    )
    return problem_response(problem, {"Idempotent-Replay": "true"} if error.replay else None)


async def _not_allowed_to_read(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, NotAllowedToRead)
    return problem_response(Problem(status=403, title="Forbidden", detail=error.detail, instance=request.url.path))


async def _submission_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, SubmissionError)
    status, title, code = SUBMISSION_ERRORS.get(type(error), (400, "Bad request", None))
    headers = {"Retry-After": "1"} if isinstance(error, SubmissionInProgress) else None
    named = {} if error.batch_id is None else {"batch_id": str(error.batch_id)}
    problem = Problem(status=status, title=title, detail=error.detail, instance=request.url.path, code=code, **named)
    return problem_response(problem, headers)


# status, title and code of each kind (no code: the one its status says)
SUBMISSION_ERRORS: dict[type[SubmissionError], tuple[int, str, ProblemCode | None]] = {
    InvalidIdempotencyKey: (400, "Invalid Idempotency-Key", None),
    NotAllowedToSubmit: (403, "Forbidden", None),
    BatchOfAnotherAo: (403, "The batch is another awarding organisation's", ProblemCode.BATCH_OF_ANOTHER_AO),
    IdempotencyKeyReused: (
        409,
        "Idempotency-Key already used for a different file",
        ProblemCode.IDEMPOTENCY_KEY_REUSED,
    ),
    SubmissionInProgress: (409, "The same submission is being published right now", None),
}


def refusal_status(code: BatchCode) -> int:
    """413 when ingest stopped reading (over 6 MB); 422 when it read the whole file and refused it.

    RS003 (more than 10,000 records) is 422, not 413: the file was within the byte limit and was
    read and parsed completely, so the request was not too large for the server; its content broke a
    rule of the batch format, which is what 422 means for every other RS code.
    """
    return 413 if code is BatchCode.TOO_LARGE else 422


async def _publish_failed(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, PublishFailed)
    problem = Problem(
        status=503,
        title="The batch could not be queued",
        detail="Kafka did not take the batch, so nothing of it was accepted. Send it again later.",
        instance=status_url(error.batch_id),
    )
    return problem_response(problem, RETRY_AFTER)


async def _keyring_unavailable(request: Request, error: Exception) -> JSONResponse:
    """Every service's answer (`keyring_problem`), telling the AO to send the same file again, under its
    Idempotency-Key if it sent one."""
    same_key = ", under the same Idempotency-Key," if request.headers.get("Idempotency-Key") else ""
    return keyring_problem(error, request, resend=f"the same file{same_key}")


async def _database_unavailable(request: Request, error: Exception) -> JSONResponse:
    _log.warning("database_unavailable", path=request.url.path, error=type(error).__name__)
    problem = Problem(
        status=503,
        title="The batch store is unavailable",
        detail=f"{database_unavailable_reason(error)}, so nothing was accepted or changed. Send the request again"
        " later.",
        instance=request.url.path,
    )
    return problem_response(problem, RETRY_AFTER)


def install(app: FastAPI) -> None:
    app.include_router(router)
    maintenance_api.install(app)
    app.add_exception_handler(BatchRefusedError, _refused)
    app.add_exception_handler(SubmissionError, _submission_error)
    app.add_exception_handler(NotAllowedToRead, _not_allowed_to_read)
    app.add_exception_handler(PublishFailed, _publish_failed)
    app.add_exception_handler(KeyringUnavailable, _keyring_unavailable)
    for unavailable in DATABASE_UNAVAILABLE:
        app.add_exception_handler(unavailable, _database_unavailable)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, plus what it cannot infer: the JSON batch model of the raw request body, and what
    every service's document adds (`finish_document`: the bearer API key, the problem answers)."""
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    batch_schema = JsonBatch.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    schemas.update(batch_schema.pop("$defs", {}))
    schemas["JsonBatch"] = batch_schema
    finish_document(app, document)
    app.openapi_schema = document
    return document
