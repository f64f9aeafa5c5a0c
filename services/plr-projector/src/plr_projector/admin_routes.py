"""The operators' admin API on the projection: its status, dead letters, rebuild and replay."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from lrs_contracts.codes import ProblemCode
from lrs_contracts.identifiers import ULN_PATTERN, UkprnText
from lrs_contracts.text import OneLineText, StorableText
from lrs_domain.identifiers import mask_uln
from lrs_platform.database import LARGEST_BIGINT
from lrs_platform.identity import OperatorScope, operator_scope
from lrs_platform.logging import get_logger
from lrs_platform.paging import InvalidPageToken
from lrs_platform.parking_api import NO_VALUE, VALUE_RESPONSES, skip_asked, value_response
from lrs_platform.parking_api import SkipRequest as ReasonedSkip
from lrs_platform.problems import ProblemError, handle_problem, problem_responses
from plr_projector.admin_models import (
    DeadLetterActions,
    DrainResults,
    ParkedEvents,
    ProjectorStatus,
    RebuildAbandoned,
    RebuildComparison,
    RebuildStatus,
    RebuildSwitched,
    ReplayStatus,
)
from plr_projector.endpoints import Operator, Projector, ProjectorDep, _refuse_mistyped_uln
from plr_projector.operations import OperationError, Refusal
from plr_projector.store import HiddenReportsPosition

# named as before the split: the `logger` field of its log lines stays what it was
_log = get_logger("plr_projector.api")


def _require_live_projection(projector: Projector) -> None:
    if not projector.takes_operator_actions:
        raise ProblemError(
            409,
            "Not the projector that writes",
            "This projector only reads (PROJECTOR_RUN_CONSUMER=false): ask for the projection's status, and retry,"
            " skip, replay and rebuild, on the one that runs the live projection (on Kubernetes the plr-projector"
            " Service, not plr-reader).",
        )


_REFUSAL_STATUS = {Refusal.NOTHING_TO_DO: 404, Refusal.NOT_NOW: 409, Refusal.INVALID: 422}
# what a route answering an operation's refusal (`operation_problem`) may answer besides its success
_REFUSALS = problem_responses(*sorted(set(_REFUSAL_STATUS.values())))


async def operation_problem(request: Request, error: Exception) -> JSONResponse:
    """An operation's refusal as the problem its routes answer (`_REFUSALS`): registered once on the app, for every
    route that runs one."""
    assert isinstance(error, OperationError)
    code = getattr(error, "code", None)  # a refusal of its own (`replays.SandpitLogExpired`); else the status's
    return await handle_problem(
        request, ProblemError(_REFUSAL_STATUS[error.refusal], error.title, error.detail, code=code)
    )


admin_router = APIRouter(prefix="/v1/admin", tags=["operations"], responses=problem_responses(401, 403))


class RetryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    replacement: dict[str, Any] | None = Field(
        default=None, description="a corrected envelope for the head event (kept for rebuilds)"
    )
    reason: StorableText | None = Field(default=None, max_length=500)


class ParkedPlace(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str = Field(min_length=1, max_length=249)
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)


class SkipRequest(ReasonedSkip):
    """A skip of a learner's first parked events: a reason required, as every consumer's skip asks for one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    heads: list[ParkedPlace] | None = Field(
        default=None,
        max_length=16,
        description="the first parked event of each of the learner's topics, as the operator confirmed them: the"
        " skip is refused (409, nothing skipped) unless they are the events it would drop now (the portal sends"
        " them; none: whatever is first)",
    )


@admin_router.get(
    "/projector",
    summary="Offsets, lag and counters of the live projection",
    description="A plr-reader refuses it (409): its live projection does not run, so its offsets, lag and counts"
    " would be those of its own start, never moving. Offsets and lag are keyed by the topics' names on the cluster:"
    " in the Sandpit, `sandpit.`…",
    response_model=ProjectorStatus,
    response_model_exclude_unset=True,  # a key the answer leaves out stays out: the idle `last`, a replay's result
    responses=problem_responses(409),
    openapi_extra=operator_scope(OperatorScope.REBUILD, OperatorScope.DEAD_LETTERS),
)
async def projector_status(principal: Operator, projector: ProjectorDep) -> dict[str, Any]:
    # a reader's live positions are what it read at its start, its lag what its idle client last fetched, its counts
    # 0: answered, they read as a projector stuck (the scale-out walk, finding 2)
    _require_live_projection(projector)
    async with projector.pool.acquire() as connection:
        depth = await projector.model.parked_depth(connection)
    live, topics = projector.live, projector.topics
    # topics by the names they have on the cluster (the Sandpit's are `sandpit.`…): what an operator looks up in Kafka
    return {
        "offsets": {
            f"{topics.physical(topic)}:{partition}": offset
            for (topic, partition), offset in sorted(live.positions.items())
        },
        "lag": {topics.physical(topic): behind for topic, behind in live.lag().items()},
        "events_handled": live.stats.events,
        "batches": live.stats.batches,
        "last_error": live.stats.last_error,
        "dead_letters": depth,
        "rebuild": projector.rebuilds.status(),
    }


class HiddenCentreReportsOfLink(BaseModel):
    uln: str = Field(description="the ULN the provider's registration link ended under, masked (`******0043`)")
    master_uln: str = Field(description="the ULN the learner's records go under (merges), masked")
    provider_ukprn: str
    hidden_reports: int = Field(description="its centre reports under any of the learner's ULNs, none of them shown")


class HiddenCentreReportsPage(BaseModel):
    links: list[HiddenCentreReportsOfLink]
    hidden_reports: int = Field(description="the centre reports hidden, of the links listed")
    more: bool = Field(description="more such links than `limit`: the next page starts at `next`")
    next: str | None = Field(
        default=None, description="where the next page starts: pass it as `after`; null on the list's last page"
    )


def _hidden_after(
    after: Annotated[
        str | None,
        Query(max_length=200, description="the `next` of the page before; absent or empty: the first page"),
    ] = None,
) -> HiddenReportsPosition | None:
    """The position the list goes on from; 422 for one that no page handed out (as `lrs_platform.paging_api`)."""
    if not after:
        return None
    try:
        return HiddenReportsPosition.of_token(after)
    except InvalidPageToken as error:
        raise ProblemError(422, "Invalid page position", str(error)) from error


@admin_router.get(
    "/centre-reports/hidden",
    summary="Centre reports the PLR hides because the provider's link ended (decision 0121)",
    description=(
        "The providers whose own registration of a ULN linked them to a learner until a learner file or an operator's"
        " merge said the ULN was another learner's (`lrs.learner.provider.unlinked.v1`), and that are linked to none"
        " of that learner's ULNs now: the PLR shows none of their centre reports for the learner, which are kept. Each"
        " provider once a learner, with how many reports are hidden, by UKPRN then ULN, `limit` at a time: a page with"
        " others after it says `more` and carries `next`, to pass back as `after` for the page after it (the position"
        " names no ULN; a link that ends while an operator pages may list the page before's last line again). With `uln` (any of the learner's ULNs), that learner's; with `ukprn`, that provider's."
        " An operator who finds the learner is truly that provider's links it again (`POST /v1/admin/learners/{uln}/providers`"
        " on validation, `lrs learners link`), which shows its reports again; ULNs are masked, as in the logs of the"
        " import or merge that ended the link. A ULN whose check digit is wrong is 422 `RV002`."
    ),
    responses=problem_responses(422),
    openapi_extra=operator_scope(OperatorScope.REGISTRY, OperatorScope.SUPPORT),
)
async def hidden_centre_reports(
    principal: Operator,
    projector: ProjectorDep,
    uln: Annotated[str | None, Query(pattern=ULN_PATTERN, description="any ULN of the learner")] = None,
    ukprn: Annotated[UkprnText | None, Query(description="the provider")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[HiddenReportsPosition | None, Depends(_hidden_after)] = None,
) -> HiddenCentreReportsPage:
    if uln is not None:
        _refuse_mistyped_uln(uln)
    async with (
        projector.pool.acquire() as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        found, following = await projector.model.hidden_centre_reports(
            connection, uln=uln, ukprn=ukprn, limit=limit, after=after
        )
    links = [
        HiddenCentreReportsOfLink(
            uln=mask_uln(each.uln),
            master_uln=mask_uln(each.master_uln),
            provider_ukprn=each.provider_ukprn,
            hidden_reports=each.hidden_reports,
        )
        for each in found
    ]
    return HiddenCentreReportsPage(
        links=links,
        hidden_reports=sum(each.hidden_reports for each in found),
        more=following is not None,
        next=following.token() if following else None,
    )


StreamKey = Annotated[OneLineText, Path(min_length=1, max_length=64, description="a ULN (or an achievement id)")]
ParkedTopic = Annotated[
    OneLineText | None,
    Query(max_length=249, description="only this topic's parked events: as contracts name it, or as the cluster does"),
]


def _logical(projector: Projector, topic: str | None) -> str | None:
    """The topic as parked events are kept under it: the Sandpit's `sandpit.lrs.plr.events.v1`, as Kafka and its
    other services name it, is `lrs.plr.events.v1` here."""
    return projector.topics.logical(topic) if topic else None


@admin_router.get(
    "/dlq",
    summary="Parked events: poison heads and the events waiting behind them",
    description="The first `limit`; `total` counts every parked event the filters match.",
    response_model=ParkedEvents,
    openapi_extra=operator_scope(OperatorScope.DEAD_LETTERS),
)
async def dlq_list(
    principal: Operator,
    projector: ProjectorDep,
    learner: Annotated[
        OneLineText | None, Query(max_length=64, description="stream key: a ULN (or an achievement id)")
    ] = None,
    topic: ParkedTopic = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> dict[str, Any]:
    parked, total = await projector.dead_letters.listing(learner, _logical(projector, topic), limit)
    return {"parked": parked, "total": total}


@admin_router.get(
    "/dlq/actions",
    summary="The retries and skips operators made of parked events, newest first",
    description="Who, when, which event (its topic, partition, offset and id), the reason given, whether a"
    " corrected copy was given, and what followed; kept after the parked events are gone, and every decision,"
    " where a rebuild honours only the latest at a position; and the batch whose event it was.",
    response_model=DeadLetterActions,
    openapi_extra=operator_scope(OperatorScope.DEAD_LETTERS),
)
async def dlq_actions(
    principal: Operator, projector: ProjectorDep, limit: Annotated[int, Query(ge=1, le=10_000)] = 100
) -> dict[str, Any]:
    return {"actions": [action.view() for action in await projector.dead_letters.actions(limit)]}


# Where the event a value route answers was read (its head's place on the log: `lrs dlq show` lists it by them)
PARKED_TOPIC_HEADER, PARKED_PARTITION_HEADER, PARKED_OFFSET_HEADER = (
    "LRS-Parked-Topic",
    "LRS-Parked-Partition",
    "LRS-Parked-Offset",
)


@admin_router.get(
    "/dlq/{uln}/value",
    summary="The value of a learner's first parked event: the bytes to mend into a corrected copy (`lrs dlq show`)",
    description="The event a retry with a `replacement` replaces: the first parked on `topic` (which must be named"
    " when the learner has events parked on several topics: 409). Its place on the log is in the headers. The"
    " table keeps every parked event's value, also when its copy on `<topic>.dlq` was sent without it (too"
    " large): this is the one place to read it from without a Kafka client. 404 when nothing is parked, or the"
    " event had no value (a tombstone). Never logged; who read which event is. The `support` scope's, not"
    " `dead-letters`': an event holds a learner's achievement, which only support reads (decision 0122).",
    response_class=Response,
    responses={
        **{
            status: answer
            | {
                "headers": {
                    PARKED_TOPIC_HEADER: {"description": "the event's topic", "schema": {"type": "string"}},
                    PARKED_PARTITION_HEADER: {"description": "its partition", "schema": {"type": "integer"}},
                    PARKED_OFFSET_HEADER: {"description": "its offset", "schema": {"type": "integer"}},
                }
            }
            for status, answer in VALUE_RESPONSES.items()
        },
        **_REFUSALS,
    },
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def dlq_value(
    uln: StreamKey, principal: Operator, projector: ProjectorDep, topic: ParkedTopic = None
) -> Response:
    head = await projector.dead_letters.head(uln, _logical(projector, topic))
    place = {
        PARKED_TOPIC_HEADER: head.topic,
        PARKED_PARTITION_HEADER: str(head.partition),
        PARKED_OFFSET_HEADER: str(head.offset),
    }
    if head.value is None:
        missing = ProblemError(
            404,
            NO_VALUE,
            f"The first parked event of this learner had no value (a tombstone) at {head.topic} partition"
            f" {head.partition} offset {head.offset}, nor has its copy on {projector.topics.dead_letters(head.topic)}:"
            " there are no bytes to mend. Skip it.",
            code=ProblemCode.PARKED_VALUE_NOT_KEPT,
        )
        missing.headers.update(place)
        raise missing
    _log.info(
        "parked_value_read", operator=str(principal), topic=head.topic, partition=head.partition, offset=head.offset
    )
    answer = value_response(head.value)
    answer.headers.update(place)
    return answer


@admin_router.post(
    "/dlq/{uln}/retry",
    summary="Re-run a learner's parked events in order",
    response_model=DrainResults,
    responses=_REFUSALS,
    openapi_extra=operator_scope(OperatorScope.DEAD_LETTERS),
)
async def dlq_retry(
    uln: StreamKey,
    principal: Operator,
    projector: ProjectorDep,
    topic: ParkedTopic = None,
    body: Annotated[RetryRequest | None, Body()] = None,
) -> dict[str, Any]:
    _require_live_projection(projector)
    replacement: bytes | None = None
    if body is not None and body.replacement is not None:
        replacement = json.dumps(body.replacement).encode()
    reason = body.reason if body else None
    results = await projector.dead_letters.retry(
        uln, _logical(projector, topic), str(principal), replacement, reason, with_key=principal.key_id
    )
    return {"results": results}


@admin_router.post(
    "/dlq/{uln}/skip",
    summary="Drop a learner's poison event and drain the rest",
    response_model=DrainResults,
    responses=_REFUSALS,
    openapi_extra=operator_scope(OperatorScope.DEAD_LETTERS),
)
async def dlq_skip(
    uln: StreamKey,
    principal: Operator,
    projector: ProjectorDep,
    topic: ParkedTopic = None,
    body: Annotated[SkipRequest | None, Body()] = None,
) -> dict[str, Any]:
    _require_live_projection(projector)
    body = skip_asked(body)
    heads = (
        {(_logical(projector, head.topic) or head.topic, head.partition, head.offset) for head in body.heads}
        if body.heads is not None
        else None
    )
    results = await projector.dead_letters.skip(
        uln, _logical(projector, topic), str(principal), body.reason, expected_heads=heads, with_key=principal.key_id
    )
    return {"results": results}


@admin_router.post(
    "/rebuild",
    status_code=202,
    summary="Start replaying the log into a fresh schema",
    response_model=RebuildStatus,
    response_model_exclude_unset=True,  # a key the answer leaves out stays out: the idle `last`, a replay's result
    responses=_REFUSALS,
    openapi_extra=operator_scope(OperatorScope.REBUILD),
)
async def rebuild_start(
    principal: Operator,
    projector: ProjectorDep,
    workers: Annotated[
        int | None,
        Query(
            ge=0,
            le=256,
            description="worker processes loading disjoint partitions with COPY (at most one per partition);"
            " 0 replays through the live code path; default: the projector's setting (PROJECTOR_REBUILD_WORKERS,"
            " else its cores). Where an indexed Job runs the workers (PROJECTOR_REBUILD_LAUNCH=external), any"
            " number but that setting or 0 is refused (422): the rebuild would wait for ever for a worker the Job"
            " does not run. Elsewhere more than PROJECTOR_REBUILD_MAX_WORKERS, if set, is refused (422): what the"
            " pod's memory holds",
        ),
    ] = None,
) -> dict[str, Any]:
    _require_live_projection(projector)
    return await projector.rebuilds.start(str(principal), workers)


@admin_router.get(
    "/rebuild",
    summary="Rebuild progress, ETA and the last comparison",
    response_model=RebuildStatus,
    response_model_exclude_unset=True,  # a key the answer leaves out stays out: the idle `last`, a replay's result
    responses=problem_responses(409),
    openapi_extra=operator_scope(OperatorScope.REBUILD),
)
async def rebuild_status(principal: Operator, projector: ProjectorDep) -> dict[str, Any]:
    _require_live_projection(projector)  # a rebuild is the writer's: a reader knows of none
    return projector.rebuilds.status()


@admin_router.post(
    "/rebuild/compare",
    summary="Compare the rebuilt model with the live one",
    response_model=RebuildComparison,
    responses=_REFUSALS,
    openapi_extra=operator_scope(OperatorScope.REBUILD),
)
async def rebuild_compare(principal: Operator, projector: ProjectorDep) -> dict[str, Any]:
    _require_live_projection(projector)
    return await projector.rebuilds.compare()


@admin_router.post(
    "/rebuild/switch",
    summary="Make the rebuilt schema the live one, atomically",
    response_model=RebuildSwitched,
    responses=_REFUSALS,
    openapi_extra=operator_scope(OperatorScope.REBUILD),
)
async def rebuild_switch(principal: Operator, projector: ProjectorDep) -> dict[str, Any]:
    _require_live_projection(projector)
    return await projector.rebuilds.switch(str(principal))


@admin_router.delete(
    "/rebuild",
    summary="Abandon the running rebuild and drop its schema",
    response_model=RebuildAbandoned,
    responses=_REFUSALS,
    openapi_extra=operator_scope(OperatorScope.REBUILD),
)
async def rebuild_abandon(principal: Operator, projector: ProjectorDep) -> dict[str, Any]:
    _require_live_projection(projector)
    return await projector.rebuilds.abandon(str(principal))


@admin_router.post(
    "/replay",
    status_code=202,
    summary="Re-project the learners with PLR events since an offset or time",
    response_model=ReplayStatus,
    response_model_exclude_unset=True,  # a key the answer leaves out stays out: the idle `last`, a replay's result
    responses=_REFUSALS,
    openapi_extra=operator_scope(OperatorScope.REBUILD),
)
async def replay_start(
    principal: Operator,
    projector: ProjectorDep,
    from_: Annotated[str, Query(alias="from", min_length=1, max_length=64)],
) -> dict[str, Any]:
    _require_live_projection(projector)
    return await projector.replays.start(from_, str(principal))


@admin_router.get(
    "/replay",
    summary="The last replay's state and result (or the one `replay_id` names: 404 if none has it)",
    response_model=ReplayStatus,
    response_model_exclude_unset=True,  # a key the answer leaves out stays out: the idle `last`, a replay's result
    openapi_extra=operator_scope(OperatorScope.REBUILD),
    responses=problem_responses(404),
)
async def replay_status(
    principal: Operator,
    projector: ProjectorDep,
    replay_id: Annotated[int | None, Query(ge=1, le=LARGEST_BIGINT)] = None,
) -> dict[str, Any]:
    return await projector.replays.status(replay_id)
