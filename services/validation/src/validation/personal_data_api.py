"""What the learner registry holds about a learner, for an operator answering their subject access request (UK GDPR
Article 15, decision 0191): every ULN of theirs with its registered details, their ability to share and who changed it,
the providers linked to them, their merges, their erasure, and every earlier answer of this kind (the audit of
disclosures). Each answer is audited before it is sent (`validation.disclosures`): who was handed the data, when, why.
The PLR and the challenges are read from their own services (`lrs learners personal-data` gathers all three)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator, BaseModel, Field

from lrs_contracts.codes import ProblemCode
from lrs_contracts.identifiers import ULN_PATTERN
from lrs_contracts.learner import AbilityToShare
from lrs_contracts.text import OneLineText
from lrs_platform.environment import refuse_in_sandpit
from lrs_platform.identity import OperatorScope, operator_scope
from lrs_platform.logging import get_logger, mask_uln
from lrs_platform.paging import split_page
from lrs_platform.paging_api import PageAfter
from lrs_platform.problems import ProblemError, problem_responses
from validation.api_common import Operator, Uln, learner_registry_of, no_learners_uln
from validation.disclosures import Disclosure, Disclosures
from validation.learner_registry import HeldAbout, RegistryRow

router = APIRouter(prefix="/v1")

_log = get_logger("validation.api")

WHAT_ERASURE_ERASED: Final = (
    "the given name, family name, date of birth and gender registered under each of the learner's ULNs, and the"
    " key their personal data was sealed under on Kafka (decision 0080); the reasons and notes of their challenges"
    " are emptied by the challenges service, and the reasons operators gave for reading their personal data are"
    " emptied in the audit of disclosures. Their ULNs, ability to share and its changes, provider links, merges,"
    " achievements and who read their data when are kept, and are what this answer holds."
)
REASON_LENGTH: Final = 500


def _said(reason: str) -> str:
    said = reason.strip()
    if not said:
        raise ValueError("is blank: say why, or leave the reason out")
    return said


# Why an operator reads a learner's data (a subject access request's reference, say): kept in the audit of
# disclosures until the learner is erased, listed to operators and to the learner. One line, checked at the door.
Reason = Annotated[OneLineText, AfterValidator(_said)]


class RegisteredDetails(BaseModel):
    uln: str
    given_name: str | None = Field(description="null once erased")
    family_name: str | None = Field(description="null once erased")
    date_of_birth: date | None = Field(description="null when not given, or once erased")
    gender: int | None = Field(description="0 not known, 1 male, 2 female, 9 not specified; null once erased")
    merged_into: str | None = Field(description="the ULN this one was merged into (its master), if any")
    last_changed_at: datetime = Field(
        description="when the registry's row of this ULN last changed: registered, details replaced by a learner"
        " file, ability to share changed, merged or erased. When it was first registered, and by whom, is not kept"
        " (a provider that registered the learner is linked to them: `providers`, `linked_by` its own principal)"
    )
    erased_at: datetime | None


class SharingChangeHeld(BaseModel):
    uln: str = Field(description="the ULN the choice was kept under (the end of the merge chain at the time)")
    ability_to_share: AbilityToShare
    changed_by: str = Field(description="the principal, `merge of <ULN>`, or a learner file's importer")
    changed_at: datetime


class ProviderLinkHeld(BaseModel):
    uln: str
    ukprn: str
    linked_since: datetime
    linked_by: str = Field(
        description="the principal that made the link: `provider:<UKPRN>` when the provider registered the learner"
    )


class MergeHeld(BaseModel):
    merged_uln: str
    master_uln: str


class ErasureHeld(BaseModel):
    erasure_id: uuid.UUID
    uln: str
    erased_by: str
    erased_at: datetime
    reason: str = Field(description="the operator's reason, as written in the audit")


class CorrectionHeld(BaseModel):
    """A correction of the learner's details (UK GDPR Art. 16), as its audit keeps it: never the details themselves."""

    ulns: list[str] = Field(description="the ULNs whose details it changed")
    fields: list[str] = Field(description="which details it changed: given_name, family_name, date_of_birth, gender")
    reason: str = Field(description="why, as the operator said it")
    corrected_by: str = Field(description="the operator's principal")
    corrected_at: datetime


class DisclosureHeld(BaseModel):
    """One answer of a learner's personal data to an operator, as the audit of disclosures keeps it."""

    disclosure_id: uuid.UUID
    uln: str = Field(description="the ULN the operator asked about (the answer covers every ULN of the learner)")
    read_by: str = Field(description="the operator's principal, who was handed the data")
    read_at: datetime
    reason: str | None = Field(
        description="why, as the operator said it (`reason`); null when none was given, or once the learner was erased"
    )
    reason_erased: bool = Field(
        description="a reason was given and is not kept: the learner was erased (the reason may have named them)"
    )


class LearnerPersonalData(BaseModel):
    """What the learner registry holds about one learner, under every ULN of theirs."""

    uln: str = Field(description="the ULN asked about")
    ulns: list[str] = Field(
        description="every ULN of the learner (merged with the one asked, either way, along chains): the master ULN"
        " (the end of the merge chain, under which their records go) first"
    )
    erased: bool = Field(description="whether the learner was erased: their registered details are gone")
    erased_at: datetime | None = Field(description="when, if erased")
    what_was_erased: str | None = Field(description="once erased: what the erasure erased and what it kept")
    registered_details: list[RegisteredDetails] = Field(description="each ULN's row of the registry, master first")
    ability_to_share: AbilityToShare | None = Field(
        description="the choice every read of their PLR applies now (kept under the master ULN); null once erased"
    )
    sharing_changes: list[SharingChangeHeld] = Field(description="every change of it, newest first (since 2026-12)")
    providers: list[ProviderLinkHeld] = Field(
        description="the providers linked to any of their ULNs, oldest link first: they read the PLR while the"
        " learner shares. A link a learner file ended is not kept"
    )
    merges: list[MergeHeld] = Field(description="which of their ULNs was merged into which (when is not kept)")
    erasures: list[ErasureHeld] = Field(description="the erasure of each ULN, once erased (the audit)")
    corrections: list[CorrectionHeld] = Field(
        default_factory=list,
        description="every correction of their details under any of their ULNs, newest first: when, which fields,"
        " why and by whom (since 2026-12; a learner file's changes of details are not recorded so). The details"
        " before each correction are not in this answer: the learner log keeps them, sealed",
    )
    disclosure: DisclosureHeld = Field(description="this answer, as the audit of disclosures keeps it")
    earlier_disclosures: list[DisclosureHeld] = Field(
        description="every earlier answer of this learner's personal data, under any of their ULNs, newest first:"
        " who was handed it, when and why (since 2026-12)"
    )


class DisclosuresPage(BaseModel):
    disclosures: list[DisclosureHeld]
    next: str | None = Field(
        default=None, description="where the next page starts: pass it as `after`; null on the list's last page"
    )


def _details(row: RegistryRow) -> RegisteredDetails:
    return RegisteredDetails(
        uln=row.uln,
        given_name=row.given_name,
        family_name=row.family_name,
        date_of_birth=row.date_of_birth,
        gender=row.gender,
        merged_into=row.master_uln,
        last_changed_at=row.updated_at,
        erased_at=row.erased_at,
    )


def disclosures_of(request: Request) -> Disclosures:
    store: Disclosures = request.app.state.disclosures
    return store


def _disclosure(disclosure: Disclosure) -> DisclosureHeld:
    return DisclosureHeld(
        disclosure_id=disclosure.disclosure_id,
        uln=disclosure.uln,
        read_by=disclosure.read_by,
        read_at=disclosure.read_at,
        reason=disclosure.reason,
        reason_erased=disclosure.reason_erased,
    )


def _answer(held: HeldAbout, disclosure: Disclosure, earlier: list[Disclosure]) -> LearnerPersonalData:
    master = next(row for row in held.registrations if row.uln == held.master_uln)
    erased_at = min((row.erased_at for row in held.registrations if row.erased_at is not None), default=None)
    erased = erased_at is not None
    return LearnerPersonalData(
        uln=held.uln,
        ulns=[row.uln for row in held.registrations],
        erased=erased,
        erased_at=erased_at,
        what_was_erased=WHAT_ERASURE_ERASED if erased else None,
        registered_details=[_details(row) for row in held.registrations],
        ability_to_share=None if erased else AbilityToShare(master.ability_to_share),
        sharing_changes=[
            SharingChangeHeld(
                uln=change.uln,
                ability_to_share=change.ability_to_share,
                changed_by=change.changed_by,
                changed_at=change.changed_at,
            )
            for change in held.sharing_changes
        ],
        providers=[
            ProviderLinkHeld(
                uln=link.uln, ukprn=link.provider_ukprn, linked_since=link.linked_at, linked_by=link.linked_by
            )
            for link in held.provider_links
        ],
        merges=[
            MergeHeld(merged_uln=row.uln, master_uln=row.master_uln)
            for row in held.registrations
            if row.master_uln is not None
        ],
        erasures=[
            ErasureHeld(
                erasure_id=erasure.erasure_id,
                uln=erasure.uln,
                erased_by=erasure.erased_by,
                erased_at=erasure.erased_at,
                reason=erasure.reason,
            )
            for erasure in held.erasures
        ],
        corrections=[
            CorrectionHeld(
                ulns=list(each.ulns),
                fields=list(each.fields),
                reason=each.reason,
                corrected_by=each.corrected_by,
                corrected_at=each.corrected_at,
            )
            for each in held.rectifications
        ],
        disclosure=_disclosure(disclosure),
        earlier_disclosures=[_disclosure(each) for each in earlier],
    )


@router.get(
    "/admin/learners/{uln}/personal-data",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["learner registry"],
    summary="What the learner registry holds about a learner, for their subject access request (operators)",
    description=(
        "For a learner's request for a copy of their personal data (UK GDPR Article 15, decision 0191): under the ULN"
        " and every ULN merged with it (either way, along chains; the master ULN first), each ULN's registered"
        " details (names, date of birth, gender, when the row last changed), their ability to share now and every"
        " change of it with who made it, the providers linked to them (since when, by whom), their merges, every"
        " correction of their details (when, which fields, why, by whom), their erasure, and every earlier answer of"
        " their personal data (who was handed it, when, why). An erased"
        " learner's answer says what the erasure erased, and holds no details: none are left. The same operators as"
        " the erasure (scope `erasure`). Each answer is audited before it is sent, under the ULN asked: who read it,"
        " when, and `reason` if given (one line, at most 500 characters; kept until the learner is erased, as it may"
        " name them); an audit that cannot be written sends no answer (503). The answer holds its own record"
        " (`disclosure`); `GET /v1/admin/learners/personal-data/disclosures` lists them all. Their PLR is read from"
        " the PLR service and their challenges from the challenges service: `lrs learners personal-data` gathers the"
        " three into one file. A ULN the registry never held is"
        " 404; a ULN whose check digit is wrong 422 `RV002`, the temporary ULN 9999999999 422 `RV003`."
    ),
    responses=problem_responses(401, 403, 404, 422, 503),
    openapi_extra=operator_scope(OperatorScope.ERASURE),
)
async def learner_personal_data(
    request: Request,
    principal: Operator,
    uln: Uln,
    reason: Annotated[
        Reason | None,
        Query(
            max_length=REASON_LENGTH,
            description="why the data is read (a subject access request's reference, say): kept in the audit of"
            " disclosures, trimmed, until the learner is erased",
        ),
    ] = None,
) -> LearnerPersonalData:
    no_learners_uln(uln, "No learner has it: check the ULN against the learner's own records.")
    # audited before anything is read: a disclosure that cannot be written is no answer (503), and an erasure that
    # commits before the read leaves nothing of the learner's details to answer with
    disclosures = disclosures_of(request)
    disclosure = await disclosures.record(uln, str(principal), reason)
    held = await learner_registry_of(request).held_about(uln) if disclosure is not None else None
    if disclosure is None or held is None:
        raise ProblemError(
            404,
            "Learner not registered",
            "The learner registry never held this ULN: no learner was registered (or erased) under it.",
            code=ProblemCode.LEARNER_NOT_REGISTERED,
        )
    earlier = await disclosures.earlier(disclosure, [row.uln for row in held.registrations])
    _log.info(
        "learner_personal_data_read",
        uln=mask_uln(uln),
        ulns=len(held.registrations),
        by=str(principal),
        disclosure_id=str(disclosure.disclosure_id),
    )
    return _answer(held, disclosure, earlier)


@router.get(
    "/admin/learners/personal-data/disclosures",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["learner registry"],
    summary="The audit of disclosures of learners' personal data (operators)",
    description=(
        "Every answer of `GET /v1/admin/learners/{uln}/personal-data`: under which ULN, who was handed the learner's"
        " personal data, when and why (the reason is emptied once the learner is erased: `reason_erased`). Newest"
        " first, `limit` at a time: a full page carries `next`, to pass back as `after` for the page that follows."
        " With `uln`, the answers asked under that ULN and every ULN merged with it (either way, along chains, erased"
        " or not), as the learner's own answer lists them: one person's. For the operators who may read a learner's"
        " personal data (scope `erasure`)."
    ),
    responses=problem_responses(401, 403, 422, 503),
    openapi_extra=operator_scope(OperatorScope.ERASURE),
)
async def list_disclosures(
    request: Request,
    principal: Operator,
    uln: Annotated[str | None, Query(pattern=ULN_PATTERN)] = None,
    after: PageAfter = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DisclosuresPage:
    # the learner's every ULN, as their own answer gathers them (`held_about`): a merge only adds ULNs, so a page
    # token taken before a merge still marks a place in the same order
    ulns = [uln, *await learner_registry_of(request).same_learner(uln)] if uln is not None else None
    found = await disclosures_of(request).listing(ulns, after=after, limit=limit + 1)
    page, following = split_page(found, limit, lambda last: last.position)
    return DisclosuresPage(
        disclosures=[_disclosure(each) for each in page], next=following.token() if following else None
    )
