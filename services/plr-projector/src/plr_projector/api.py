"""HTTP entrypoints: the PLR read API, centre data intake and the operators' admin API."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from lrs_contracts.codes import ProblemCode
from lrs_contracts.envelope import deterministic_id
from lrs_contracts.identifiers import AO_ID_PATTERN, ULN_PATTERN
from lrs_contracts.plr import CentreAchievementReported
from lrs_contracts.registry import encode, wrap
from lrs_contracts.text import OneLineText, StorableText, WrittenDate
from lrs_domain.identifiers import normalise_qan
from lrs_domain.rules import check_award_date, why_no_learner_has
from lrs_platform.authentication import CurrentPrincipal, operator_caller
from lrs_platform.clock import today_in_england
from lrs_platform.consumer import readiness_words
from lrs_platform.database import LARGEST_BIGINT
from lrs_platform.idempotency import UnusableIdempotencyKey, idempotency_key_of
from lrs_platform.identity import OperatorScope, Principal, PrincipalKind, operator_scope
from lrs_platform.logging import get_logger
from lrs_platform.problems import ProblemError, problem_responses
from plr_projector import centre_reports, credentials
from plr_projector.consumer import Runner, Topics
from plr_projector.credential_keys import (
    CredentialKeyAlreadyWithdrawn,
    CredentialKeyError,
    CredentialKeys,
    NoSuchCredentialKey,
    PublicKey,
)
from plr_projector.documents import AoAchievements, CentreReportAccepted, PersonalLearningRecord
from plr_projector.operations import DeadLetters, LogProbe, OperationError, Rebuilds, Refusal, Replays
from plr_projector.projection import PLR_TOPIC, PROJECTED_TOPICS
from plr_projector.store import ReadModel, TopicPartition
from plr_projector.views import (
    NOT_LINKED_DETAIL,
    PROVIDER_NOT_LINKED,
    AccessDenied,
    Audience,
    audience_for,
    learning_events,
)

SERVICE = "plr-projector"

_log = get_logger("plr_projector.api")


@dataclass
class Projector:
    """Everything the endpoints need; built in bootstrap."""

    pool: asyncpg.Pool
    live: Runner
    producer: AIOKafkaProducer
    topics: Topics
    probe: LogProbe
    dead_letters: DeadLetters
    rebuilds: Rebuilds
    replays: Replays
    read_wait_max_ms: int
    takes_operator_actions: bool = True
    """False in a reader (PROJECTOR_RUN_CONSUMER=false): its live projection does not run, so a retry, skip or
    replay here would change the model behind the back of the one that writes it."""
    parked_depth: dict[str, int] = field(default_factory=lambda: {"error": 0, "blocked": 0})
    """The parked events as last counted (`lrs_projector_dlq_depth`), for `/readyz`."""

    @property
    def model(self) -> ReadModel:
        return self.live.model

    async def readiness(self) -> str:
        """`/readyz`'s word on the live projection, as every consumer's (`lrs_platform.consumer.readiness_report`):
        never a failure, but how many events are parked and whether it is retrying one."""
        return readiness_words(self.parked_depth, self.live.attempts)


def projector_of(request: Request) -> Projector:
    projector: Projector = request.app.state.projector
    return projector


ProjectorDep = Annotated[Projector, Depends(projector_of)]
Operator = Annotated[Principal, Depends(operator_caller("Only operators may use the admin API."))]
Uln = Annotated[str, Path(pattern=ULN_PATTERN, description="Unique Learner Number (10 digits)")]


def _forbidden(detail: str, code: str | None = None) -> ProblemError:
    return ProblemError(403, "Forbidden", detail, code=code)


def _refuse_mistyped_uln(uln: str) -> None:
    """A ULN no learner can have is answered as such, before any access check. Refused as "not linked" or "not
    found", the caller would look for the fault everywhere but the typing."""
    if refusal := why_no_learner_has(uln):
        raise ProblemError(422, "Invalid ULN", refusal.reason, code=refusal.code)


def _require_live_projection(projector: Projector) -> None:
    if not projector.takes_operator_actions:
        raise ProblemError(
            409,
            "Not the projector that writes",
            "This projector only reads (PROJECTOR_RUN_CONSUMER=false): retry, skip, replay and rebuild on the one that"
            " runs the live projection (on Kubernetes the plr-projector Service, not plr-reader).",
        )


_REFUSAL_STATUS = {Refusal.NOTHING_TO_DO: 404, Refusal.NOT_NOW: 409, Refusal.INVALID: 422}
# what a route answering an operation's refusal (`_operation_problem`) may answer besides its success
_REFUSALS = problem_responses(*sorted(set(_REFUSAL_STATUS.values())))


def _operation_problem(error: OperationError) -> ProblemError:
    return ProblemError(_REFUSAL_STATUS[error.refusal], error.title, error.detail)


# --- read your writes --------------------------------------------------------------------------


def parse_min_offsets(text: str) -> dict[tuple[str, int], int]:
    """`P:O[,P:O...]` for the PLR topic, or `topic:P:O`: wait until the event at offset O is projected."""
    targets: dict[tuple[str, int], int] = {}
    for part in filter(None, (item.strip() for item in text.split(","))):
        pieces = part.rsplit(":", 2)
        try:
            if len(pieces) == 2:
                topic, partition, offset = PLR_TOPIC, int(pieces[0]), int(pieces[1])
            elif len(pieces) == 3:
                topic, partition, offset = pieces[0], int(pieces[1]), int(pieces[2])
            else:
                raise ValueError(part)
        except ValueError as error:
            raise ProblemError(422, "Invalid min_offsets", "Use partition:offset or topic:partition:offset.") from error
        if topic not in PROJECTED_TOPICS:
            raise ProblemError(422, "Invalid min_offsets", f"{topic} is not projected here.")
        key = (topic, partition)
        targets[key] = max(targets.get(key, 0), offset + 1)
    return targets


async def _poll(probe: Any, deadline: float, runner: Runner) -> bool:
    """Asks `probe` until it says yes or `deadline` passes: again after each step the runner commits
    here, and at growing intervals for a runner elsewhere (an API replica)."""
    delay = 0.02
    while True:
        if await probe():
            return True
        if time.monotonic() >= deadline:
            return False
        await runner.stepped(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 1.5, 0.2)


def _not_yet(detail: str, *, retry_after: bool = True) -> ProblemError:
    """503 PROJECTION_PENDING; `Retry-After: 1` only where trying again soon will see it."""
    error = ProblemError(503, "Not yet projected", detail, code="PROJECTION_PENDING")
    if retry_after:
        error.headers["Retry-After"] = "1"
    return error


def batch_owner(principal: Principal) -> str | None:
    """Whose batches `after_batch` may name: an AO only its own (another AO's batch is one it cannot see, decision
    0003), everyone else any batch."""
    return principal.id if principal.kind is PrincipalKind.AO else None


async def read_your_writes(
    projector: Projector,
    min_offsets: str | None,
    after_batch: uuid.UUID | None,
    wait_ms: int | None,
    *,
    batch_ao: str | None = None,
) -> dict[str, Any]:
    if not min_offsets and after_batch is None:
        return {}
    budget_ms = min(wait_ms if wait_ms is not None else 10_000, projector.read_wait_max_ms)
    started = time.monotonic()
    deadline = started + budget_ms / 1000
    targets = parse_min_offsets(min_offsets) if min_offsets else {}
    held = {(projector.topics.logical(tp.topic), tp.partition) for tp in projector.live.partitions}
    if held and (absent := sorted(set(targets) - held)):
        topic, partition = absent[0]
        raise ProblemError(
            422,
            "Invalid min_offsets",
            f"{topic} has no partition {partition}: its partitions are 0 to"
            f" {max(number for name, number in held if name == topic)}.",
        )
    consistency: dict[str, Any] = {}
    if after_batch is not None:
        # A batch's PLR events are appended in one Kafka transaction: once one of them is projected
        # all of them are in the log, so waiting for the log's end as of that moment covers the rest.
        async def seen() -> bool:
            async with projector.pool.acquire() as connection:
                return await projector.model.batch_events_applied(connection, after_batch, ao_id=batch_ao) > 0

        if not await _poll(seen, deadline, projector.live):
            # the projector cannot tell a batch on its way from one that put nothing on the PLR: no Retry-After,
            # which a client would follow for ever for a batch that failed, was refused or accepted nothing
            raise _not_yet(
                "No event of this batch has been projected yet, or the batch put nothing on the PLR (it failed, was"
                " refused, held by maintenance, or accepted no record): ingest's GET /v1/batches/{id} says which.",
                retry_after=False,
            )
        plr_partitions = [tp for tp in projector.live.partitions if projector.topics.logical(tp.topic) == PLR_TOPIC]
        for key, end in (await projector.probe.end_offsets(plr_partitions)).items():
            targets[key] = max(targets.get(key, 0), end)

    async def reached() -> bool:
        async with projector.pool.acquire() as connection:
            stored = await projector.model.offsets(connection)
        return all(stored.get(key, 0) >= target for key, target in targets.items())

    if targets and not await _poll(reached, deadline, projector.live):
        raise _not_yet(f"The projection has not reached the requested offsets within {budget_ms} ms.")
    if after_batch is not None:
        consistency["after_batch"] = str(after_batch)
    consistency["waited_ms"] = round((time.monotonic() - started) * 1000, 1)
    return consistency


# --- PLR reads ---------------------------------------------------------------------------------

plr_router = APIRouter(tags=["plr"])

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
        group = await projector.model.learner_group(
            connection, uln, with_links=principal.kind is PrincipalKind.PROVIDER
        )
        try:
            audience = audience_for(principal, group)
        except AccessDenied as denied:
            _log.info("plr_read_refused", principal=principal.kind.value, code=denied.code)
            raise _forbidden(denied.detail, denied.code) from denied
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
        "ability_to_share": group.ability_to_share if principal.kind is not PrincipalKind.AO else None,
        "learning_events": learning_events(
            audience,
            achievements,
            centre,
            challenged,
            history,
            include_withdrawn=include_withdrawn,
            include_history=include_history,
        ),
        # the learner's and operators' only: an AO reads any ULN, and a count of held registry events (an opt-out,
        # an erasure) or of ULNs merged out of its sight would tell it what it may not know
        "events_held_in_dead_letters": held
        if principal.kind in (PrincipalKind.LEARNER, PrincipalKind.OPERATOR)
        else None,
    }


@plr_router.get(
    "/v1/learners/{uln}/plr",
    summary="A learner's Personal Learning Record, as the caller may see it",
    description=(
        "The learner reads their own; an AO only what it uploaded; a provider only a learner it is linked to"
        " (403 `PROVIDER_NOT_LINKED`, decision 0121) and who shares (403 `WSEC0206`), and not while any of the"
        " learner's events are held in dead letters (409 `EVENTS_HELD_IN_DEAD_LETTERS`: the learner's choice not to"
        " share could be one); operators everything. A provider sees the learner's current achievements only:"
        " asked with `include_withdrawn` or `include_history` true it is refused (403, title 'Not shown to"
        " providers', code `FORBIDDEN`), nothing read (decision 0012), rather than answered without them; the"
        " learner, or the awarding organisation that recorded an achievement, can tell it what the achievement was"
        " before."
        " A ULN no learner can have is 422 before any of that: a wrong check digit `RV002`, the temporary ULN"
        " `RV003`."
    ),
    response_model=None,  # the document `views` builds, described (not rebuilt) by `PersonalLearningRecord`
    responses={200: {"model": PersonalLearningRecord}, **problem_responses(401, 403, 404, 409, 422, 503)},
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
            description="wait until this batch is projected (with an AO's key: one of its own); a batch that put"
            " nothing on the PLR answers 503 after the wait, without Retry-After: ask ingest for its status first"
        ),
    ] = None,
    wait_ms: Annotated[int | None, Query(ge=0, le=60_000)] = None,
) -> dict[str, Any]:
    _refuse_mistyped_uln(uln)
    _refuse_what_providers_never_see(principal, include_withdrawn=include_withdrawn, include_history=include_history)
    await _may_read(projector, principal, uln)  # before any wait: a refused caller learns nothing of a batch
    batch_ao = batch_owner(principal)
    consistency = await read_your_writes(projector, min_offsets, after_batch, wait_ms, batch_ao=batch_ao)
    document = await _plr_document(
        projector, principal, uln, include_withdrawn=include_withdrawn, include_history=include_history
    )
    if consistency:
        document["consistency"] = await _on_this_plr(projector, consistency, after_batch, document["ulns"], batch_ao)
    return document


async def _may_read(projector: Projector, principal: Principal, uln: str) -> None:
    async with projector.pool.acquire() as connection:
        group = await projector.model.learner_group(
            connection, uln, with_links=principal.kind is PrincipalKind.PROVIDER
        )
    try:
        audience_for(principal, group)
    except AccessDenied as denied:
        _log.info("plr_read_refused", principal=principal.kind.value, code=denied.code)
        raise _forbidden(denied.detail, denied.code) from denied


async def _on_this_plr(
    projector: Projector,
    consistency: dict[str, Any],
    after_batch: uuid.UUID | None,
    ulns: list[str],
    batch_ao: str | None,
) -> dict[str, Any]:
    """`batch_events_applied` counts the batch's events on the PLR read, not the whole batch's: another
    AO's batch is not a reader's to measure."""
    if after_batch is not None:
        async with projector.pool.acquire() as connection:
            consistency["batch_events_applied"] = await projector.model.batch_events_applied(
                connection, after_batch, ulns, ao_id=batch_ao
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
    principal: CurrentPrincipal,
    projector: ProjectorDep,
    uln: Annotated[str, Query(pattern=ULN_PATTERN)],
    ao_id: Annotated[str | None, Query(pattern=AO_ID_PATTERN, description="operators only: the AO to look at")] = None,
    include_withdrawn: bool = True,
    include_history: bool = False,
    min_offsets: str | None = None,
    after_batch: uuid.UUID | None = None,
    wait_ms: Annotated[int | None, Query(ge=0, le=60_000)] = None,
) -> dict[str, Any]:
    if principal.kind is PrincipalKind.AO:
        if ao_id is not None and ao_id != principal.id:
            raise _forbidden("An awarding organisation sees only its own achievements.")
        viewer_ao = principal.id
    elif principal.is_operator and ao_id:
        viewer_ao = ao_id
    else:
        raise _forbidden("Only awarding organisations (or operators naming one) may use this view.")
    _refuse_mistyped_uln(uln)
    batch_ao = batch_owner(principal)
    consistency = await read_your_writes(projector, min_offsets, after_batch, wait_ms, batch_ao=batch_ao)
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
        document["consistency"] = await _on_this_plr(projector, consistency, after_batch, document["ulns"], batch_ao)
    return document


# --- centre data -------------------------------------------------------------------------------

centre_router = APIRouter(tags=["centre data"])


class CentreAchievementCreate(BaseModel):
    """A learning provider's (ILR-style) achievement record; the provider is the caller."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    uln: str = Field(pattern=ULN_PATTERN)
    qualification_number: OneLineText = Field(min_length=1, max_length=20)
    # one line each: they go onto the PLR log, which must never hold what the projection cannot store
    provider_name: OneLineText | None = Field(default=None, min_length=1, max_length=200)
    subject: OneLineText | None = Field(default=None, min_length=1, max_length=300)
    grade: OneLineText | None = Field(default=None, min_length=1, max_length=40)
    award_date: WrittenDate | None = Field(default=None, description="`yyyy-mm-dd`, as a batch's (RV007, RV008)")
    participation_start_date: WrittenDate | None = Field(
        default=None, description="`yyyy-mm-dd`, from 1900-01-01 to today"
    )
    participation_end_date: WrittenDate | None = Field(
        default=None, description="`yyyy-mm-dd`, from the start to today"
    )


EARLIEST_PARTICIPATION = date(1900, 1, 1)


def _check_centre_dates(body: CentreAchievementCreate) -> None:
    """The award date as a batch's is checked (RV008 in the future, RV007 before 1 September 2006); a participation
    reported has happened: from 1900-01-01 (no learner was born before) to today, and ends after it starts."""
    today = today_in_england()
    if body.award_date is not None:
        _, findings = check_award_date(body.award_date.isoformat(), today)
        for finding in findings:
            raise ProblemError(422, "Invalid award date", finding.message, code=finding.code)
    start, end = body.participation_start_date, body.participation_end_date
    for said, day in (("starts", start), ("ends", end)):
        if day is not None and not EARLIEST_PARTICIPATION <= day <= today:
            raise ProblemError(
                422,
                "Invalid participation dates",
                f"Participation {said} {day.isoformat()}: a participation reported is from"
                f" {EARLIEST_PARTICIPATION.isoformat()} to today ({today.isoformat()}).",
            )
    if start is not None and end is not None and end < start:
        raise ProblemError(
            422,
            "Invalid participation dates",
            f"Participation ends ({end.isoformat()}) before it starts ({start.isoformat()}).",
        )


@centre_router.post(
    "/v1/centre/achievements",
    status_code=202,
    summary="Report a centre (ILR) achievement; it never changes an AO record",
    description=(
        "The calling provider must be linked to the learner (it registered them, or an operator linked it:"
        " decision 0121), else 403 `PROVIDER_NOT_LINKED`; a ULN with a wrong check digit is 422 `RV002` first."
        " A linked provider reporting for an erased learner is refused with 410 `LEARNER_ERASED`: nothing about"
        " them is put on the log. The same `Idempotency-Key` with the same report answers the first report again"
        " (202, same `report_id`); with another report it is refused (409); a key that is not 1 to 255 visible"
        " ASCII characters is 400."
    ),
    response_model=None,
    responses={202: {"model": CentreReportAccepted}, **problem_responses(400, 401, 403, 409, 410, 422, 503)},
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def report_centre_achievement(
    body: CentreAchievementCreate,
    principal: CurrentPrincipal,
    projector: ProjectorDep,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", description="unique per provider; a retry with the same key is answered once"),
    ] = None,
) -> JSONResponse:
    if principal.kind is not PrincipalKind.PROVIDER:
        raise _forbidden("Only learning providers report centre achievements.")
    try:
        key = idempotency_key_of(idempotency_key)
    except UnusableIdempotencyKey as error:
        raise ProblemError(400, "Invalid Idempotency-Key", str(error)) from None
    _refuse_mistyped_uln(body.uln)
    async with projector.pool.acquire() as connection:
        group = await projector.model.learner_group(connection, body.uln, with_links=True)
        erased = await projector.model.any_erased(connection, group.ulns)
    if principal.id not in group.linked_providers:  # before anything is said of the learner or the report
        _log.info("centre_report_refused", principal=principal.kind.value, code=PROVIDER_NOT_LINKED)
        raise _forbidden(NOT_LINKED_DETAIL, PROVIDER_NOT_LINKED)
    if erased:
        _log.info("centre_report_refused", principal=principal.kind.value, code=ProblemCode.LEARNER_ERASED.value)
        raise ProblemError(
            410,
            "Learner erased",
            "This learner's personal data was erased, so no centre achievement is taken for them: what a report"
            " says of them would be kept for good.",
            code=ProblemCode.LEARNER_ERASED,
        )
    qualification_number = normalise_qan(body.qualification_number)
    if qualification_number is None:
        raise ProblemError(
            422, "Invalid qualification number", "Use NNN/NNNN/C, 8 characters or L/NNN/NNNN.", code="RV006"
        )
    _check_centre_dates(body)
    if key is not None:
        report_id = deterministic_id("centre", principal.id, key)
        event_id = deterministic_id("centre-event", principal.id, key)
    else:
        report_id, event_id = uuid.uuid4(), uuid.uuid4()
    payload = CentreAchievementReported(
        report_id=report_id,
        uln=body.uln,
        provider_ukprn=principal.id,
        provider_name=body.provider_name,
        qualification_number=qualification_number,
        subject=body.subject,
        grade=body.grade,
        award_date=body.award_date,
        participation_start_date=body.participation_start_date,
        participation_end_date=body.participation_end_date,
    )
    if key is not None:
        first = await _report_first_sent_with(projector, principal.id, key, payload, event_id)
        if first.partition is not None and first.offset is not None:
            return _report_accepted(first.report_id, first.event_id, first.partition, first.offset)
    envelope = wrap(payload, source=SERVICE, correlation_id=str(report_id), event_id=event_id)
    try:
        metadata = await projector.producer.send_and_wait(
            projector.topics.physical(PLR_TOPIC), encode(envelope), key=body.uln.encode()
        )
    except Exception as error:
        _log.warning("centre_report_not_stored", error=type(error).__name__)
        raise ProblemError(503, "Log unavailable", "The report could not be stored; send it again.") from error
    if key is not None:
        async with projector.pool.acquire() as connection:
            await centre_reports.published_at(connection, principal.id, key, metadata.partition, metadata.offset)
    return _report_accepted(report_id, event_id, metadata.partition, metadata.offset)


async def _report_first_sent_with(
    projector: Projector, provider_ukprn: str, key: str, report: CentreAchievementReported, event_id: uuid.UUID
) -> centre_reports.KeyedReport:
    """The report `key` was first used for: this one, or the same one sent before (else 409). Until it is
    known to be on the log, it is published again: a copy the projection drops by its event id."""
    keyed = centre_reports.KeyedReport(report.report_id, event_id, centre_reports.report_sha256(report), None, None)
    async with projector.pool.acquire() as connection:
        first = await centre_reports.remember(connection, provider_ukprn, key, keyed)
    if first.request_sha256 != keyed.request_sha256:
        _log.info("centre_report_refused", principal=PrincipalKind.PROVIDER.value, code=ProblemCode.CONFLICT.value)
        raise ProblemError(
            409,
            "Idempotency-Key already used for a different report",
            f"Idempotency-Key {key!r} was used for report {first.report_id}, which differs from this one. Use a new"
            " key for a new report.",
        )
    return first


def _report_accepted(report_id: uuid.UUID, event_id: uuid.UUID, partition: int, offset: int) -> JSONResponse:
    accepted = CentreReportAccepted(
        report_id=report_id,
        event_id=event_id,
        topic=PLR_TOPIC,
        partition=partition,
        offset=offset,
        min_offsets=f"{partition}:{offset}",
    )
    return JSONResponse(accepted.model_dump(mode="json"), status_code=202)


# --- operators ---------------------------------------------------------------------------------

admin_router = APIRouter(prefix="/v1/admin", tags=["operations"], responses=problem_responses(401, 403))


class RetryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    replacement: dict[str, Any] | None = Field(
        default=None, description="a corrected envelope for the head event (kept for rebuilds)"
    )
    reason: StorableText | None = Field(default=None, max_length=500)


class SkipRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: StorableText | None = Field(default=None, max_length=500)


@admin_router.get(
    "/projector",
    summary="Offsets, lag and counters of the live projection",
    description="Offsets and lag are keyed by the topics' names on the cluster: in the Sandpit, `sandpit.`…",
    openapi_extra=operator_scope(OperatorScope.REBUILD, OperatorScope.DEAD_LETTERS),
)
async def projector_status(principal: Operator, projector: ProjectorDep) -> dict[str, Any]:
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
    " corrected copy was applied, and what followed; kept after the parked events are gone, and every decision,"
    " where a rebuild honours only the latest at a position.",
    openapi_extra=operator_scope(OperatorScope.DEAD_LETTERS),
)
async def dlq_actions(
    principal: Operator, projector: ProjectorDep, limit: Annotated[int, Query(ge=1, le=10_000)] = 100
) -> dict[str, Any]:
    return {"actions": [action.view() for action in await projector.dead_letters.actions(limit)]}


@admin_router.post(
    "/dlq/{uln}/retry",
    summary="Re-run a learner's parked events in order",
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
    try:
        reason = body.reason if body else None
        results = await projector.dead_letters.retry(
            uln, _logical(projector, topic), str(principal), replacement, reason
        )
    except OperationError as error:
        raise _operation_problem(error) from error
    return {"results": results}


@admin_router.post(
    "/dlq/{uln}/skip",
    summary="Drop a learner's poison event and drain the rest",
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
    try:
        reason = body.reason if body else None
        results = await projector.dead_letters.skip(uln, _logical(projector, topic), str(principal), reason)
    except OperationError as error:
        raise _operation_problem(error) from error
    return {"results": results}


@admin_router.post(
    "/rebuild",
    status_code=202,
    summary="Start replaying the log into a fresh schema",
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
            " does not run",
        ),
    ] = None,
) -> dict[str, Any]:
    _require_live_projection(projector)
    try:
        return await projector.rebuilds.start(str(principal), workers)
    except OperationError as error:
        raise _operation_problem(error) from error


@admin_router.get(
    "/rebuild",
    summary="Rebuild progress, ETA and the last comparison",
    responses=problem_responses(409),
    openapi_extra=operator_scope(OperatorScope.REBUILD),
)
async def rebuild_status(principal: Operator, projector: ProjectorDep) -> dict[str, Any]:
    _require_live_projection(projector)  # a rebuild is the writer's: a reader knows of none
    return projector.rebuilds.status()


@admin_router.post(
    "/rebuild/compare",
    summary="Compare the rebuilt model with the live one",
    responses=_REFUSALS,
    openapi_extra=operator_scope(OperatorScope.REBUILD),
)
async def rebuild_compare(principal: Operator, projector: ProjectorDep) -> dict[str, Any]:
    _require_live_projection(projector)
    try:
        return await projector.rebuilds.compare()
    except OperationError as error:
        raise _operation_problem(error) from error


@admin_router.post(
    "/rebuild/switch",
    summary="Make the rebuilt schema the live one, atomically",
    responses=_REFUSALS,
    openapi_extra=operator_scope(OperatorScope.REBUILD),
)
async def rebuild_switch(principal: Operator, projector: ProjectorDep) -> dict[str, Any]:
    _require_live_projection(projector)
    try:
        return await projector.rebuilds.switch(str(principal))
    except OperationError as error:
        raise _operation_problem(error) from error


@admin_router.delete(
    "/rebuild",
    summary="Abandon the running rebuild and drop its schema",
    responses=_REFUSALS,
    openapi_extra=operator_scope(OperatorScope.REBUILD),
)
async def rebuild_abandon(principal: Operator, projector: ProjectorDep) -> dict[str, Any]:
    _require_live_projection(projector)
    try:
        return await projector.rebuilds.abandon(str(principal))
    except OperationError as error:
        raise _operation_problem(error) from error


@admin_router.post(
    "/replay",
    status_code=202,
    summary="Re-project the learners with PLR events since an offset or time",
    responses=_REFUSALS,
    openapi_extra=operator_scope(OperatorScope.REBUILD),
)
async def replay_start(
    principal: Operator,
    projector: ProjectorDep,
    from_: Annotated[str, Query(alias="from", min_length=1, max_length=64)],
) -> dict[str, Any]:
    _require_live_projection(projector)
    try:
        return await projector.replays.start(from_, str(principal))
    except OperationError as error:
        raise _operation_problem(error) from error


@admin_router.get(
    "/replay",
    summary="The last replay's state and result (or the one `replay_id` names: 404 if none has it)",
    openapi_extra=operator_scope(OperatorScope.REBUILD),
    responses=problem_responses(404),
)
async def replay_status(
    principal: Operator,
    projector: ProjectorDep,
    replay_id: Annotated[int | None, Query(ge=1, le=LARGEST_BIGINT)] = None,
) -> dict[str, Any]:
    try:
        return await projector.replays.status(replay_id)
    except OperationError as error:
        raise _operation_problem(error) from error


# --- verifiable credentials ------------------------------------------------------------------

credential_router = APIRouter(tags=["verifiable credentials"])


@dataclass(frozen=True)
class CredentialSigning:
    """The issuer every credential names and the keys that sign them; built in bootstrap."""

    issuer: credentials.CredentialIssuer
    keys: CredentialKeys


def credential_signing_of(request: Request) -> CredentialSigning:
    signing: CredentialSigning = request.app.state.credential_signing
    return signing


CredentialSigningDep = Annotated[CredentialSigning, Depends(credential_signing_of)]


def _signing_unavailable(error: CredentialKeyError) -> ProblemError:
    return ProblemError(503, "Credential signing unavailable", error.detail, code="CREDENTIAL_SIGNING_UNAVAILABLE")


class PlrCredential(BaseModel):
    format: Literal["vc+jwt"] = "vc+jwt"
    credential: str = Field(description="compact JWS (VC-JWT, EdDSA) of a 1EdTech CLR 2.0 ClrCredential")
    credential_id: str
    kid: str = Field(description="the signing key: its JWK in `jwks_uri`, retired keys included, withdrawn ones not")
    jwks_uri: str
    achievements: int


@credential_router.get(
    "/v1/learners/{uln}/plr/credential",
    summary="The learner's live achievements as a signed verifiable credential (CLR 2.0 / Open Badges 3.0)",
    description="Results the learner did not achieve (grade U or Fail) are left out unless `include_unsuccessful`"
    " (then a Final one has the status `Failed`, never `Completed`); a grade X, no result, never is (decision 0050).",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def export_plr_credential(
    uln: Uln,
    principal: CurrentPrincipal,
    projector: ProjectorDep,
    signing: CredentialSigningDep,
    include_unsuccessful: Annotated[
        bool,
        Query(description="put in the results the learner did not achieve (U, Fail), which are left out by default"),
    ] = False,
) -> PlrCredential:
    if principal.kind not in (PrincipalKind.LEARNER, PrincipalKind.OPERATOR):
        raise _forbidden("Only the learner, or an operator, may export a PLR as a verifiable credential.")
    _refuse_mistyped_uln(uln)
    async with (
        projector.pool.acquire() as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        group = await projector.model.learner_group(connection, uln)
        try:
            audience_for(principal, group)
        except AccessDenied as denied:
            _log.info("plr_credential_refused", principal=principal.kind.value)
            raise _forbidden(denied.detail, denied.code) from denied
        achievements = await projector.model.achievements(connection, group.ulns)
        held = await projector.model.parked_count_of_learner(
            connection, group.ulns, (row.achievement_id for row in achievements)
        )
    if held:
        raise ProblemError(
            409,
            "PLR incomplete",
            f"{held} of this learner's events are held in dead letters; a credential would attest a record"
            " that is not yet current. An operator resolves them (lrs dlq ...), then try again.",
            code=EVENTS_HELD,
        )
    try:
        document = credentials.plr_credential(
            signing.issuer,
            group.master_uln,
            achievements,
            credential_id=uuid.uuid4(),
            issued_at=datetime.now(UTC),
            include_unsuccessful=include_unsuccessful,
        )
        key = await signing.keys.signing_key()
    except credentials.NothingToCertify as nothing:
        raise ProblemError(404, "Nothing to certify", str(nothing), code="PLR_HAS_NO_ACHIEVEMENTS") from nothing
    except CredentialKeyError as error:
        raise _signing_unavailable(error) from error
    count = len(document["credentialSubject"]["verifiableCredential"])
    _log.info(
        "plr_credential_issued",
        credential_id=document["id"],
        principal=principal.kind.value,
        key_id=principal.key_id,
        signing_key_id=key.key_id,
        achievements=count,
    )
    return PlrCredential(
        credential=credentials.sign(document, signing.issuer, key),
        credential_id=document["id"],
        kid=signing.issuer.key_uri(key.key_id),
        jwks_uri=signing.issuer.jwks_uri,
        achievements=count,
    )


@credential_router.get(
    "/.well-known/jwks.json",
    summary="The public keys that verify PLR credentials: retired ones too, not withdrawn ones (no authentication)",
)
async def credential_jwks(signing: CredentialSigningDep) -> JSONResponse:
    keys = [
        credentials.public_jwk(signing.issuer, key.key_id, key.public_key)
        for key in await signing.keys.published_keys()
    ]
    return JSONResponse({"keys": keys}, headers={"Cache-Control": "public, max-age=300"})


def _isoformat(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _key_listed(issuer: credentials.CredentialIssuer, key: PublicKey) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "kid": issuer.key_uri(key.key_id),
        "active": key.retired_at is None,
        "published": key.withdrawn_at is None,
        "created_at": key.created_at.isoformat(),
        "created_by": key.created_by,
        "retired_at": _isoformat(key.retired_at),
        "withdrawn_at": _isoformat(key.withdrawn_at),
        "withdrawn_by": key.withdrawn_by,
        "withdrawal_reason": key.withdrawal_reason,
    }


@admin_router.get(
    "/credential-keys",
    summary="Credential signing keys: the active one, those retired and those withdrawn",
    description="`published`: in the JWKS, so what the key signed verifies; a withdrawn key is not, and says"
    " who withdrew it, when and why.",
    openapi_extra=operator_scope(OperatorScope.KEYS),
)
async def credential_keys(principal: Operator, signing: CredentialSigningDep) -> dict[str, Any]:
    return {"keys": [_key_listed(signing.issuer, key) for key in await signing.keys.every_key()]}


@admin_router.post(
    "/credential-keys/rotate",
    summary="Sign new credentials with a new key; the retired key can no longer sign and stays published",
    responses=problem_responses(503),
    openapi_extra=operator_scope(OperatorScope.KEYS),
)
async def rotate_credential_keys(principal: Operator, signing: CredentialSigningDep) -> dict[str, Any]:
    try:
        rotation = await signing.keys.rotate(str(principal))
    except CredentialKeyError as error:
        raise _signing_unavailable(error) from error
    created = rotation.created
    return {"key_id": created.key_id, "kid": signing.issuer.key_uri(created.key_id), "retired": rotation.retired}


def _withdrawal_reason_said(reason: str) -> str:
    if not reason.strip():
        raise ValueError("is blank: say why the key is withdrawn")
    return reason


class CredentialKeyWithdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: Annotated[StorableText, AfterValidator(_withdrawal_reason_said)] = Field(
        min_length=1, max_length=500, description="why the key is withdrawn (a suspected leak, say); kept and logged"
    )


CredentialKeyId = Annotated[
    OneLineText, Path(min_length=1, max_length=64, description="the key id, e.g. 20260301-0a1b2c3d")
]


@admin_router.post(
    "/credential-keys/{key_id}/withdraw",
    summary="Take a key out of the JWKS after a suspected leak: nothing it signed verifies any more",
    description="An active key is rotated first, so that credentials go on being signed with a new one. A withdrawal"
    " cannot be undone: every credential the key signed stops verifying, and its learners export a new one.",
    responses=problem_responses(404, 409, 422),
    openapi_extra=operator_scope(OperatorScope.KEYS),
)
async def withdraw_credential_key(
    key_id: CredentialKeyId, body: CredentialKeyWithdrawal, principal: Operator, signing: CredentialSigningDep
) -> dict[str, Any]:
    try:
        withdrawal = await signing.keys.withdraw(key_id, str(principal), body.reason)
    except NoSuchCredentialKey as missing:
        raise ProblemError(404, "No such key", missing.detail) from missing
    except CredentialKeyAlreadyWithdrawn as withdrawn:
        raise ProblemError(409, "Key already withdrawn", withdrawn.detail) from withdrawn
    replacement = withdrawal.replaced_by
    return {
        "withdrawn": _key_listed(signing.issuer, withdrawal.key),
        "replaced_by": replacement.key_id if replacement else None,
    }


__all__ = [
    "CredentialSigning",
    "Projector",
    "TopicPartition",
    "admin_router",
    "centre_router",
    "credential_router",
    "plr_router",
]
