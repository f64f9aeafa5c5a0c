"""Operator and registry endpoints of the validation service.

The learner registry lives here because verification (RV004) must see a registration the moment it
is made; other services learn of learners from `lrs.learner.events.v1`.
"""

from __future__ import annotations

import asyncio
import csv
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, Field

from lrs_contracts.learner import AbilityToShare
from lrs_domain.reference import Learner
from lrs_platform.identity import CurrentPrincipal, PrincipalKind, require_kind
from lrs_platform.problems import ProblemError, problem_responses
from validation.catalogue_publisher import publish_catalogue
from validation.reference_store import ReferenceFiles, ReferenceStore, UnknownLearnerError, parse_learners_csv

router = APIRouter(prefix="/v1")

ULN_PATTERN = r"^[1-9][0-9]{9}$"


class LearnerRegistration(BaseModel):
    uln: str = Field(pattern=ULN_PATTERN)
    given_name: str = Field(min_length=1, max_length=35)
    family_name: str = Field(min_length=1, max_length=35)
    date_of_birth: date | None = None
    gender: int = Field(default=0, description="0 not known, 1 male, 2 female, 9 not specified")
    ability_to_share: AbilityToShare = AbilityToShare.NOT_SEEN


class SharingChange(BaseModel):
    ability_to_share: AbilityToShare


class MergeRequest(BaseModel):
    merged_uln: str = Field(pattern=ULN_PATTERN)


class ReferenceLoaded(BaseModel):
    awarding_organisations: int
    qualifications: int


class LearnersRegistered(BaseModel):
    registered: int


def _store(request: Request) -> ReferenceStore:
    store: ReferenceStore = request.app.state.reference
    return store


def _wake_outbox(request: Request) -> None:
    wake: asyncio.Event = request.app.state.outbox_wake
    wake.set()


@router.post(
    "/admin/reference/load",
    tags=["reference data"],
    summary="Reload the catalogue and awarding organisations from the reference files",
    responses=problem_responses(401, 403),
)
async def load_reference(request: Request, principal: CurrentPrincipal) -> ReferenceLoaded:
    require_kind(principal, PrincipalKind.OPERATOR)
    files = ReferenceFiles.read(request.app.state.settings.reference_dir)
    store = _store(request)
    organisations, qualifications = await store.load(files)
    catalogue, _ = await store.current()
    await publish_catalogue(request.app.state.outbox_producer, catalogue, await store.version())
    return ReferenceLoaded(awarding_organisations=organisations, qualifications=qualifications)


@router.post(
    "/learners",
    tags=["learner registry"],
    summary="Register a learner, or replace a registered learner's details",
    status_code=201,
    responses=problem_responses(401, 403, 422),
)
async def register_learner(
    request: Request, principal: CurrentPrincipal, registration: LearnerRegistration
) -> LearnersRegistered:
    require_kind(principal, PrincipalKind.PROVIDER)
    if registration.gender not in (0, 1, 2, 9):
        raise ProblemError(422, "Invalid gender", "Gender must be 0, 1, 2 or 9.")
    learner = Learner(
        uln=registration.uln,
        given_name=registration.given_name.strip(),
        family_name=registration.family_name.strip(),
        date_of_birth=registration.date_of_birth,
        gender=registration.gender,
        ability_to_share=int(registration.ability_to_share),
    )
    count = await _store(request).register_learners([learner])
    _wake_outbox(request)
    return LearnersRegistered(registered=count)


@router.post(
    "/learners/import",
    tags=["learner registry"],
    summary="Register many learners from CSV (ULN,GivenName,FamilyName,DateOfBirth,Gender,AbilityToShare,MasterULN)",
    status_code=201,
    responses=problem_responses(401, 403, 422),
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}},
)
async def import_learners(request: Request, principal: CurrentPrincipal) -> LearnersRegistered:
    require_kind(principal, PrincipalKind.OPERATOR)
    text = (await request.body()).decode("utf-8-sig", errors="strict")
    try:
        learners = parse_learners_csv(text)
    except (ValueError, KeyError, csv.Error) as error:
        raise ProblemError(422, "Unreadable learner file", str(error)) from error
    try:
        count = await _store(request).register_learners(learners)
    except UnknownLearnerError as error:
        raise ProblemError(422, "Unknown learner in a merge", str(error)) from error
    _wake_outbox(request)
    return LearnersRegistered(registered=count)


@router.post(
    "/learners/{uln}/sharing",
    tags=["learner registry"],
    summary="Change a learner's ability to share",
    status_code=204,
    responses=problem_responses(401, 403, 404),
)
async def change_sharing(
    request: Request, principal: CurrentPrincipal, uln: str, change: Annotated[SharingChange, Body()]
) -> None:
    if not (principal.kind is PrincipalKind.LEARNER and principal.id == uln):
        require_kind(principal, PrincipalKind.PROVIDER)
    try:
        await _store(request).change_sharing(uln, change.ability_to_share)
    except UnknownLearnerError as error:
        raise ProblemError(404, "Learner not registered") from error
    _wake_outbox(request)


@router.post(
    "/learners/{master_uln}/merge",
    tags=["learner registry"],
    summary="Merge another ULN into this master ULN",
    status_code=204,
    responses=problem_responses(401, 403, 404),
)
async def merge_learners(request: Request, principal: CurrentPrincipal, master_uln: str, merge: MergeRequest) -> None:
    require_kind(principal, PrincipalKind.OPERATOR)
    try:
        await _store(request).merge(master_uln, merge.merged_uln)
    except UnknownLearnerError as error:
        raise ProblemError(404, "Learner not registered", "Both ULNs must be registered and different.") from error
    _wake_outbox(request)
