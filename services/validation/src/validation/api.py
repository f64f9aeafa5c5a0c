"""Operator and registry endpoints of the validation service.

The learner registry lives here because verification (RV004) must see a registration the moment it
is made; other services learn of learners from `lrs.learner.events.v1`. Routes with a JSON body decide
who the caller is and what they may do before they read the body, so a forbidden caller gets 403 and
never a 422 about a body it had no right to send.
"""

from __future__ import annotations

import asyncio
import csv
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Final, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from lrs_contracts.codes import LEARNER_IMPORT_BYTES, ProblemCode
from lrs_contracts.identifiers import UKPRN_PATTERN, ULN_PATTERN
from lrs_contracts.learner import AbilityToShare
from lrs_contracts.text import OneLineText, StorableText, WrittenDate
from lrs_domain.identifiers import TEMPORARY_ULN
from lrs_domain.merges import LearnerMerges, MergedLearner
from lrs_domain.reference import Learner
from lrs_domain.reference_data import EARLIEST_BIRTH_DATE
from lrs_domain.rules import MAX_NAME_LENGTH, why_no_learner_has
from lrs_platform.authentication import CurrentPrincipal, operator_caller
from lrs_platform.clock import today_in_england
from lrs_platform.credential_store import CredentialStore
from lrs_platform.environment import refuse_in_sandpit
from lrs_platform.identity import OperatorScope, Principal, PrincipalKind, operator_scope
from lrs_platform.keyring import Keyring, WrappingState
from lrs_platform.logging import get_logger, mask_uln
from lrs_platform.paging import PagePosition, split_page
from lrs_platform.paging_api import PageAfter
from lrs_platform.problems import Problem, ProblemError, invalid_request, problem_response, problem_responses
from validation.catalogue_publisher import publish_catalogue
from validation.reference_store import (
    AlreadyMergedError,
    ErasedLearnerError,
    Erasure,
    ErasurePreview,
    LearnerDetailsConflict,
    LearnerNotHeldError,
    MergeCycleError,
    ReferenceFiles,
    ReferenceStore,
    UnknownLearnerError,
    parse_learners_csv,
)
from validation.registry_access import (
    checked_uln,
    may_change_sharing,
    may_register,
    may_see_link,
    who_changed_sharing,
)

Operator = Annotated[Principal, Depends(operator_caller("This operation is open to operators only."))]

router = APIRouter(prefix="/v1")

Model = TypeVar("Model", bound=BaseModel)
Uln = Annotated[str, Path(pattern=ULN_PATTERN, description="Unique Learner Number (10 digits)")]
_log = get_logger("validation.api")
_NAME = f"1 to {MAX_NAME_LENGTH} characters once trimmed, on one line"


def _a_number_not_a_truth_value(value: object) -> object:
    """JSON's `true` is not the choice 1, nor `"2"` the choice 2 (pydantic would read both so): a coded choice
    is sent as its number."""
    if isinstance(value, bool):
        raise ValueError("send the choice's number, not true or false")
    if isinstance(value, str):
        raise ValueError("send the choice's number, not text")
    return value


def _a_birth_date(value: date | None) -> date | None:
    """From 1900-01-01 to England's today, as the import reads it (`lrs_domain.reference_data.load_learners`)."""
    if value is not None and not EARLIEST_BIRTH_DATE <= value <= today_in_england():
        raise ValueError(f"expected a date of birth from {EARLIEST_BIRTH_DATE.isoformat()} to today")
    return value


class LearnerRegistration(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    uln: Annotated[
        str,
        Field(pattern=ULN_PATTERN, description="10 digits, the last of them the check digit (RV002): else 422"),
        AfterValidator(checked_uln),
    ]
    given_name: OneLineText = Field(min_length=1, max_length=MAX_NAME_LENGTH, description=_NAME)
    family_name: OneLineText = Field(min_length=1, max_length=MAX_NAME_LENGTH, description=_NAME)
    date_of_birth: Annotated[WrittenDate | None, AfterValidator(_a_birth_date)] = Field(
        default=None, description="`yyyy-mm-dd`, from 1900-01-01 to today (else 422, a value not repeated)"
    )
    gender: Annotated[Literal[0, 1, 2, 9], BeforeValidator(_a_number_not_a_truth_value)] = Field(
        default=0, description="0 not known, 1 male, 2 female, 9 not specified"
    )
    ability_to_share: Annotated[AbilityToShare, BeforeValidator(_a_number_not_a_truth_value)] = AbilityToShare.NOT_SEEN


class SharingChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ability_to_share: Annotated[AbilityToShare, BeforeValidator(_a_number_not_a_truth_value)]


class SharingChangeView(BaseModel):
    ability_to_share: AbilityToShare
    changed_by: str = Field(
        description="to operators the principal (or `merge of <ULN>`); to others `you`, or who by kind: the learner,"
        " a learning provider linked to the learner, an LRS operator, the merge of the learner's ULNs"
    )
    changed_at: datetime


class SharingView(BaseModel):
    uln: str
    ability_to_share: AbilityToShare = Field(
        description="0 privacy notice not seen, 1 shares, 2 unable to share: what every read of the PLR applies"
    )
    changes: list[SharingChangeView] = Field(description="the latest 50 changes, newest first (since 2026-12)")


class SurvivingSharingChanges(BaseModel):
    uln: str
    ulns: list[str] = Field(description="the ULN and the learner's other ULNs (merged with it), erased or not")
    erased: bool = Field(description="whether the learner was erased: the changes are all that is left of the choice")
    changes: list[SharingChangeView] = Field(
        description="the latest 50 changes under any of the ULNs, newest first, with who made each (the principal)"
    )


class LinkedProviderView(BaseModel):
    ukprn: str
    linked_since: datetime = Field(description="when the provider was first linked to one of the learner's ULNs")


class LinkedProviders(BaseModel):
    uln: str
    providers: list[LinkedProviderView] = Field(
        description="the providers linked to the learner, oldest link first: those that read their PLR while they"
        " share, report centre achievements for them and may change their ability to share. A provider is shown only"
        " its own link."
    )


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    merged_uln: str = Field(pattern=ULN_PATTERN)


class ProviderLink(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ukprn: str = Field(pattern=UKPRN_PATTERN, description="the provider linked to the learner")


class ErasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: StorableText = Field(
        min_length=1, max_length=500, description="why the learner is erased: kept in the audit (trimmed)"
    )


class ErasureDone(BaseModel):
    erasure_id: uuid.UUID
    uln: str
    erased_by: str
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


class ReferenceLoaded(BaseModel):
    awarding_organisations: int
    qualifications: int


class KeyWrapping(BaseModel):
    """How the learners' data keys are wrapped (decision 0116)."""

    wrap_with: int = Field(
        description="the wrapping key new learner keys are wrapped with (0: derived from LRS_KEYRING_KEY)"
    )
    keys_by_wrapping_key: dict[str, int] = Field(
        description="stored learner keys (erased ones not counted) by wrapping key id"
    )
    to_rewrap: int = Field(description="stored keys another wrapping key than `wrap_with` wraps")
    rewrapped: int = Field(default=0, description="keys this request re-wrapped")


class LearnersRegistered(BaseModel):
    registered: int = Field(description="Learners registered: new to the registry")
    updated: int = Field(default=0, description="Registered learners whose details the import replaced")
    unchanged: int = Field(
        default=0,
        description="Learners the import named with the details already held: nothing published for their details"
        " (a merge it made of one of them is counted in `merged`)",
    )
    merged: int = Field(default=0, description="Merges the import made: learners it merged into the master ULN given")


def _store(request: Request) -> ReferenceStore:
    store: ReferenceStore = request.app.state.reference
    return store


def _wake_outbox(request: Request) -> None:
    wake: asyncio.Event = request.app.state.outbox_wake
    wake.set()


def _forbidden(detail: str) -> ProblemError:
    return ProblemError(403, "Forbidden", detail)


async def keyring_unavailable(request: Request, error: Exception) -> JSONResponse:
    """The learner key store is unreachable, was made with another `LRS_KEYRING_KEY`, or holds a key wrapped
    with a wrapping key this service was not given: nothing was changed. The keyring's errors say which, and
    carry no key material or personal data."""
    problem = Problem(
        status=503,
        title="The learner key store is unavailable",
        detail=f"The learners' keys cannot be used right now ({error}), so nothing was changed. Send the request"
        " again later.",
        code=ProblemCode.KEYRING_UNAVAILABLE,
        instance=request.url.path,
    )
    return problem_response(problem, {"Retry-After": "10"})


def _not_registered() -> ProblemError:
    return ProblemError(
        404,
        "Learner not registered",
        "No learner is registered under this ULN: a provider registers them (POST /v1/learners), or an operator"
        " imports them.",
        code=ProblemCode.LEARNER_NOT_REGISTERED,
    )


def _erased(detail: str) -> ProblemError:
    return ProblemError(410, "Learner erased", detail, code=ProblemCode.LEARNER_ERASED)


async def _not_registered_or_erased(store: ReferenceStore, uln: str, erased: str) -> ProblemError:
    """Why a ULN with no registered learner answers nothing: erased (410, `erased` saying what is gone), or never
    registered (404)."""
    return _erased(erased) if await store.erasures(uln) else _not_registered()


async def _body(request: Request, model: type[Model]) -> Model:
    """The JSON body, read only once the caller is authorised."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as error:
        problem = invalid_request(error.errors(), within=("body",))
        raise ProblemError(problem.status, problem.title, problem.detail, problem.code) from error


async def _providers_linked_to(store: ReferenceStore, uln: str) -> frozenset[str]:
    """The providers linked to the learner `uln` is one of the ULNs of (a merged learner is one person)."""
    learner = LearnerMerges.of((await store.learners_for([uln])).values()).resolve(uln)
    return await store.linked_providers(learner.ulns)


_CSV_MEDIA_TYPES: Final = frozenset({"", "text/csv", "text/plain", "application/csv"})


def _refuse_unless_csv(content_type: str | None) -> None:
    """A learner file is CSV: a body labelled JSON, XML or a form is someone sending the wrong file or forgetting
    the label, and is refused (415), not read as CSV."""
    if (content_type or "").split(";", 1)[0].strip().lower() not in _CSV_MEDIA_TYPES:
        raise ProblemError(
            415,
            "Unsupported Media Type",
            "This route reads a CSV file of learners, and the body was labelled as something else: send the CSV file"
            " with Content-Type: text/csv.",
            code=ProblemCode.UNSUPPORTED_MEDIA_TYPE,
        )


def _no_learners_uln(uln: str, outcome: str) -> None:
    """A ULN no learner can have (decision 0145: a wrong check digit; 0154: the temporary ULN) is answered as
    such (422 with its code), before any access check, rather than "not registered" or "not linked"."""
    if refusal := why_no_learner_has(uln):
        raise ProblemError(422, "Invalid ULN", f"{refusal.reason} {outcome}", code=refusal.code)


def _refuse_mistyped(*ulns: str) -> None:
    for uln in ulns:
        _no_learners_uln(uln, "Nothing was changed: use the learner's own ULN.")


def _not_held(uln: str) -> ProblemError:
    """Why a ULN the LRS holds nothing about is not erased: a mistyped one, most likely. (A ULN held, say in a
    batch that mistyped it, is erased whatever its check digit: no learner can ever be registered under a ULN
    whose check digit is wrong.)"""
    _no_learners_uln(
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


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a body read by `_body`: the model's schema with its definitions inlined."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            siblings = {key: inline(value) for key, value in node.items() if key != "$ref"}
            if "$ref" in node:
                return {**inline(definitions[node["$ref"].rsplit("/", 1)[-1]]), **siblings}
            return siblings
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return {"requestBody": {"required": True, "content": {"application/json": {"schema": inline(schema)}}}}


@router.post(
    "/admin/reference/load",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["reference data"],
    summary="Reload the catalogue and awarding organisations from the reference files",
    responses=problem_responses(401, 403),
    openapi_extra=operator_scope(OperatorScope.REGISTRY),
)
async def load_reference(request: Request, principal: Operator) -> ReferenceLoaded:
    files = ReferenceFiles.read(request.app.state.settings.reference_dir)
    store = _store(request)
    organisations, qualifications = await store.load(files)
    catalogue, _ = await store.current()
    await publish_catalogue(request.app.state.outbox_producer, catalogue, await store.version())
    return ReferenceLoaded(awarding_organisations=organisations, qualifications=qualifications)


@router.post(
    "/learners",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["learner registry"],
    summary="Register a new learner (providers, operators)",
    description=(
        "Registers a learner and links the calling provider to them: a linked provider reads the learner's PLR "
        "while they share, reports centre achievements for them and changes their ability to share (decision "
        "0121). The same details again (names compared case-insensitively, date of birth, gender) change "
        "nothing, link no one and answer 200 with `registered: 0`; other "
        "details for a registered ULN are refused with 409, and so is any registration of a registered ULN by a "
        "provider not linked to the learner, whatever its details (it tells them nothing about the learner) — registered details are corrected only by an "
        "operator's import. Ability to share is changed through `/v1/learners/{uln}/sharing`, never here. A ULN "
        "whose check digit is wrong is refused with 422 (decision 0132): every batch record for it would be RV002."
    ),
    status_code=201,
    responses={
        200: {"model": LearnersRegistered, "description": "already registered with these details: nothing changed"},
        **problem_responses(401, 403, 409, 410, 422, 503),
    },
    openapi_extra=_json_body(LearnerRegistration) | operator_scope(OperatorScope.REGISTRY),
)
async def register_learner(request: Request, principal: CurrentPrincipal, response: Response) -> LearnersRegistered:
    if not may_register(principal):
        if principal.kind is PrincipalKind.PROVIDER:
            raise _forbidden("A provider's key must name its 8-digit UKPRN: ask an operator for a new key.")
        raise _forbidden("Only providers and operators register learners.")
    registration = await _body(request, LearnerRegistration)
    learner = Learner(
        uln=registration.uln,
        given_name=registration.given_name,
        family_name=registration.family_name,
        date_of_birth=registration.date_of_birth,
        gender=registration.gender,
        ability_to_share=int(registration.ability_to_share),
    )
    provider = principal.id if principal.kind is PrincipalKind.PROVIDER else None
    store = _store(request)
    try:
        created = await store.register_learner(learner, registered_by_provider=provider)
        conflict = None
    except ErasedLearnerError as error:
        raise _erased("This ULN's learner was erased: it is never registered again.") from error
    except LearnerDetailsConflict as error:
        created, conflict = False, error
    if not created and provider is not None and provider not in await _providers_linked_to(store, learner.uln):
        # the same answer whether the details sent match or not: else a provider with no link to the learner
        # could try dates of birth one by one until one is "unchanged"
        raise ProblemError(
            409,
            "Learner already registered",
            "This ULN is registered already, and not by you: registering it changes nothing and links you to no one."
            " Ask an operator to link you to the learner (`lrs learners link`).",
            code=ProblemCode.LEARNER_ALREADY_REGISTERED,
        )
    if conflict is not None:
        raise ProblemError(
            409,
            "Learner already registered",
            "This ULN is registered with other details; registered details are never replaced by a registration."
            " Check the ULN, or ask an operator to correct the learner's details.",
            code=ProblemCode.LEARNER_ALREADY_REGISTERED,
        ) from conflict
    if not created:
        response.status_code = 200
        return LearnersRegistered(registered=0, unchanged=1)
    _wake_outbox(request)
    return LearnersRegistered(registered=1)


@router.post(
    "/learners/import",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["learner registry"],
    summary="Register many learners from CSV (ULN,GivenName,FamilyName,DateOfBirth,Gender,AbilityToShare,MasterULN)",
    description=(
        f"A file of at most {LEARNER_IMPORT_BYTES:,} bytes (413 `REQUEST_TOO_LARGE` beyond: split it). A registered"
        " learner's ability to share changes only where the file says something new about it since the last file,"
        " and a file never removes an opt-out (2): the learner, a linked provider or an operator acting for them does,"
        " through the sharing route (decision 0180)."
    ),
    status_code=201,
    responses=problem_responses(401, 403, 409, 410, 415, 422, 503),
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}}
    | operator_scope(OperatorScope.REGISTRY),
)
async def import_learners(request: Request, principal: Operator) -> LearnersRegistered:
    _refuse_unless_csv(request.headers.get("content-type"))
    try:
        learners = parse_learners_csv((await request.body()).decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise ProblemError(
            422,
            "Unreadable learner file",
            f"The file is not UTF-8 text (byte {error.start + 1} cannot be read): save it as CSV UTF-8.",
        ) from error
    except (ValueError, KeyError, csv.Error) as error:
        raise ProblemError(422, "Unreadable learner file", str(error)) from error
    try:
        imported = await _store(request).register_learners(learners, imported_by=f"{principal} (learner file)")
    except UnknownLearnerError as error:
        raise ProblemError(422, "Unknown learner in a merge", str(error)) from error
    except ErasedLearnerError as error:
        raise _erased(
            f"The file names erased learners (ULNs ending {error}): they are never registered or merged again;"
            " nothing in the file was registered."
        ) from error
    except AlreadyMergedError as error:
        raise _merged_already(error, " Nothing in the file was registered.") from error
    except MergeCycleError as error:
        raise _merge_cycle(f" ({error}) Nothing in the file was registered.") from error
    _wake_outbox(request)
    _log.info(  # the registry's changes, audited by who made them (counts: the file's learners are not logged)
        "learners_imported",
        by=str(principal),
        new=imported.new,
        updated=imported.updated,
        unchanged=imported.unchanged,
        merged=imported.merged,
    )
    return LearnersRegistered(
        registered=imported.new, updated=imported.updated, unchanged=imported.unchanged, merged=imported.merged
    )


def _merge_cycle(more: str = "") -> ProblemError:
    return ProblemError(
        409,
        "Merge would make a cycle",
        "The master ULN is already merged, directly or through other ULNs, into the ULN to merge: both"
        f" already belong to one learner, whose records land on the end of that chain.{more}",
    )


def _merged_already(error: AlreadyMergedError, more: str = "") -> ProblemError:
    return ProblemError(
        409,
        "Learner merged already",
        f"{error}: a ULN is merged once, into one master; to bring the two learners together, merge that master"
        f" instead.{more}",
        code=ProblemCode.LEARNER_MERGED_ALREADY,
    )


async def _sharing_learner(
    store: ReferenceStore, principal: Principal, uln: str, doing: str
) -> tuple[MergedLearner, dict[str, Learner]]:
    """The learner `uln` names (a merged learner is one person: every read takes the choice of the ULN their
    records go under) and the registry's rows of their ULNs, once `principal` may see and change their sharing."""
    learners = await store.learners_for([uln])
    learner = LearnerMerges.of(learners.values()).resolve(uln)
    linked = (
        await store.linked_providers(learner.ulns) if principal.kind is PrincipalKind.PROVIDER else frozenset[str]()
    )
    if not may_change_sharing(principal, learner.ulns, linked):
        raise ProblemError(
            403,
            "Forbidden",
            f"Only the learner, a provider linked to the learner, or an operator {doing}.",
            code=ProblemCode.PROVIDER_NOT_LINKED if principal.kind is PrincipalKind.PROVIDER else None,
        )
    return learner, learners


_ERASED_SHARING: Final = (
    "This ULN's learner was erased: their ability to share is not recorded any more. The changes made before the"
    " erasure are kept: an operator reads who made them with GET /v1/admin/learners/{uln}/sharing-changes."
)


@router.post(
    "/learners/{uln}/sharing",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["learner registry"],
    summary="Change a learner's ability to share (the learner, a linked provider, operators)",
    description=(
        "A provider may change it only for a learner it is linked to: the provider that registered the learner, "
        "or one an operator linked with `/v1/learners/{uln}/providers`. Any other provider gets 403, whether or "
        "not the ULN is registered; a ULN whose check digit is wrong is 422 `RV002` before that, from anyone. A "
        "merged learner is one person: any of their ULNs names them, and the "
        "choice is kept under the ULN their records go under (the end of the merge chain), which every read "
        "applies. The change is recorded at once and reaches the PLR service through the learner log: providers "
        "are refused (or allowed) their PLR once that service has applied it, normally within seconds, longer "
        "while it is behind. An erased learner is 410: nothing more is recorded about them."
    ),
    status_code=204,
    response_class=Response,  # no body, so no content-type either
    responses=problem_responses(401, 403, 404, 410, 422),
    openapi_extra=_json_body(SharingChange) | operator_scope(OperatorScope.REGISTRY),
)
async def change_sharing(request: Request, principal: CurrentPrincipal, uln: Uln) -> None:
    _refuse_mistyped(uln)
    store = _store(request)

    # anyone but an operator is refused before the body is read (decision 0032); an operator's body is read first
    learner = None if principal.is_operator else (await _sharing_learner(store, principal, uln, "changes sharing"))[0]
    change = await _body(request, SharingChange)
    learner = learner or (await _sharing_learner(store, principal, uln, "changes sharing"))[0]
    try:
        await store.change_sharing(learner.recorded_uln, change.ability_to_share, str(principal))
    except UnknownLearnerError as error:
        raise _not_registered() from error
    except ErasedLearnerError as error:
        raise _erased(_ERASED_SHARING) from error
    _wake_outbox(request)


@router.get(
    "/learners/{uln}/sharing",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["learner registry"],
    summary="A learner's ability to share, and who changed it when (the learner, a linked provider, operators)",
    description=(
        "The choice every read of the learner's PLR applies (a merged learner's: the one kept under the end of "
        "the merge chain), and its latest changes under any of their ULNs. Who may change it may read it; any "
        "other provider gets 403, for a registered ULN and an unknown one alike. An erased learner is 410 "
        "`LEARNER_ERASED`, as for a change: the changes made before the erasure are kept (decision 0166), and "
        "operators read them with `/v1/admin/learners/{uln}/sharing-changes`."
    ),
    responses=problem_responses(401, 403, 404, 410, 422),
    openapi_extra=operator_scope(OperatorScope.REGISTRY),
)
async def read_sharing(request: Request, principal: CurrentPrincipal, uln: Uln) -> SharingView:
    _refuse_mistyped(uln)
    store = _store(request)
    learner, learners = await _sharing_learner(store, principal, uln, "reads their sharing")
    recorded = learners.get(learner.recorded_uln)
    if recorded is None:
        raise await _not_registered_or_erased(store, uln, _ERASED_SHARING)
    changes = await store.sharing_changes(learner.ulns)
    return SharingView(
        uln=uln,
        ability_to_share=AbilityToShare(recorded.ability_to_share),
        changes=[
            SharingChangeView(
                ability_to_share=change.ability_to_share,
                changed_by=who_changed_sharing(change.changed_by, principal),
                changed_at=change.changed_at,
            )
            for change in changes
        ],
    )


@router.get(
    "/admin/learners/{uln}/sharing-changes",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["learner registry"],
    summary="Who changed a learner's sharing when, erased or not (operators)",
    description=(
        "The latest changes of the learner's ability to share under the ULN and every ULN merged with it, with "
        "the principal who made each. An erasure keeps them (decision 0166: ULNs and principals, nothing "
        "personal), so this answers for an erased learner too, whose sharing route answers 410. A ULN the "
        "registry never held, registered or erased, is 404."
    ),
    responses=problem_responses(401, 403, 404, 422),
    openapi_extra=operator_scope(OperatorScope.REGISTRY),
)
async def surviving_sharing_changes(request: Request, principal: Operator, uln: Uln) -> SurvivingSharingChanges:
    _refuse_mistyped(uln)
    store = _store(request)
    ulns = [uln, *await store.same_learner(uln)]
    erased = bool(await store.erasures(uln))
    if not erased and not await store.learners_for([uln]):
        raise _not_registered()
    changes = await store.sharing_changes(ulns)
    return SurvivingSharingChanges(
        uln=uln,
        ulns=ulns,
        erased=erased,
        changes=[
            SharingChangeView(
                ability_to_share=change.ability_to_share, changed_by=change.changed_by, changed_at=change.changed_at
            )
            for change in changes
        ],
    )


@router.get(
    "/learners/{uln}/providers",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["learner registry"],
    summary="The providers linked to a learner (the learner, operators; a linked provider sees its own link)",
    description=(
        "Who may read the learner's PLR while they share (decision 0121): the provider that registered them and any "
        "an operator linked, under any of their ULNs, each with when it was first linked. Who may read the learner's "
        "sharing may read this: the learner and operators see every link; a linked provider only its own; any other "
        "provider, and awarding organisations, get 403. An erased learner is 410."
    ),
    responses=problem_responses(401, 403, 404, 410, 422),
    openapi_extra=operator_scope(OperatorScope.REGISTRY),
)
async def linked_providers(request: Request, principal: CurrentPrincipal, uln: Uln) -> LinkedProviders:
    _refuse_mistyped(uln)
    store = _store(request)
    learner, learners = await _sharing_learner(store, principal, uln, "reads the providers linked to them")
    if learner.recorded_uln not in learners:
        raise await _not_registered_or_erased(
            store, uln, "This ULN's learner was erased: no provider reads a PLR of theirs any more."
        )
    links = await store.provider_links(learner.ulns)
    return LinkedProviders(
        uln=uln,
        providers=[
            LinkedProviderView(ukprn=link.provider_ukprn, linked_since=link.linked_at)
            for link in links
            if may_see_link(principal, link.provider_ukprn)
        ],
    )


@router.post(
    "/learners/{uln}/providers",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["learner registry"],
    summary="Link a provider to a learner (operators)",
    description=(
        "A linked provider reads the learner's PLR while they share, reports centre achievements for them and "
        "changes their ability to share (decision 0121). Linking again announces the link again (it repairs a "
        "projection that missed it); an erased learner is 410."
    ),
    status_code=204,
    response_class=Response,  # no body, so no content-type either
    responses=problem_responses(401, 403, 404, 410, 422),
    openapi_extra=_json_body(ProviderLink) | operator_scope(OperatorScope.REGISTRY),
)
async def link_provider(request: Request, principal: Operator, uln: Uln) -> None:
    _refuse_mistyped(uln)
    link = await _body(request, ProviderLink)
    try:
        await _store(request).link_provider(uln, link.ukprn, linked_by=str(principal))
    except UnknownLearnerError as error:
        raise _not_registered() from error
    except ErasedLearnerError as error:
        raise _erased("This ULN's learner was erased: no provider can be linked to them.") from error
    _wake_outbox(request)
    _log.info("provider_linked", uln=mask_uln(uln), ukprn=link.ukprn, by=str(principal))


@router.post(
    "/learners/{master_uln}/merge",
    dependencies=[Depends(refuse_in_sandpit)],
    tags=["learner registry"],
    summary="Merge another ULN into this master ULN",
    description=(
        "Refused with 409 when the master ULN is already merged, directly or through other ULNs, into the ULN "
        "to merge: the merge would make a cycle (decision 0031). Refused with 410 when either learner was erased."
    ),
    status_code=204,
    response_class=Response,  # no body, so no content-type either
    responses=problem_responses(401, 403, 404, 409, 410, 422),
    openapi_extra=_json_body(MergeRequest) | operator_scope(OperatorScope.REGISTRY),
)
async def merge_learners(request: Request, principal: Operator, master_uln: Uln) -> None:
    merge = await _body(request, MergeRequest)
    _refuse_mistyped(master_uln, merge.merged_uln)
    try:
        await _store(request).merge(master_uln, merge.merged_uln)
    except UnknownLearnerError as error:
        raise ProblemError(
            404,
            "Learner not registered",
            "Both ULNs must be registered and different.",
            code=ProblemCode.LEARNER_NOT_REGISTERED,
        ) from error
    except ErasedLearnerError as error:
        raise _erased("One of the learners was erased: an erased learner is never merged.") from error
    except AlreadyMergedError as error:
        raise _merged_already(error) from error
    except MergeCycleError as error:
        raise _merge_cycle() from error
    _wake_outbox(request)
    _log.info(
        "learners_merged", master_uln=mask_uln(master_uln), merged_uln=mask_uln(merge.merged_uln), by=str(principal)
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
        "(decision 0154)."
    ),
    status_code=201,
    responses={
        200: {"model": LearnerErased, "description": "erased before: the first erasure, nothing changed"},
        **problem_responses(401, 403, 404, 422, 503),
    },
    openapi_extra=_json_body(ErasureRequest) | operator_scope(OperatorScope.ERASURE),
)
async def erase_learner(
    request: Request,
    principal: Operator,
    response: Response,
    uln: Uln,
) -> LearnerErased:
    erasure_request = await _body(request, ErasureRequest)
    if uln == TEMPORARY_ULN:  # decision 0154: its records are many people's, sealed under their batches' keys
        _no_learners_uln(
            uln,
            "What an awarding organisation sends under it is sealed under that batch's own key, destroyed once the"
            " batch is decided, so nothing under it is one person's. Nothing was erased: erase the learner under"
            " their own ULN.",
        )
    try:
        # what the erasure will erase, and whether it is refused (then nothing is revoked either)
        preview = await _store(request).erasure_preview(uln)
    except LearnerNotHeldError as error:
        raise _not_held(uln) from error
    # before the erasure commits: no failure after it leaves an erased learner's key working
    await _revoke_learners_keys(request, [uln, *preview.merged_with])
    try:
        erasure, erased_now = await _store(request).erase(uln, str(principal), erasure_request.reason)
    except LearnerNotHeldError as error:
        raise _not_held(uln) from error
    if erased_now:
        _wake_outbox(request)
    else:
        response.status_code = 200
    erased_with = await _store(request).same_learner(uln)
    # a ULN merged with the learner after the preview was erased with them
    await _revoke_learners_keys(request, [other for other in erased_with if other not in preview.merged_with])
    return LearnerErased(
        erasure_id=erasure.erasure_id,
        uln=erasure.uln,
        erased_by=erasure.erased_by,
        erased_at=erasure.erased_at,
        erased_with=erased_with,
    )


async def _revoke_learners_keys(request: Request, ulns: list[str]) -> None:
    """A learner's own API keys end with their erasure, revoked before it commits: nothing is left for them to read
    as that learner, whatever fails after. An erasure that fails once they are revoked leaves them revoked (the
    operator erases again); one said again (200) revokes them again."""
    credentials: CredentialStore = request.app.state.credentials
    revoked = 0
    for erased_uln in ulns:
        revoked += await credentials.revoke_principal(Principal(PrincipalKind.LEARNER, erased_uln))
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
        _no_learners_uln(uln, "Nothing under it is one person's, so nothing would be erased.")
    try:
        preview = await _store(request).erasure_preview(uln)
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
    found = await _store(request).erasures(uln, after=after, limit=limit + 1)
    page, following = split_page(found, limit, lambda last: PagePosition(last.erased_at, last.erasure_id))
    return Erasures(erasures=[_audited(erasure) for erasure in page], next=following.token() if following else None)


def _audited(erasure: Erasure) -> AuditedErasure:
    return AuditedErasure(
        erasure_id=erasure.erasure_id,
        uln=erasure.uln,
        erased_by=erasure.erased_by,
        erased_at=erasure.erased_at,
        reason=erasure.reason,
    )


@router.get(
    "/admin/keyring",
    tags=["learner registry"],
    summary="Which wrapping key wraps the learners' data keys (operators)",
    responses=problem_responses(401, 403, 503),
    openapi_extra=operator_scope(OperatorScope.KEYS),
)
async def key_wrapping(request: Request, principal: Operator) -> KeyWrapping:
    return _wrapping_answer(await _keyring(request).wrapping())


@router.post(
    "/admin/keyring/rewrap",
    tags=["learner registry"],
    summary="Re-wrap stored learner keys with the current wrapping key (operators)",
    description=(
        "Re-wraps up to `at_most` stored learner data keys that another wrapping key wraps with the one this "
        "service wraps new keys with (`LRS_KEYRING_WRAP_WITH`), in transactions of 2,000. The data keys stay the "
        "same, so nothing sealed changes; erased learners' tombstones are left alone. Call again until `to_rewrap` "
        "is 0 (`lrs keyring rewrap` does), then the old wrapping key may be taken out of "
        "`LRS_KEYRING_WRAPPING_KEYS` (decision 0116, docs/operations.md)."
    ),
    responses=problem_responses(401, 403, 422, 503),
    openapi_extra=operator_scope(OperatorScope.KEYS),
)
async def rewrap_keys(
    request: Request, principal: Operator, at_most: Annotated[int, Query(ge=1, le=1_000_000)] = 100_000
) -> KeyWrapping:
    keyring = _keyring(request)
    rewrapped = await keyring.rewrap(at_most)
    state = await keyring.wrapping()
    _log.info("learner_keys_rewrapped", keys=rewrapped, wrap_with=state.wrap_with, to_rewrap=state.to_rewrap)
    return _wrapping_answer(state, rewrapped)


def _keyring(request: Request) -> Keyring:
    keyring: Keyring = request.app.state.keyring
    return keyring


def _wrapping_answer(state: WrappingState, rewrapped: int = 0) -> KeyWrapping:
    return KeyWrapping(
        wrap_with=state.wrap_with,
        keys_by_wrapping_key={str(key_id): count for key_id, count in sorted(state.keys_by_wrapping_key.items())},
        to_rewrap=state.to_rewrap,
        rewrapped=rewrapped,
    )
