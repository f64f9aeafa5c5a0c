"""HTTP: the maintenance schedule. Anyone signed in reads it (`GET /v1/maintenance`); operators change it
(`/v1/admin/maintenance...`), each change recorded with who made it and when, then announced to the
consumers (`ingest.maintenance`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from ingest.maintenance import (
    AlreadyPaused,
    InvalidWindow,
    MaintenanceAnnouncer,
    MaintenanceError,
    MaintenanceStore,
    NotPaused,
    PauseRecord,
    UnknownWindow,
    WindowAlreadyClosed,
    WindowRecord,
)
from lrs_contracts.envelope import utc_now
from lrs_contracts.operations import MaintenancePause, MaintenanceWindow
from lrs_contracts.text import StorableText
from lrs_platform.authentication import CurrentPrincipal, operator_caller
from lrs_platform.environment import environment_of
from lrs_platform.identity import OperatorScope, Principal, operator_scope
from lrs_platform.logging import get_logger
from lrs_platform.maintenance import bidi_control_in_reason, closure_at
from lrs_platform.problems import Problem, problem_response, problem_responses

_log = get_logger("ingest.maintenance")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ActiveMaintenance(_Model):
    reason: str
    until: datetime | None = Field(description="when batches are decided again; null: when an operator resumes")
    paused: bool = Field(description="an unplanned pause rather than a planned window")
    message: str


class MaintenanceSchedule(_Model):
    """What every caller may know: the windows not yet over, the pause if one is on, and what holds now."""

    active: ActiveMaintenance | None = Field(description="set while batches are accepted but not decided")
    windows: list[MaintenanceWindow] = Field(description="planned windows not yet over, earliest first")
    pause: MaintenancePause | None


def _said(reason: str) -> str:
    if not reason.strip():
        raise ValueError("is blank: say what the maintenance is for")
    if bidi := bidi_control_in_reason(reason):
        raise ValueError(f"holds {bidi}: type it again without it")
    return reason


# A reason goes into PostgreSQL, onto the maintenance topic and into every batch answer while it holds:
# nothing `lrs_contracts.text` refuses, something said, and no bidirectional control (every AO reads it).
Reason = Annotated[StorableText, AfterValidator(_said)]


class WindowRequest(_Model):
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: Reason = Field(min_length=1, max_length=500, description="what the window is for; shown to every caller")


class PauseRequest(_Model):
    reason: Reason = Field(min_length=1, max_length=500, description="what the pause is for; shown to every caller")


class MaintenanceHistory(_Model):
    windows: list[WindowRecord] = Field(description="newest first, cancelled and past ones too")
    pauses: list[PauseRecord] = Field(description="newest first")


class WindowChanged(_Model):
    window: WindowRecord
    published: bool = Field(description="false: Kafka did not take the new schedule yet; ingest keeps trying")


class PauseChanged(_Model):
    pause: PauseRecord
    published: bool = Field(description="false: Kafka did not take the new schedule yet; ingest keeps trying")


async def _store(request: Request) -> MaintenanceStore:
    store: MaintenanceStore = request.app.state.maintenance
    return store


async def _announcer(request: Request) -> MaintenanceAnnouncer:
    announcer: MaintenanceAnnouncer = request.app.state.maintenance_announcer
    return announcer


Maintenance = Annotated[MaintenanceStore, Depends(_store)]
Announcer = Annotated[MaintenanceAnnouncer, Depends(_announcer)]
Operator = Annotated[
    Principal, Depends(operator_caller("Only operators schedule maintenance, pause processing and read their history."))
]

router = APIRouter(prefix="/v1", tags=["maintenance"], responses=problem_responses(401, 503))


@router.get(
    "/maintenance",
    summary="The maintenance schedule: planned windows, an unplanned pause, what holds now",
    # anyone with a key reads it: an operator on call for dead letters or a rebuild needs to know of a pause
    openapi_extra=operator_scope(*OperatorScope),
)
async def current_schedule(request: Request, principal: CurrentPrincipal, store: Maintenance) -> MaintenanceSchedule:
    schedule = await store.current()
    if schedule is None:
        return MaintenanceSchedule(active=None, windows=[], pause=None)
    # the Sandpit's schedule says the Sandpit resumes, as its held batches do (`MaintenanceStore.closure`)
    closure = closure_at(schedule, utc_now(), environment_of(request))
    active = (
        ActiveMaintenance(reason=closure.reason, until=closure.until, paused=closure.paused, message=closure.message)
        if closure is not None
        else None
    )
    return MaintenanceSchedule(active=active, windows=list(schedule.windows), pause=schedule.pause)


@router.get(
    "/admin/maintenance",
    summary="The latest maintenance windows and pauses (`limit` of each, newest first), with who set and cancelled each and when",
    description=(
        'Read only, so the service desk reads it too ("down for us since 09:00" after a pause has ended): the'
        " `support` scope reaches it as well as `maintenance`; changing the schedule needs `maintenance`."
    ),
    responses=problem_responses(403),
    openapi_extra=operator_scope(OperatorScope.MAINTENANCE, OperatorScope.SUPPORT),
)
async def maintenance_history(
    principal: Operator, store: Maintenance, limit: Annotated[int, Query(ge=1, le=1_000)] = 200
) -> MaintenanceHistory:
    windows, pauses = await store.history(limit)
    return MaintenanceHistory(windows=windows, pauses=pauses)


@router.post(
    "/admin/maintenance/windows",
    summary="Schedule a maintenance window: batches are accepted but decided only after it",
    description=(
        "A window must end after it starts and after now, last at most 48 hours (the batches it holds wait on"
        " a topic kept for 7 days), and start at most 366 days from now (a later start is taken for a"
        " mistyped year); `starts_at` and `ends_at` carry their UTC offset. The reason is 1 to 500"
        " characters, not only spaces, with no control character other than tab and line breaks, no lone"
        " surrogate and no Unicode non-character. Anything else is refused with 422 naming the rule or"
        " the field. A window with the same start, end and reason as one neither cancelled nor over is that"
        " window asked for again: it is answered 200, and no second window is made."
    ),
    status_code=201,
    responses={
        **problem_responses(403, 422),
        200: {"model": WindowChanged, "description": "that window, scheduled before"},
    },
    openapi_extra=operator_scope(OperatorScope.MAINTENANCE),
)
async def schedule_window(
    body: WindowRequest, principal: Operator, store: Maintenance, announcer: Announcer, response: Response
) -> WindowChanged:
    record, new = await store.add_window(body.starts_at, body.ends_at, body.reason, str(principal), principal.key_id)
    if new:
        _log.info("maintenance_window_scheduled", window_id=str(record.window.window_id), by=str(principal))
    else:
        response.status_code = 200
    return WindowChanged(window=record, published=await announcer.announce())


@router.delete(
    "/admin/maintenance/windows/{window_id}",
    summary="Cancel a maintenance window; one under way ends now",
    description=(
        "A window cancelled already or over is answered 409 and nothing is changed: the problem's `detail` says who"
        " cancelled it and when, or when it ended, and its `window` is the window as it is (as a cancel answers it,"
        " `cancelled_by` and `cancelled_at` set, or null for a window that ran to its end)."
    ),
    responses=problem_responses(403, 404, 409, 422),
    openapi_extra=operator_scope(OperatorScope.MAINTENANCE),
)
async def cancel_window(
    window_id: uuid.UUID, principal: Operator, store: Maintenance, announcer: Announcer
) -> WindowChanged:
    record = await store.cancel_window(window_id, str(principal), principal.key_id)
    _log.info("maintenance_window_cancelled", window_id=str(window_id), by=str(principal))
    return WindowChanged(window=record, published=await announcer.announce())


@router.post(
    "/admin/maintenance/pause",
    summary="Pause deciding batches now, unplanned, until resumed (batches are still accepted)",
    description=(
        "The reason is 1 to 500 characters, not only spaces, with no control character other than tab and"
        " line breaks, no lone surrogate and no Unicode non-character; anything else is refused with 422"
        " naming `body.reason`. While a pause is on, another is answered 409 and nothing is changed: the"
        " problem's `detail` says who paused and when, with the pause's reason, and its `pause` is that pause (as"
        " a pause answers it). It is a 409 whatever the reason sent: a pause with the same reason is this one asked"
        " for again; with another, AOs still read the first one's reason."
    ),
    status_code=201,
    responses=problem_responses(403, 409, 422),
    openapi_extra=operator_scope(OperatorScope.MAINTENANCE),
)
async def pause(body: PauseRequest, principal: Operator, store: Maintenance, announcer: Announcer) -> PauseChanged:
    record = await store.pause(body.reason, str(principal), principal.key_id)
    _log.info("maintenance_paused", by=str(principal))
    return PauseChanged(pause=record, published=await announcer.announce())


@router.post(
    "/admin/maintenance/resume",
    summary="End the unplanned pause: the held batches are decided, in each AO's order",
    description=(
        "With no pause on, answered 409 and nothing is changed: the problem's `detail` says who resumed the last"
        " pause and when, and its `pause` is that pause (as a resume answers it; left out when there was none)."
    ),
    responses=problem_responses(403, 409),
    openapi_extra=operator_scope(OperatorScope.MAINTENANCE),
)
async def resume(principal: Operator, store: Maintenance, announcer: Announcer) -> PauseChanged:
    record = await store.resume(str(principal), principal.key_id)
    _log.info("maintenance_resumed", by=str(principal))
    return PauseChanged(pause=record, published=await announcer.announce())


MAINTENANCE_ERRORS: dict[type[MaintenanceError], tuple[int, str]] = {
    InvalidWindow: (422, "Invalid maintenance window"),
    UnknownWindow: (404, "Not found"),
    WindowAlreadyClosed: (409, "The window was cancelled or is over"),
    AlreadyPaused: (409, "Already paused"),
    NotPaused: (409, "Not paused"),
}


def _as_it_is(error: MaintenanceError) -> dict[str, Any]:
    """What a 409 carries beside its detail: the pause or window as it is now, in the shape a change answers it
    (`pause`, `window`), so that a change sent again (a retry after a lost answer, a second click, a second operator)
    can tell whether what it asked for is so already, and who made it so and when."""
    if isinstance(error, AlreadyPaused):
        return {"pause": error.pause.model_dump(mode="json")}
    if isinstance(error, NotPaused):
        return {"pause": error.last.model_dump(mode="json") if error.last is not None else None}
    if isinstance(error, WindowAlreadyClosed):
        return {"window": error.record.model_dump(mode="json")}
    return {}


async def _maintenance_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, MaintenanceError)
    status, title = MAINTENANCE_ERRORS[type(error)]
    problem = Problem(status=status, title=title, detail=str(error), instance=request.url.path, **_as_it_is(error))
    return problem_response(problem)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.add_exception_handler(MaintenanceError, _maintenance_error)
