"""Centre data intake: a learning provider reports an achievement of its own (ILR-style)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from lrs_contracts.codes import ProblemCode, RecordCode
from lrs_contracts.envelope import deterministic_id
from lrs_contracts.identifiers import ULN_PATTERN
from lrs_contracts.plr import CentreAchievementReported
from lrs_contracts.registry import encode, wrap
from lrs_contracts.text import OneLineText, WrittenDate, has_visible_text
from lrs_domain.grades import FAILED_QCF_GRADES
from lrs_domain.identifiers import ParsedQan, parse_qan
from lrs_domain.reference_files import load_catalogue
from lrs_domain.rules import check_award_date, check_grade, is_qcf
from lrs_platform.authentication import CurrentPrincipal
from lrs_platform.clock import today_in_england
from lrs_platform.idempotency import SENT_TWICE, UnusableIdempotencyKey, idempotency_key_of
from lrs_platform.identity import OperatorScope, Principal, PrincipalKind, operator_scope
from lrs_platform.logging import get_logger
from lrs_platform.problems import ProblemError, problem_responses
from plr_projector import centre_reports
from plr_projector.documents import CentreReportAccepted
from plr_projector.endpoints import Projector, ProjectorDep, _forbidden, _refuse_mistyped_uln, erased_in_registry
from plr_projector.projection import PLR_TOPIC
from plr_projector.views import NOT_LINKED_DETAIL, PROVIDER_NOT_LINKED

SERVICE = "plr-projector"
# named as before the split: the `logger` field of its log lines stays what it was
_log = get_logger("plr_projector.api")


centre_router = APIRouter(tags=["centre data"])


async def _provider_caller(principal: CurrentPrincipal) -> Principal:
    """The caller, a learning provider, else 403: a dependency, solved before the body is validated, so a caller of
    another kind is told it may not report, not what is wrong with what it sent (decision 0032)."""
    if principal.kind is not PrincipalKind.PROVIDER:
        raise _forbidden("Only learning providers report centre achievements.")
    return principal


ProviderCaller = Annotated[Principal, Depends(_provider_caller)]


def _seen(what: str) -> Callable[[str], str]:
    """A free text with a character a reader sees (`has_visible_text`, the rule a challenge's reason keeps): one of
    spaces and invisible characters alone (a zero-width space, a word joiner, a byte order mark) shows on the PLR as
    a blank, and sits on its log for good."""

    def check(value: str) -> str:
        if not has_visible_text(value):
            raise ValueError(
                "has no character a reader sees, only spaces or invisible ones such as a zero-width space:"
                f" write the {what}, or leave the field out"
            )
        return value

    return check


class CentreAchievementCreate(BaseModel):
    """A learning provider's (ILR-style) achievement record; the provider is the caller."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    uln: str = Field(pattern=ULN_PATTERN)
    qualification_number: OneLineText = Field(min_length=1, max_length=20)
    # one line each: they go onto the PLR log, which must never hold what the projection cannot store. Free text,
    # kept on the log as written: no personal data (the read model empties `provider_name` and `subject` on the
    # learner's erasure, `CentreRow.without_free_text`; nothing can empty the log)
    provider_name: Annotated[OneLineText, AfterValidator(_seen("provider's name"))] | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="the provider's own name, never a person's: emptied on the learner's erasure",
    )
    subject: Annotated[OneLineText, AfterValidator(_seen("subject"))] | None = Field(
        default=None,
        min_length=1,
        max_length=300,
        description="what was studied; no personal data (a learner's name, date of birth, circumstances):"
        " emptied on the learner's erasure",
    )
    grade: Annotated[OneLineText, AfterValidator(_seen("grade"))] | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        description="the grade only; kept after the learner's erasure. Fail, U or X of a QCF unit or QCF"
        " qualification is refused, as a batch's (RV010)",
    )
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


def _is_qcf(qan: ParsedQan) -> bool:
    """QCF as a batch's record is judged (`is_qcf`): a unit reference by its form, a qualification by the framework
    of its rows in the qualification catalogue shipped with lrs_domain: the files validation loads unless an operator
    loads others, and the portal's offline checks read. Reads the catalogue, once a process: call it off the event
    loop."""
    if qan.is_unit_reference:
        return is_qcf(qan, None)
    return any(is_qcf(qan, row) for row in load_catalogue().rows_for(qan.normalised))


async def _check_centre_grade(grade: str | None, qan: ParsedQan) -> None:
    """RV010 as a batch's: a failed QCF unit or qualification is not uploaded (DOMAIN.md §5 rule 4, decision 0196),
    whoever reports it. A centre's grade is free text, so it is compared trimmed and in any case (`fail` is `Fail`);
    the catalogue is read only for a failed grade of a qualification."""
    given = "" if grade is None else grade.strip().casefold()
    failed = next((failing for failing in FAILED_QCF_GRADES if failing.casefold() == given), None)
    if failed is None:
        return
    if not await asyncio.to_thread(_is_qcf, qan):
        return
    for finding in check_grade(failed, qan, None, qcf=True):
        raise ProblemError(422, "Failed QCF result", finding.message, code=finding.code)


@centre_router.post(
    "/v1/centre/achievements",
    status_code=202,
    summary="Report a centre (ILR) achievement; it never changes an AO record",
    description=(
        "The calling provider must be linked to the learner (it registered them, or an operator linked it:"
        " decision 0121), else 403 `PROVIDER_NOT_LINKED`; a ULN with a wrong check digit is 422 `RV002` first."
        " A linked provider reporting for an erased learner is refused with 410 `LEARNER_ERASED`: nothing about"
        " them is put on the log (a report sent before the erasure under the same `Idempotency-Key` is named in"
        " `report_id`: it was taken). The same `Idempotency-Key` with the same report answers the first report again"
        " (202, same `report_id`); with another report it is refused (409 `IDEMPOTENCY_KEY_REUSED`, naming the first in `report_id`); a key that is not 1 to 255 visible"
        " ASCII characters, or a key sent twice, is 400."
        " A report is judged by a batch's record rules where they apply to it, each refusal 422 with the rule's code"
        " and words: a badly formed qualification number `RV006`; an award date in the future `RV008`,"
        " before 1 September 2006 `RV007`; a failed QCF result `RV010` (grade `Fail`, `U` or `X` of a QCF unit"
        " reference `L/NNN/NNNN`, or of a qualification the shipped qualification catalogue says is QCF: decision"
        " 0196). The catalogue is not otherwise asked: a qualification number it does not know is taken, and the"
        " grade is free text (no `RV005`, `RV009`)."
        " The free text (`subject`, `provider_name`, `grade`) must hold no personal data: not the learner's name,"
        " date of birth or circumstances. A report goes onto the PLR log as written, and the log is kept for good."
        " When the learner is erased, the PLR shows their reports without `subject` and `provider_name` (null),"
        " also after a rebuild; `grade` stays, as an awarding organisation's grades do."
    ),
    response_model=None,
    responses={202: {"model": CentreReportAccepted}, **problem_responses(400, 401, 403, 409, 410, 422, 503)},
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def report_centre_achievement(
    request: Request,
    body: CentreAchievementCreate,
    principal: ProviderCaller,
    projector: ProjectorDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="unique per provider; a retry with the same key is answered once; write no learner's name or"
            " details in it (only its SHA-256 is kept)",
        ),
    ] = None,
) -> JSONResponse:
    if len(request.headers.getlist("Idempotency-Key")) > 1:  # one Item: which of two was meant is not ours to pick
        raise ProblemError(400, "Invalid Idempotency-Key", SENT_TWICE)
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
    if erased:  # the read model's word: refused at once, naming the report the key sent before, if it did
        sent_before = None
        if key is not None:
            async with projector.pool.acquire() as connection:
                sent_before = await centre_reports.published_report(connection, principal.id, key)
        raise _learner_erased(principal.kind, sent_before)
    qan = parse_qan(body.qualification_number)
    if qan is None:
        raise ProblemError(
            422,
            "Invalid qualification number",
            "Use NNN/NNNN/C, 8 characters or L/NNN/NNNN.",
            code=RecordCode.QAN_MALFORMED,
        )
    _check_centre_dates(body)
    await _check_centre_grade(body.grade, qan)
    qualification_number = qan.normalised
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
    first = None if key is None else await _report_first_sent_with(projector, principal.id, key, payload, event_id)
    # The read model learns of an erasure only once it reads `LearnerErased`; the registry records it before the
    # erasure answers 201. Asked last, just before the report is published (or a report kept under its key answered
    # again): a report sent after the erasure's answer is refused, whatever the projection's lag.
    if await erased_in_registry(
        projector, sorted({body.uln, *group.ulns}), not_done="the report was not taken; send it again."
    ):
        taken_before = first if first is not None and first.offset is not None else None
        raise _learner_erased(principal.kind, taken_before.report_id if taken_before else None)
    if first is not None and first.partition is not None and first.offset is not None:
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


def _learner_erased(kind: PrincipalKind, taken_before: uuid.UUID | None = None) -> ProblemError:
    """`taken_before`: the report this Idempotency-Key sent before the erasure, which is on the log. A retry
    whose first answer was lost is told so, not that nothing was taken."""
    _log.info("centre_report_refused", principal=kind.value, code=ProblemCode.LEARNER_ERASED.value)
    detail = (
        "This learner's personal data was erased, so no centre achievement is taken for them: what a report"
        " says of them would be kept for good."
    )
    if taken_before is None:
        return ProblemError(410, "Learner erased", detail, code=ProblemCode.LEARNER_ERASED)
    return ProblemError(
        410,
        "Learner erased",
        f"The report sent with this Idempotency-Key before the learner's erasure ({taken_before}) was taken and"
        " stays on their record without its free text; nothing more is taken for them: their personal data was"
        " erased.",
        code=ProblemCode.LEARNER_ERASED,
        report_id=str(taken_before),
    )


async def _report_first_sent_with(
    projector: Projector, provider_ukprn: str, key: str, report: CentreAchievementReported, event_id: uuid.UUID
) -> centre_reports.KeyedReport:
    """The report `key` was first used for: this one, or the same one sent before (else 409). Until it is
    known to be on the log, it is published again: a copy the projection drops by its event id."""
    keyed = centre_reports.KeyedReport(report.report_id, event_id, centre_reports.report_sha256(report), None, None)
    async with projector.pool.acquire() as connection:
        first = await centre_reports.remember(connection, provider_ukprn, key, keyed)
    if first.request_sha256 != keyed.request_sha256:
        reused = ProblemCode.IDEMPOTENCY_KEY_REUSED
        _log.info("centre_report_refused", principal=PrincipalKind.PROVIDER.value, code=reused.value)
        raise ProblemError(
            409,
            "Idempotency-Key already used for a different report",
            f"Idempotency-Key {key!r} was used for report {first.report_id}, which differs from this one. Use a new"
            " key for a new report.",
            code=reused,
            report_id=str(first.report_id),
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
