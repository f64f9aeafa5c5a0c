"""What the learner registry holds about a learner, for an operator answering their subject access request (UK GDPR
Article 15, decision 0191): every ULN of theirs with its registered details, their ability to share and who changed it,
the providers linked to them, their merges, and their erasure. The PLR and the challenges are read from their own
services (`lrs learners personal-data` gathers all three)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Final

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from lrs_contracts.codes import ProblemCode
from lrs_contracts.learner import AbilityToShare
from lrs_platform.environment import refuse_in_sandpit
from lrs_platform.identity import OperatorScope, operator_scope
from lrs_platform.logging import get_logger, mask_uln
from lrs_platform.problems import ProblemError, problem_responses
from validation.api_common import Operator, Uln, learner_registry_of, no_learners_uln
from validation.learner_registry import HeldAbout, RegistryRow

router = APIRouter(prefix="/v1")

_log = get_logger("validation.api")

WHAT_ERASURE_ERASED: Final = (
    "the given name, family name, date of birth and gender registered under each of the learner's ULNs, and the"
    " key their personal data was sealed under on Kafka (decision 0080); the reasons and notes of their challenges"
    " are emptied by the challenges service. Their ULNs, ability to share and its changes, provider links, merges"
    " and achievements are kept, and are what this answer holds."
)


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


def _answer(held: HeldAbout) -> LearnerPersonalData:
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
        " change of it with who made it, the providers linked to them (since when, by whom), their merges, and their"
        " erasure. An erased learner's answer says what the erasure erased, and holds no details: none are left."
        " The same operators as the erasure (scope `erasure`); each read is logged with who read it and the ULN"
        " masked, never the data. Their PLR is read from the PLR service and their challenges from the challenges"
        " service: `lrs learners personal-data` gathers the three into one file. A ULN the registry never held is"
        " 404; a ULN whose check digit is wrong 422 `RV002`, the temporary ULN 9999999999 422 `RV003`."
    ),
    responses=problem_responses(401, 403, 404, 422, 503),
    openapi_extra=operator_scope(OperatorScope.ERASURE),
)
async def learner_personal_data(request: Request, principal: Operator, uln: Uln) -> LearnerPersonalData:
    no_learners_uln(uln, "No learner has it: check the ULN against the learner's own records.")
    held = await learner_registry_of(request).held_about(uln)
    if held is None:
        raise ProblemError(
            404,
            "Learner not registered",
            "The learner registry never held this ULN: no learner was registered (or erased) under it.",
            code=ProblemCode.LEARNER_NOT_REGISTERED,
        )
    _log.info("learner_personal_data_read", uln=mask_uln(uln), ulns=len(held.registrations), by=str(principal))
    return _answer(held)
