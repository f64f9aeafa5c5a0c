"""The erasure routes: erasing a learner, what an erasure would erase, and the audit of erasures (decision 0080)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from lrs_contracts.identifiers import ULN_PATTERN
from lrs_contracts.text import StorableText
from lrs_domain.identifiers import TEMPORARY_ULN
from lrs_platform.credential_store import CredentialStore
from lrs_platform.environment import refuse_in_sandpit
from lrs_platform.identity import OperatorScope, Principal, PrincipalKind, operator_scope
from lrs_platform.logging import get_logger
from lrs_platform.paging import PagePosition, split_page
from lrs_platform.paging_api import PageAfter
from lrs_platform.problems import ProblemError, problem_responses
from validation.api_common import (
    Operator,
    Uln,
    import_under_way,
    json_body,
    learner_registry_of,
    no_learners_uln,
    read_body,
    wake_outbox,
)
from validation.learner_registry import Erasure, ErasurePreview, LearnerImportUnderWayError, LearnerNotHeldError

router = APIRouter(prefix="/v1")

_log = get_logger("validation.api")


class ErasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: StorableText = Field(
        min_length=1, max_length=500, description="why the learner is erased: kept in the audit (trimmed)"
    )


class ErasureDone(BaseModel):
    erasure_id: uuid.UUID
    uln: str
    erased_by: str
    erased_with_key: str | None = Field(
        default=None,
        description="the id of the API key it was erased with (a portal user's session key too): null for erasures"
        " before it was kept",
    )
    erased_at: datetime


class LearnerErased(ErasureDone):
    erased_with: list[str] = Field(
        description="the learner's other ULNs (merged with this one, either way): the same person, erased with"
        " them, each with an erasure of its own in the audit"
    )


class AuditedErasure(ErasureDone):
    reason: str


class ErasureReach(BaseModel):
    """What an erasure of the ULN would erase now, for the operator to see before erasing."""

    uln: str
    erased_with: list[str] = Field(
        description="the learner's other ULNs (merged with this one, either way, along chains): the same person,"
        " erased with them. Once erased: the ULNs erased with them"
    )
    erased: bool = Field(description="whether the learner is erased already: erasing again changes nothing")
    erasure: AuditedErasure | None = Field(description="the learner's erasure, when erased already")


class Erasures(BaseModel):
    erasures: list[AuditedErasure]
    next: str | None = Field(
        default=None, description="where the next page starts: pass it as `after`; null on the list's last page"
    )


def _not_held(uln: str) -> ProblemError:
    """Why a ULN the LRS holds nothing about is not erased: a mistyped one, most likely. (A ULN held, say in a
    batch that mistyped it, is erased whatever its check digit: no learner can ever be registered under a ULN
    whose check digit is wrong.)"""
    no_learners_uln(
        uln,
        "Nothing was erased: check the ULN against the learner's records. What a batch sends under such a ULN is"
        " sealed under that batch's own key, destroyed once the batch is decided (decision 0175).",
    )
    return ProblemError(
        404,
        "No learner held with this ULN",
        "The LRS holds nothing about this ULN: no learner is registered with it, and no batch or challenge holds"
        " details sealed for it. Nothing was erased: check the ULN, as an erased ULN is never registered again.",
    )


@router.post(
    "/admin/learners/{uln}/erasure",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["learner registry"],
    summary="Erase a learner's personal data (operators)",
    description=(
        "Destroys the learner's data key, so their names, date of birth and gender become unreadable in every "
        "event, segment and backup that holds them sealed; redacts the registry row, which stays so the ULN is "
        "never registered again; keeps the audit (who, when, why); and publishes `lrs.learner.erased.v1`, on "
        "which every projection forgets what it held (decision 0080). The learner's own API keys (`learner:<ULN>`) "
        "are revoked first, before the erasure is recorded, so no failure leaves an erased learner's key working "
        "(an erasure that then fails leaves them revoked: erase again). Every ULN merged with the learner is erased "
        "too (each audited and announced on its own, its keys revoked). Erasing again answers 200 with the first "
        "erasure and changes nothing. An erasure cannot be undone and the ULN is never registered again, so a ULN that cannot "
        "be the learner meant is refused, with nothing erased (decision 0132): when the LRS holds nothing "
        "personal about it, neither a registration nor details sealed in a batch or a challenge, 422 (code "
        "`RV002`) if its check digit is wrong, else 404. A ULN held is erased, registered or not, whatever its "
        "check digit (an AO's batch sent before decision 0175 may have mistyped it; since then what a batch sends "
        "under a ULN no learner can have is sealed under the batch's own key, destroyed once it is decided). The temporary ULN 9999999999 is always refused, 422 "
        "(code `RV003`): no learner has it, and what AOs send under it is sealed under their batches' own keys "
        "(decision 0154). While a learner file is imported an erasure waits for it a few seconds, then is 503 "
        "`LEARNER_IMPORT_UNDER_WAY` with `Retry-After`: nothing is erased (the learner's keys are revoked already): "
        "send it again then."
    ),
    status_code=201,
    responses={
        200: {"model": LearnerErased, "description": "erased before: the first erasure, nothing changed"},
        **problem_responses(401, 403, 404, 422, 503),
    },
    openapi_extra=json_body(ErasureRequest) | operator_scope(OperatorScope.ERASURE),
)
async def erase_learner(
    request: Request,
    principal: Operator,
    response: Response,
    uln: Uln,
) -> LearnerErased:
    erasure_request = await read_body(request, ErasureRequest)
    if uln == TEMPORARY_ULN:  # decision 0154: its records are many people's, sealed under their batches' keys
        no_learners_uln(
            uln,
            "What an awarding organisation sends under it is sealed under that batch's own key, destroyed once the"
            " batch is decided, so nothing under it is one person's. Nothing was erased: erase the learner under"
            " their own ULN.",
        )
    try:
        # what the erasure will erase, and whether it is refused (then nothing is revoked either)
        preview = await learner_registry_of(request).erasure_preview(uln)
    except LearnerNotHeldError as error:
        raise _not_held(uln) from error
    # before the erasure commits: no failure after it leaves an erased learner's key working
    await _revoke_learners_keys(request, [uln, *preview.merged_with], principal)
    try:
        erasure, erased_now = await learner_registry_of(request).erase(
            uln, str(principal), erasure_request.reason, principal.key_id
        )
    except LearnerNotHeldError as error:
        raise _not_held(uln) from error
    except LearnerImportUnderWayError as error:
        raise import_under_way(
            error, "an erasure", "nothing was erased (the learner's own API keys were revoked already)."
        ) from error
    if erased_now:
        wake_outbox(request)
    else:
        response.status_code = 200
    erased_with = await learner_registry_of(request).same_learner(uln)
    # and again once it committed: a key made between the first revocation and the commit (`lrs credentials`
    # asks validation only whether the learner is erased yet), or of a ULN merged with them after the preview
    await _revoke_learners_keys(request, [erasure.uln, *erased_with], principal)
    return LearnerErased(
        erasure_id=erasure.erasure_id,
        uln=erasure.uln,
        erased_by=erasure.erased_by,
        erased_with_key=erasure.erased_with_key,
        erased_at=erasure.erased_at,
        erased_with=erased_with,
    )


async def _revoke_learners_keys(request: Request, ulns: list[str], erased_by: Principal) -> None:
    """A learner's own API keys end with their erasure, revoked before it commits: nothing is left for them to read
    as that learner, whatever fails after. An erasure that fails once they are revoked leaves them revoked (the
    operator erases again); one said again (200) revokes them again. Each says why (`revoked_by`, as `lrs
    credentials list` shows it)."""
    credentials: CredentialStore = request.app.state.credentials
    by = f"validation: the learner was erased by {erased_by}"
    revoked = 0
    for erased_uln in ulns:
        # their labels emptied too: free text an operator may have written the learner's name in
        revoked += await credentials.revoke_principal(Principal(PrincipalKind.LEARNER, erased_uln), by=by, erased=True)
    if revoked:
        _log.info("erased_learners_keys_revoked", keys=revoked, ulns=len(ulns))


@router.get(
    "/admin/learners/{uln}/erasure",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["learner registry"],
    summary="What an erasure of a learner would erase (operators)",
    description=(
        "Asked before erasing (`lrs learners erase`, the portal's confirmation): the ULN and the learner's other "
        "ULNs, merged with it either way and along chains, which an erasure erases with it as one person. It is "
        "read as the erasure reads it, but not under its lock: a merge made in between is erased too. A learner "
        "erased already answers `erased` with their erasure and the ULNs erased with them. A ULN the LRS holds "
        "nothing personal about is refused as the erasure refuses it: 422 (code `RV002`) if its check digit is "
        "wrong, else 404; the temporary ULN 9999999999 always 422 (code `RV003`)."
    ),
    responses=problem_responses(401, 403, 404, 422, 503),
    openapi_extra=operator_scope(OperatorScope.ERASURE),
)
async def erasure_reach(request: Request, principal: Operator, uln: Uln) -> ErasureReach:
    if uln == TEMPORARY_ULN:  # decision 0154, as `erase_learner` refuses it
        no_learners_uln(uln, "Nothing under it is one person's, so nothing would be erased.")
    try:
        preview = await learner_registry_of(request).erasure_preview(uln)
    except LearnerNotHeldError as error:
        raise _not_held(uln) from error
    return _reach(preview)


def _reach(preview: ErasurePreview) -> ErasureReach:
    return ErasureReach(
        uln=preview.uln,
        erased_with=list(preview.merged_with),
        erased=preview.erasure is not None,
        erasure=_audited(preview.erasure) if preview.erasure else None,
    )


@router.get(
    "/admin/erasures",
    tags=["learner registry"],
    summary="The audit of learner erasures (operators)",
    description=(
        "Newest first, `limit` at a time: a full page carries `next`, to pass back as `after` for the page "
        "that follows. With `uln`, that learner's erasure (one at most)."
    ),
    responses=problem_responses(401, 403, 422),
    openapi_extra=operator_scope(OperatorScope.ERASURE),
)
async def list_erasures(
    request: Request,
    principal: Operator,
    uln: Annotated[str | None, Query(pattern=ULN_PATTERN)] = None,
    after: PageAfter = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Erasures:
    found = await learner_registry_of(request).erasures(uln, after=after, limit=limit + 1)
    page, following = split_page(found, limit, lambda last: PagePosition(last.erased_at, last.erasure_id))
    return Erasures(erasures=[_audited(erasure) for erasure in page], next=following.token() if following else None)


def _audited(erasure: Erasure) -> AuditedErasure:
    return AuditedErasure(
        erasure_id=erasure.erasure_id,
        uln=erasure.uln,
        erased_by=erasure.erased_by,
        erased_with_key=erasure.erased_with_key,
        erased_at=erasure.erased_at,
        reason=erasure.reason,
    )
