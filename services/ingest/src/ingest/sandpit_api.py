"""HTTP: the Sandpit's resets (`ingest.sandpit`). An AO empties its own Sandpit, an operator any AO's, and
operators purge the AOs idle for long; each reset is followed at `/v1/sandpit/resets/{reset_id}`. Only a
Sandpit instance serves these routes."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from ingest.maintenance_api import Maintenance
from ingest.sandpit import ResetNotQueued, ResetView, SandpitResets
from lrs_contracts.codes import ProblemCode
from lrs_contracts.identifiers import AoIdText
from lrs_platform.authentication import CurrentPrincipal, operator_caller
from lrs_platform.identity import OperatorScope, Principal, PrincipalKind, operator_scope
from lrs_platform.problems import ProblemError, problem_responses


class ResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ao_id: AoIdText | None = Field(
        default=None,
        description="operators name the AO (e.g. RN9093); an AO resets only its own",
    )


class PurgeView(BaseModel):
    idle_days: int
    resets: list[ResetView]


router = APIRouter(prefix="/v1", tags=["sandpit"])


async def _resetting_caller(principal: CurrentPrincipal) -> Principal:
    """An AO or an operator: as a dependency it refuses any other caller (403) before the route reads the body or
    the reset's id, so a learner or a provider is told it may not, not what is wrong with what it sent (decision
    0032)."""
    if principal.kind is not PrincipalKind.AO and not principal.is_operator:
        raise ProblemError(403, "Forbidden", f"Resets are not open to {principal.kind.value} callers.")
    return principal


ResettingCaller = Annotated[Principal, Depends(_resetting_caller)]
Operator = Annotated[Principal, Depends(operator_caller("Only operators purge the Sandpit."))]


def _resets(request: Request) -> SandpitResets:
    resets: SandpitResets = request.app.state.sandpit_resets
    return resets


def _register(request: Request) -> Collection[str]:
    register: Collection[str] = request.app.state.register
    return register


def _ao_to_reset(principal: Principal, body: ResetRequest | None, register: Collection[str]) -> str:
    """The AO whose Sandpit `principal` resets: an AO its own (its key is only issued for an AO in the register,
    decision 0131), an operator the one it names, which must be in the `register`: a mistyped number would be
    reset, nothing deleted, and "completed" said of it."""
    named = body.ao_id if body else None
    if principal.kind is PrincipalKind.AO:
        if named not in (None, principal.id):
            raise ProblemError(403, "Forbidden", "An AO resets only its own Sandpit.")
        return principal.id
    if principal.is_operator:
        if not named:
            raise ProblemError(422, "AO required", 'Name the AO to reset: {"ao_id": "RN9093"}.')
        if named not in register:
            raise ProblemError(
                422,
                "Not an awarding organisation",
                f"{named} is not an awarding organisation in the register: check the number. Nothing was reset.",
                ProblemCode.INVALID_REQUEST,
            )
        return named
    raise ProblemError(403, "Forbidden", f"Resets are not open to {principal.kind.value} callers.")


@router.post(
    "/sandpit/reset",
    status_code=202,
    summary="Empty the calling AO's Sandpit: its batches, achievement states and PLR entries",
    description="Applied in the AO's queue, after every batch it sent before; follow it at "
    "`/v1/sandpit/resets/{reset_id}` until `completed`. Other AOs' Sandpits are untouched. An operator names an"
    " AO in the register (`ao_id`); any other is 422 `INVALID_REQUEST` and nothing is reset. 503 when Kafka did"
    " not take the reset in time: the reset is kept all the same (the problem's `reset_id` names it) and sent"
    " again until Kafka takes it; follow it rather than asking again.",
    responses=problem_responses(401, 403, 422, 503),
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def reset_sandpit(request: Request, principal: ResettingCaller, body: ResetRequest | None = None) -> ResetView:
    ao_id = _ao_to_reset(principal, body, _register(request))
    try:
        return await _resets(request).request(ao_id, str(principal))
    except ResetNotQueued as error:
        raise not_queued(error) from error


def not_queued(error: ResetNotQueued, before: str = "") -> ProblemError:
    """503 for a reset Kafka did not take in time, which is kept and sent again: asking again would only make a
    second reset, applied after the batches sent meanwhile."""
    follow = f"/v1/sandpit/resets/{error.reset_id}"
    return ProblemError(
        503,
        "Kafka unavailable",
        f"{before}Kafka did not take the reset in time ({error.reason}). The reset is kept as {error.reset_id},"
        " pending: ingest sends it again until Kafka takes it (it may have reached Kafka already), and it is then"
        " applied in the AO's queue like any reset. Do not ask for another: follow this one at"
        f" {follow} until it is completed, and send no batch meanwhile (one queued before the reset is reset with it).",
        reset_id=str(error.reset_id),
    )


@router.get(
    "/sandpit/resets/{reset_id}",
    summary="A Sandpit reset: pending, or completed once every Sandpit service has applied it",
    description="A pending reset behind a batch of the AO's that a Sandpit maintenance window or pause holds carries"
    " `maintenance` (as that batch's view does): it is applied after that batch, once the maintenance ends.",
    responses=problem_responses(401, 403, 404),
    # support resets an AO's Sandpit, maintenance purges idle ones: each follows the resets it made
    openapi_extra=operator_scope(OperatorScope.SUPPORT, OperatorScope.MAINTENANCE),
)
async def reset_status(
    request: Request, principal: ResettingCaller, maintenance: Maintenance, reset_id: uuid.UUID
) -> ResetView:
    view = await _resets(request).store.get(reset_id, await maintenance.closure())
    if view is None or not (
        principal.is_operator or (principal.kind is PrincipalKind.AO and principal.id == view.ao_id)
    ):
        raise ProblemError(404, "Unknown reset", f"No reset {reset_id} of yours.")
    return view


@router.post(
    "/admin/sandpit/purge",
    status_code=202,
    summary="Reset every AO with no Sandpit batch for `idle_days` days (operators; a daily CronJob)",
    responses=problem_responses(401, 403, 503),
    openapi_extra=operator_scope(OperatorScope.MAINTENANCE),
)
async def purge_sandpit(
    request: Request, principal: Operator, idle_days: Annotated[int, Query(ge=1, le=3650)] = 90
) -> PurgeView:
    resets = _resets(request)
    views: list[ResetView] = []
    for ao_id in await resets.store.idle_aos(idle_days):
        try:
            views.append(await resets.request(ao_id, str(principal)))
        except ResetNotQueued as error:
            raise not_queued(
                error,
                f"{len(views)} resets were queued, then the one of {ao_id} was not, nor were the idle AOs'"
                " after it (purge again once Kafka is back). ",
            ) from error
    return PurgeView(idle_days=idle_days, resets=views)
