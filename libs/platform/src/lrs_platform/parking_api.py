"""The operator routes every consuming service shares for its parked messages (`lrs dlq --service NAME`).

`GET /v1/admin/dlq` lists them, `GET /v1/admin/dlq/{id}/value` answers one's value (its bytes, to mend into a
corrected copy), `POST /v1/admin/dlq/{id}/retry` applies the message's key again from its head,
`POST /v1/admin/dlq/{id}/skip` drops the head and applies what waited behind it. Operators only.
`app.include_router(router)` when the app is built; `serve_dead_letters` in its lifespan, which also puts each
consumer on `/readyz` (reported there, never failing the probe).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import APIRouter, Body, Depends, FastAPI, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from lrs_contracts.codes import ProblemCode
from lrs_contracts.text import OneLineText, StorableText, has_visible_text
from lrs_platform.authentication import operator_caller
from lrs_platform.consumer import Failure, classify_failure
from lrs_platform.database import LARGEST_BIGINT
from lrs_platform.http import readiness
from lrs_platform.identity import OperatorScope, Principal, operator_scope
from lrs_platform.logging import get_logger
from lrs_platform.parking import (
    BYTES_MEDIA_TYPE,
    JSON_MEDIA_TYPE,
    CannotReplay,
    DeadLetterOffice,
    NotACorrectedCopy,
    NotParked,
    ReplayResult,
    value_media_type,
)
from lrs_platform.problems import ProblemError, problem_responses

Operator = Annotated[Principal, Depends(operator_caller("Dead letters are for operators."))]

_log = get_logger("lrs.parking.api")

router = APIRouter(prefix="/v1/admin/dlq", tags=["operations"], responses=problem_responses(401, 403))

# the title of the 404 of a parked message that had no value; clients read its code, PARKED_VALUE_NOT_KEPT
NO_VALUE = "No value kept"


class RetryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    replacement: dict[str, Any] | None = Field(
        default=None,
        description="A corrected copy of the message at the head of the key (its JSON value, e.g. an event"
        " envelope), applied in its place; the log and the copy on `<topic>.dlq` keep the original.",
    )


# What a skip without a reason (none, empty, or nothing visible: spaces, line breaks, a zero-width space) is refused
# with: the portal's Skip form's words, so the API, `lrs dlq skip` and the portal ask for it alike.
SKIP_REASON_MISSING = "Say why the message is dropped: it is kept with the record of the skip"


def _skip_reason_said(reason: str) -> str:
    if not has_visible_text(reason):
        raise ValueError(SKIP_REASON_MISSING)
    return reason


class SkipRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # nullable in the schema, as it was when a skip took no reason (the documents' models keep their shape within a
    # version), but refused when left out, null or blank, before anything is skipped
    reason: Annotated[StorableText, AfterValidator(_skip_reason_said)] | None = Field(
        default=None,
        max_length=500,
        description="why the message is dropped; kept with the record of the skip (`GET /v1/admin/dlq/actions`)."
        " Required: a skip without one (no body, no `reason`, null, or spaces and line breaks alone) is refused,"
        " 422, and nothing is skipped",
    )

    @model_validator(mode="before")
    @classmethod
    def _reason_asked_for(cls, data: Any) -> Any:
        # a reason left out (or null) is refused in the same words as a blank one, not pydantic's "Field required"
        if isinstance(data, dict) and data.get("reason") is None:
            return {**data, "reason": ""}
        return data


_Skip = TypeVar("_Skip", bound=SkipRequest)


class ParkedView(BaseModel):
    """A parked message as operators see it (`ParkedRow.view`): never its value, which may hold personal data."""

    id: int = Field(description="what a retry, skip or value read of it names")
    consumer: str
    topic: str
    partition: int
    offset: int
    key: str | None = Field(description="the message key (a batch id, a ULN, an AO id), as text; none: keyless")
    reason: str = Field(description="`error`: the poison; `blocked`: held behind an earlier one of its key")
    error: str | None = Field(description="why it could not be applied (a poison's)")
    attempts: int
    event_id: str | None
    event_type: str | None
    parked_at: datetime = Field(description="when it was parked")


class ParkedPage(BaseModel):
    parked: list[ParkedView]
    total: int = Field(description="every parked message the filters match, however many are listed")


class DeadLetterActionView(BaseModel):
    """An operator's retry or skip of a parked message (`DeadLetterAction.view`)."""

    action: str = Field(description="`retry` or `skip`")
    operator: str
    reason: str | None
    replaced: bool = Field(
        description="a corrected copy was given in the message's place (the outcome says whether it applied)"
    )
    consumer: str
    topic: str
    partition: int
    offset: int
    event_id: str | None
    event_type: str | None
    applied: int
    skipped: int
    still_parked: int
    duplicates: int | None = Field(
        description="the events a retry found applied already (the PLR projector counts them; none elsewhere)"
    )
    acted_with_key: str | None = Field(
        default=None,
        description="the id of the API key the operator acted with (a portal user's session key too): the principal"
        " is whatever the key's maker chose, the key says which key it was; null for actions before it was kept",
    )
    acted_at: datetime | None = Field(description="when")


class DeadLetterActions(BaseModel):
    actions: list[DeadLetterActionView] = Field(description="newest first")


class ReplayResultView(BaseModel):
    """What a retry or skip of one key's parked messages did (`ReplayResult.view`)."""

    consumer: str
    topic: str
    key: str | None
    applied: int
    skipped: int
    still_parked: int = Field(description="parked still: the head failed again, or what waited behind it")
    error: str | None = Field(description="why the head failed again, if it did")
    poison_id: int | None = Field(
        description="when messages stay parked, the id of the one now at the key's head, its poison: what a next"
        " retry or skip names (another id than the one named when a message held behind it failed); else null"
    )


class Replayed(BaseModel):
    results: list[ReplayResultView]


def _office(request: Request) -> DeadLetterOffice:
    office: DeadLetterOffice = request.app.state.dead_letter_office
    return office


async def _replayed(action: Any) -> dict[str, Any]:
    try:
        result: ReplayResult = await action
    except NotParked as error:
        raise ProblemError(404, "Nothing parked", str(error)) from error
    except CannotReplay as error:
        raise ProblemError(409, "Cannot re-apply", str(error)) from error
    except NotACorrectedCopy as error:
        raise ProblemError(422, "Not a corrected copy of the parked message", str(error)) from error
    except Exception as error:
        if classify_failure(error) is Failure.TRANSIENT:
            raise ProblemError(503, "Unavailable", f"try again later: {type(error).__name__}") from error
        raise
    return {"results": [result.view()]}


@router.get(
    "",
    summary="Parked messages of this service: per key, the poison first, then those held behind it",
    description="The first `limit`; `total` counts every parked message the filters match.",
    openapi_extra=operator_scope(OperatorScope.DEAD_LETTERS),
    response_model=ParkedPage,
)
async def dlq_list(
    principal: Operator,
    request: Request,
    consumer: Annotated[OneLineText | None, Query(max_length=200)] = None,
    topic: Annotated[OneLineText | None, Query(max_length=249)] = None,
    key: Annotated[
        OneLineText | None, Query(max_length=1_000, description="the message key: a batch id, a ULN, an AO id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> dict[str, Any]:
    rows, total = await _office(request).listing(consumer, topic, key, limit)
    return {"parked": [row.view() for row in rows], "total": total}


@router.get(
    "/actions",
    summary="The retries and skips operators made of this service's parked messages, newest first",
    description="Who, when, which message (its topic, partition, offset and event), the reason given for a skip,"
    " whether a corrected copy was given, and what followed; kept after the parked messages are gone.",
    openapi_extra=operator_scope(OperatorScope.DEAD_LETTERS),
    response_model=DeadLetterActions,
)
async def dlq_actions(
    principal: Operator, request: Request, limit: Annotated[int, Query(ge=1, le=10_000)] = 100
) -> dict[str, Any]:
    return {"actions": [action.view() for action in await _office(request).actions(limit)]}


@router.get(
    "/{parked_id}",
    summary="A parked message's stream: every message parked under its consumer, topic and key, poison first",
    description="What a retry or skip of `parked_id` acts on, however many other messages are parked.",
    responses=problem_responses(404),
    response_model=ParkedPage,
    openapi_extra=operator_scope(OperatorScope.DEAD_LETTERS),
)
async def dlq_stream(
    parked_id: Annotated[int, Path(ge=1, le=LARGEST_BIGINT)], principal: Operator, request: Request
) -> dict[str, Any]:
    try:
        rows = await _office(request).stream(parked_id)
    except NotParked as error:
        raise ProblemError(404, "Nothing parked", str(error)) from error
    return {"parked": [row.view() for row in rows], "total": len(rows)}


VALUE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The message's value, byte for byte as its consumer read it from the log: as JSON when it"
        " reads as JSON (an event's envelope, to mend into a corrected copy), else as bytes. It may hold personal"
        " data, sealed or not: keep what you save of it as safely as the LRS does, and delete it once used.",
        "content": {
            JSON_MEDIA_TYPE: {"schema": {}},
            BYTES_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
    },
}


def value_response(value: bytes) -> Response:
    """A parked message's value as served (`VALUE_RESPONSES`): never sniffed as another type by a browser."""
    return Response(value, media_type=value_media_type(value), headers={"X-Content-Type-Options": "nosniff"})


@router.get(
    "/{parked_id}/value",
    summary="A parked message's value: the bytes to mend into a corrected copy (`lrs dlq show`)",
    description="The table keeps every parked message's value, also when its copy on `<topic>.dlq` was sent"
    " without it (too large): this is the one place to read it from without a Kafka client. 404 when the message"
    " had no value (a tombstone). Never logged; who read which message is. The `support` scope's, not"
    " `dead-letters`': a value may hold a learner's achievements or an AO's staff address, which only support reads"
    " (decision 0122).",
    response_class=Response,
    responses={
        **VALUE_RESPONSES,
        404: problem_responses(404)[404]
        | {
            "description": "No message is parked under this id, or PARKED_VALUE_NOT_KEPT: the message had no value (a"
            " tombstone), so there are no bytes to mend"
        },
    },
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def dlq_value(
    parked_id: Annotated[int, Path(ge=1, le=LARGEST_BIGINT)], principal: Operator, request: Request
) -> Response:
    office = _office(request)
    try:
        row = await office.message(parked_id)
    except NotParked as error:
        raise ProblemError(404, "Nothing parked", str(error)) from error
    if row.value is None:
        if office.reapplies(row.consumer):
            then = "Skip it, or retry it once its consumer takes such a message."
        else:  # a retry answers 409 whatever is mended: advising one sent the operator round in circles
            then = f"Skip it: {row.consumer} cannot apply it again, not even a corrected copy (a retry answers 409)."
        raise ProblemError(
            404,
            NO_VALUE,
            f"parked message {parked_id} had no value (a tombstone) at {row.topic} partition {row.partition} offset"
            f" {row.offset}, nor has its copy on {row.topic}.dlq: there are no bytes to mend. {then}",
            code=ProblemCode.PARKED_VALUE_NOT_KEPT,
        )
    _log.info("parked_value_read", operator=str(principal), parked_id=parked_id, consumer=row.consumer)
    return value_response(row.value)


@router.post(
    "/{parked_id}/retry",
    summary="Apply a parked message's key again, in order, from its head (a corrected copy in its place, if sent)",
    responses=problem_responses(404, 409, 422, 503),
    response_model=Replayed,
    openapi_extra=operator_scope(OperatorScope.DEAD_LETTERS),
)
async def dlq_retry(
    parked_id: Annotated[int, Path(ge=1, le=LARGEST_BIGINT)],
    principal: Operator,
    request: Request,
    body: Annotated[RetryRequest | None, Body()] = None,
) -> dict[str, Any]:
    replacement = None
    if body is not None and body.replacement is not None:
        try:
            replacement = json.dumps(body.replacement, allow_nan=False).encode()
        except ValueError as error:  # NaN or Infinity: no JSON reader of the LRS takes them
            raise ProblemError(
                422, "Not a corrected copy of the parked message", f"body.replacement: {error}"
            ) from None
    return await _replayed(_office(request).retry(parked_id, str(principal), replacement, with_key=principal.key_id))


@router.post(
    "/{parked_id}/skip",
    summary="Drop the poison at the head of a parked message's key and apply the rest",
    responses=problem_responses(404, 409, 503),
    response_model=Replayed,
    # the body is required (`{"reason": "…"}`); it is taken as optional only to refuse its absence in the words a
    # blank reason is refused with
    openapi_extra={**operator_scope(OperatorScope.DEAD_LETTERS), "requestBody": {"required": True}},
)
async def dlq_skip(
    parked_id: Annotated[int, Path(ge=1, le=LARGEST_BIGINT)],
    principal: Operator,
    request: Request,
    body: Annotated[SkipRequest | None, Body()] = None,
) -> dict[str, Any]:
    body = skip_asked(body)
    return await _replayed(_office(request).skip(parked_id, str(principal), body.reason, with_key=principal.key_id))


def skip_asked(body: _Skip | None) -> _Skip:
    """A skip's request, refused (422, in the words of a blank reason) when it was sent with no body at all."""
    if body is None:
        missing = {"type": "value_error", "loc": ("body", "reason"), "msg": SKIP_REASON_MISSING}
        raise RequestValidationError([missing | {"ctx": {"error": SKIP_REASON_MISSING}}])
    return body


class Reporting(Protocol):
    """A consumer on `/readyz`: `PoisonGuard`, or a loop of another shape (`readiness_report`)."""

    name: str

    async def readiness(self) -> str: ...


def serve_dead_letters(app: FastAPI, office: DeadLetterOffice, *consumers: Reporting) -> None:
    """From the lifespan: the office behind `router` (included when the app is built), each consumer on `/readyz`."""
    app.state.dead_letter_office = office
    readiness(app, **{f"consumer {consumer.name}": consumer.readiness for consumer in consumers})
