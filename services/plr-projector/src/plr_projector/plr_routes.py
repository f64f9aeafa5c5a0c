"""The PLR read API: learners, providers and AOs read achievements."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Query

from lrs_contracts.codes import ProblemCode
from lrs_contracts.identifiers import ULN_PATTERN, AoIdText
from lrs_platform.authentication import CurrentPrincipal, caller_of_kind
from lrs_platform.identity import OperatorScope, Principal, PrincipalKind, operator_scope
from lrs_platform.logging import get_logger
from lrs_platform.problems import ProblemError, problem_responses
from plr_projector.documents import AoAchievements, PersonalLearningRecord
from plr_projector.endpoints import Projector, ProjectorDep, Uln, _forbidden, _refuse_mistyped_uln
from plr_projector.read_your_writes import (
    BatchScope,
    InvalidMinOffsets,
    LogUnavailable,
    NotYetProjected,
    ReadYourWritesError,
    batch_scope,
    read_your_writes,
)
from plr_projector.views import (
    AccessDenied,
    Audience,
    LearnerErasedForProviders,
    LearnerGroup,
    audience_for,
    learning_events,
    withdrawn_not_shown,
)

# named as before the split: the `logger` field of its log lines stays what it was
_log = get_logger("plr_projector.api")


plr_router = APIRouter(tags=["plr"])

ONLY_AOS_OR_OPERATORS = "Only awarding organisations (or operators naming one) may use this view."
# the AO view's callers: as a dependency it refuses any other caller (403) before the ULN, the AO or the wait are
# read, so a learner or a provider is told it may not, not what is wrong with what it sent (decision 0032)
AoViewer = Annotated[
    Principal, Depends(caller_of_kind(ONLY_AOS_OR_OPERATORS, PrincipalKind.AO, PrincipalKind.OPERATOR))
]

EVENTS_HELD = ProblemCode.EVENTS_HELD_IN_DEAD_LETTERS


def _held_from_providers() -> ProblemError:
    """Fail closed: what is held may be the learner's choice not to share, or a withdrawal. The count is not said:
    a provider never learns what is held for an operator (decision 0011)."""
    return ProblemError(
        409,
        "PLR incomplete",
        "Some of this learner's events are held in dead letters, so their record may not be current (their choice"
        " of whether to share could be among them): it is not shown to providers until an operator resolves them."
        " Try again later.",
        code=EVENTS_HELD,
    )


def wait_problem(error: ReadYourWritesError) -> ProblemError:
    """The problem a read answers when it cannot wait for the write it names: 422 for `min_offsets` naming nothing
    projected here; 503 PROJECTION_PENDING when the wait is spent (`Retry-After: 1` only where trying again soon will
    see it); 503 when Kafka does not say where the PLR log ends (`Retry-After: 5`)."""
    match error:
        case InvalidMinOffsets():
            return ProblemError(422, "Invalid min_offsets", error.detail)
        case NotYetProjected():
            pending = ProblemError(503, "Not yet projected", error.detail, code=ProblemCode.PROJECTION_PENDING)
            if error.retry_after:
                pending.headers["Retry-After"] = "1"
            return pending
        case LogUnavailable():
            unavailable = ProblemError(503, "Log unavailable", error.detail)
            unavailable.headers["Retry-After"] = "5"
            return unavailable
    raise TypeError(f"no problem for {type(error).__name__}") from error


async def waited_for_writes(
    projector: Projector,
    min_offsets: str | None,
    after_batch: uuid.UUID | None,
    wait_ms: int | None,
    *,
    scope: BatchScope,
) -> dict[str, Any]:
    """`read_your_writes`, a wait it cannot make answered as its problem (`wait_problem`)."""
    try:
        return await read_your_writes(projector, min_offsets, after_batch, wait_ms, scope=scope)
    except ReadYourWritesError as error:
        raise wait_problem(error) from error


PROVIDER_SEES_CURRENT_ONLY = (
    "A provider sees a learner's current achievements only (decision 0012): withdrawn achievements and the history"
    " of an achievement are not shown to providers, so {asked} may not be true with a provider's key and nothing was"
    " read. Ask again without {asked}; for what an achievement was before, ask the learner, who reads their whole"
    " record, or the awarding organisation that recorded it."
)


def _refuse_what_providers_never_see(principal: Principal, *, include_withdrawn: bool, include_history: bool) -> None:
    """Told, not left out: answered without them, a provider would take the PLR for one with nothing withdrawn and
    no history."""
    if principal.kind is not PrincipalKind.PROVIDER:
        return
    flags = {"include_withdrawn": include_withdrawn, "include_history": include_history}
    if asked := [name for name, wanted in flags.items() if wanted]:
        _log.info("plr_read_refused", principal=principal.kind.value, asked=asked)
        raise ProblemError(403, "Not shown to providers", PROVIDER_SEES_CURRENT_ONLY.format(asked=" or ".join(asked)))


async def _reader_group(
    projector: Projector, connection: asyncpg.Connection, principal: Principal, uln: str
) -> LearnerGroup:
    """The learner `audience_for` decides on; for a provider, whose access turns on them, with its links and
    whether the learner was erased."""
    if principal.kind is not PrincipalKind.PROVIDER:
        return await projector.model.learner_group(connection, uln)
    group = await projector.model.learner_group(connection, uln, with_links=True)
    return dataclasses.replace(group, erased=await projector.model.any_erased(connection, group.ulns))


def _refused(principal: Principal, denied: AccessDenied) -> ProblemError:
    _log.info("plr_read_refused", principal=principal.kind.value, code=denied.code)
    if isinstance(denied, LearnerErasedForProviders):
        return ProblemError(410, "Learner erased", denied.detail, code=ProblemCode.LEARNER_ERASED)
    return _forbidden(denied.detail, denied.code)


async def _plr_document(
    projector: Projector,
    principal: Principal,
    uln: str,
    *,
    include_withdrawn: bool,
    include_history: bool,
    only_ao: str | None = None,
) -> dict[str, Any]:
    async with (
        projector.pool.acquire() as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        group = await _reader_group(projector, connection, principal, uln)
        try:
            audience = audience_for(principal, group)
        except AccessDenied as denied:
            raise _refused(principal, denied) from denied
        if only_ao is not None:
            audience = Audience(only_ao, centre_data=False, may_include_withdrawn=True, may_include_history=True)
        achievements = await projector.model.achievements(connection, group.ulns)
        held = await projector.model.parked_count_of_learner(
            connection, group.ulns, (row.achievement_id for row in achievements)
        )
        if held and principal.kind is PrincipalKind.PROVIDER:
            _log.info("plr_read_refused", principal=principal.kind.value, code=EVENTS_HELD.value)
            raise _held_from_providers()
        centre = await projector.model.centre(connection, group.ulns) if audience.centre_data else []
        if (
            principal.kind in (PrincipalKind.PROVIDER, PrincipalKind.LEARNER)
            and not group.registered
            and not achievements
            and not centre
        ):
            raise ProblemError(
                404,
                "Learner not found",
                "No Personal Learning Record exists for this ULN.",
                code=ProblemCode.LEARNER_NOT_FOUND,
            )
        challenged = await projector.model.challenged(connection, [row.achievement_id for row in achievements])
        # said to an AO that recorded something for the learner (whose every record for them is refused RV004
        # anyway), so that it is not offered changes it cannot make; never to one probing ULNs it has no record of.
        # In its view of the learner (`only_ao`) and in its PLR read alike (what an MIS and `lrs plr show` read)
        viewing_ao = only_ao if only_ao is not None else audience.ao_id if principal.kind is PrincipalKind.AO else None
        recorded = viewing_ao is not None and any(row.ao_id == viewing_ao for row in achievements)
        erased = recorded and await projector.model.any_erased(connection, group.ulns)
        # an operator's own read says whether the learner was erased: providers are refused (410) and every AO's
        # record for them RV004, which its sharing line would otherwise hide (incident walk, finding 3)
        operator_read = principal.kind is PrincipalKind.OPERATOR and only_ao is None
        erased_for_operator = operator_read and (
            group.erased or await projector.model.any_erased(connection, group.ulns)
        )
        history = (
            await projector.model.history(connection, group.ulns, audience.ao_id)
            if include_history and audience.may_include_history
            else {}
        )
    master_uln: str | None = group.master_uln
    ulns = list(group.ulns)
    if principal.kind is PrincipalKind.AO:
        # an AO learns the learner's other ULNs only where it recorded something: merges are registry data, and
        # a merge it cannot see reads as no merge at all (the ULN asked for is its own master)
        ulns = sorted({uln} | {row.uln for row in achievements if row.ao_id == audience.ao_id})
        master_uln = master_uln if master_uln in ulns else uln
    return {
        "environment": projector.topics.environment.value,
        "uln": uln,
        "master_uln": master_uln,
        "ulns": ulns,
        # null to an AO, and for a ULN the registry never registered: no learner made a sharing choice there
        "ability_to_share": group.ability_to_share
        if principal.kind is not PrincipalKind.AO and group.registered
        else None,
        "learning_events": learning_events(
            audience,
            achievements,
            centre,
            challenged,
            history,
            include_withdrawn=include_withdrawn,
            include_history=include_history,
        ),
        # null to a provider, which may not ask for them (403): a count would tell it of withdrawals it may not
        # see, and 0 would say there are none
        "withdrawn_not_shown": None
        if principal.kind is PrincipalKind.PROVIDER
        else withdrawn_not_shown(audience, achievements, include_withdrawn=include_withdrawn),
        # the learner's and operators' only: an AO reads any ULN, and a count of held registry events (an opt-out,
        # an erasure) or of ULNs merged out of its sight would tell it what it may not know
        "events_held_in_dead_letters": held
        if principal.kind in (PrincipalKind.LEARNER, PrincipalKind.OPERATOR)
        else None,
        # the AO view's (`AoAchievements`), and an AO's own PLR read (`PersonalLearningRecord`)
        **({"learner_erased": erased} if viewing_ao is not None else {}),
        **({"erased": erased_for_operator} if operator_read else {}),  # an operator's read (`PersonalLearningRecord`)
    }


@plr_router.get(
    "/v1/learners/{uln}/plr",
    summary="A learner's Personal Learning Record, as the caller may see it",
    description=(
        "The learner reads their own; an AO only what it uploaded; a provider only a learner it is linked to"
        " (403 `PROVIDER_NOT_LINKED`, decision 0121), not one erased under any of their ULNs (410 `LEARNER_ERASED`),"
        " only while they share (403 `WSEC0206`), and not while any of the"
        " learner's events are held in dead letters (409 `EVENTS_HELD_IN_DEAD_LETTERS`: the learner's choice not to"
        " share could be one); operators everything. A provider sees the learner's current achievements only:"
        " asked with `include_withdrawn` or `include_history` true it is refused (403, title 'Not shown to"
        " providers', code `FORBIDDEN`), nothing read (decision 0012), rather than answered without them; the"
        " learner, or the awarding organisation that recorded an achievement, can tell it what the achievement was"
        " before. An AO's read says `learner_erased` (true only when it has achievements of an erased learner, as"
        " `GET /v1/ao/achievements` does), an operator's `erased`."
        " A ULN no learner can have is 422 before any of that: a wrong check digit `RV002`, the temporary ULN"
        " `RV003`."
    ),
    response_model=None,  # the document `views` builds, described (not rebuilt) by `PersonalLearningRecord`
    responses={
        200: {"model": PersonalLearningRecord},
        **problem_responses(401, 403, 404, 409, 410, 422, 503),
        404: problem_responses(404)[404]
        | {
            "description": "LEARNER_NOT_FOUND: a learner's or a provider's read of a ULN with no record at all (not"
            " registered, no achievements, no centre reports)"
        },
    },
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def read_plr(
    uln: Uln,
    principal: CurrentPrincipal,
    projector: ProjectorDep,
    include_withdrawn: Annotated[
        bool, Query(description="put in withdrawn achievements too (not with a provider's key: 403)")
    ] = False,
    include_history: Annotated[
        bool, Query(description="put in each achievement's versions, oldest first (not with a provider's key: 403)")
    ] = False,
    min_offsets: Annotated[str | None, Query(description="wait until these offsets are projected")] = None,
    after_batch: Annotated[
        uuid.UUID | None,
        Query(
            description="wait until this batch is projected (with an AO's key: one of its own; with a learner's or a"
            " provider's: one with an event on this PLR, any other answering as an unknown id does); a batch that put"
            " nothing on the PLR answers 503 after the wait, without Retry-After: ask ingest for its status first;"
            " `consistency.batch_events_held` then says how many of the batch's events on this PLR are held in dead"
            " letters (an AO's or an operator's read: of the whole batch)"
        ),
    ] = None,
    wait_ms: Annotated[int | None, Query(ge=0, le=60_000)] = None,
) -> dict[str, Any]:
    _refuse_mistyped_uln(uln)
    _refuse_what_providers_never_see(principal, include_withdrawn=include_withdrawn, include_history=include_history)
    group = await _may_read(projector, principal, uln)  # before any wait: a refused caller learns nothing of a batch
    scope = batch_scope(principal, group.ulns)
    consistency = await waited_for_writes(projector, min_offsets, after_batch, wait_ms, scope=scope)
    document = await _plr_document(
        projector, principal, uln, include_withdrawn=include_withdrawn, include_history=include_history
    )
    if consistency:
        document["consistency"] = await _on_this_plr(projector, consistency, after_batch, document["ulns"], scope)
    return document


async def _may_read(projector: Projector, principal: Principal, uln: str) -> LearnerGroup:
    async with projector.pool.acquire() as connection:
        group = await _reader_group(projector, connection, principal, uln)
    try:
        audience_for(principal, group)
    except AccessDenied as denied:
        raise _refused(principal, denied) from denied
    return group


async def _on_this_plr(
    projector: Projector,
    consistency: dict[str, Any],
    after_batch: uuid.UUID | None,
    ulns: list[str],
    scope: BatchScope,
) -> dict[str, Any]:
    """`batch_events_applied` counts the batch's events on the PLR read, not the whole batch's: another
    AO's batch is not a reader's to measure. `batch_events_held`, those the projector holds parked, as `after_batch`
    was judged (`scope`, decision 0003): a learner or provider, under the ULNs of their read only, never another
    learner's; an AO and an operator, the whole batch's, the batch being the AO's (the wait found an event of it
    the AO recorded, else it answered 503), whose page says how many of its records are not on learners' records."""
    if after_batch is not None:
        async with projector.pool.acquire() as connection:
            consistency["batch_events_applied"] = await projector.model.batch_events_applied(
                connection, after_batch, ulns, ao_id=scope.ao_id
            )
            consistency["batch_events_held"] = await projector.model.batch_events_held(
                connection, after_batch, scope.ulns
            )
    return consistency


@plr_router.get(
    "/v1/ao/achievements",
    summary="The achievements the calling AO uploaded for a learner (and ULNs merged with them)",
    response_model=None,
    responses={200: {"model": AoAchievements}, **problem_responses(401, 403, 422, 503)},
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def ao_achievements(
    principal: AoViewer,
    projector: ProjectorDep,
    uln: Annotated[str, Query(pattern=ULN_PATTERN)],
    ao_id: Annotated[AoIdText | None, Query(description="operators only: the AO to look at")] = None,
    include_withdrawn: bool = True,
    include_history: bool = False,
    min_offsets: str | None = None,
    after_batch: Annotated[
        uuid.UUID | None,
        Query(
            description="wait until this batch, one of the AO's own, is projected: judged by its events on any"
            " learner's record, this one's or not (decision 0012); `consistency.batch_events_held` then says how many"
            " of the whole batch's events are held in dead letters, off learners' records until an operator resolves"
            " them. Another AO's batch, or one that put nothing on the PLR, answers 503 after the wait, without"
            " Retry-After"
        ),
    ] = None,
    wait_ms: Annotated[int | None, Query(ge=0, le=60_000)] = None,
) -> dict[str, Any]:
    if principal.kind is PrincipalKind.AO:
        if ao_id is not None and ao_id != principal.id:
            raise _forbidden("An awarding organisation sees only its own achievements.")
        viewer_ao = principal.id
    elif principal.is_operator and ao_id:
        viewer_ao = ao_id
    else:
        raise _forbidden(ONLY_AOS_OR_OPERATORS)  # an operator naming no AO
    _refuse_mistyped_uln(uln)
    scope = batch_scope(principal, ())  # an AO's or an operator's: no ULNs scope them
    consistency = await waited_for_writes(projector, min_offsets, after_batch, wait_ms, scope=scope)
    document = await _plr_document(
        projector,
        principal,
        uln,
        include_withdrawn=include_withdrawn,
        include_history=include_history,
        only_ao=viewer_ao,
    )
    document["ao_id"] = viewer_ao
    document.pop("ability_to_share", None)
    if consistency:
        document["consistency"] = await _on_this_plr(projector, consistency, after_batch, document["ulns"], scope)
    return document
