"""Verifiable credentials: a learner's PLR exported as one, the issuer's keys published, and the operators'
routes that list, rotate and withdraw them, which this module adds to the admin API's `admin_router`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from lrs_contracts.codes import ProblemCode
from lrs_contracts.text import OneLineText, StorableText
from lrs_platform.authentication import caller_of_kind
from lrs_platform.identity import OperatorScope, Principal, PrincipalKind, operator_scope
from lrs_platform.logging import get_logger
from lrs_platform.problems import ProblemError, problem_responses
from plr_projector import credentials
from plr_projector.admin_models import CredentialKeyListing, CredentialKeyRotated, CredentialKeyWithdrawn
from plr_projector.admin_routes import admin_router
from plr_projector.credential_keys import (
    ActiveKeyExpected,
    CredentialKeyAlreadyWithdrawn,
    CredentialKeyError,
    CredentialKeys,
    NoSuchCredentialKey,
    PublicKey,
    RotatedMeanwhile,
    instant,
)
from plr_projector.endpoints import Operator, ProjectorDep, Uln, _forbidden, _refuse_mistyped_uln, erased_in_registry
from plr_projector.plr_routes import EVENTS_HELD
from plr_projector.views import AccessDenied, audience_for

# named as before the split: the `logger` field of its log lines stays what it was
_log = get_logger("plr_projector.api")


credential_router = APIRouter(tags=["verifiable credentials"])

# the learner or an operator: as a dependency it refuses any other caller (403) before the ULN or
# `include_unsuccessful` are read, so an AO or a provider is told it may not, not what is wrong with what it sent
# (decision 0032)
Exporter = Annotated[
    Principal,
    Depends(
        caller_of_kind(
            "Only the learner, or an operator, may export a PLR as a verifiable credential.",
            PrincipalKind.LEARNER,
            PrincipalKind.OPERATOR,
        )
    ),
]


@dataclass(frozen=True)
class CredentialSigning:
    """The issuer every credential names and the keys that sign them; built in bootstrap."""

    issuer: credentials.CredentialIssuer
    keys: CredentialKeys


def credential_signing_of(request: Request) -> CredentialSigning:
    signing: CredentialSigning = request.app.state.credential_signing
    return signing


CredentialSigningDep = Annotated[CredentialSigning, Depends(credential_signing_of)]


_SIGNING_UNAVAILABLE = (
    "CREDENTIAL_SIGNING_UNAVAILABLE: credentials cannot be signed now (signing is not configured on the projector,"
    " or its key cannot be used; `detail` says which); nothing was signed or changed. Or the database is unavailable"
)


def _signing_unavailable(error: CredentialKeyError) -> ProblemError:
    return ProblemError(
        503, "Credential signing unavailable", error.detail, code=ProblemCode.CREDENTIAL_SIGNING_UNAVAILABLE
    )


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
    " (then a Final one has the status `Failed`, never `Completed`); a grade X, no result, never is (decision 0050)."
    " No credential is signed for a learner erased under any of their ULNs, whoever asks (410 `LEARNER_ERASED`):"
    " a credential is made to be handed on, and their record is not to be handed on any more.",
    responses=problem_responses(401, 403, 404, 409, 410, 422, 503)
    | {
        404: problem_responses(404)[404]
        | {"description": "PLR_HAS_NO_ACHIEVEMENTS: the learner has no achievement to put in a credential"},
        503: problem_responses(503)[503] | {"description": _SIGNING_UNAVAILABLE},
    },
    openapi_extra=operator_scope(OperatorScope.SUPPORT),
)
async def export_plr_credential(
    uln: Uln,
    principal: Exporter,
    projector: ProjectorDep,
    signing: CredentialSigningDep,
    include_unsuccessful: Annotated[
        bool,
        Query(description="put in the results the learner did not achieve (U, Fail), which are left out by default"),
    ] = False,
) -> PlrCredential:
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
        if await projector.model.any_erased(connection, group.ulns):  # for an operator too: see the description
            raise _learner_erased(principal.kind)
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
            ulns=group.ulns,
        )
        key = await signing.keys.signing_key()
    except credentials.NothingToCertify as nothing:
        raise ProblemError(
            404, "Nothing to certify", str(nothing), code=ProblemCode.PLR_HAS_NO_ACHIEVEMENTS
        ) from nothing
    except CredentialKeyError as error:
        raise _signing_unavailable(error) from error
    # The read model learns of an erasure only once it reads `LearnerErased`; the registry records it before the
    # erasure answers 201. Asked last, just before signing: no credential is signed once an erasure was answered,
    # whatever the projection's lag (as a centre report, decision 0184).
    if await erased_in_registry(projector, group.ulns, not_done="no credential was signed; ask again."):
        raise _learner_erased(principal.kind)
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


def _learner_erased(kind: PrincipalKind) -> ProblemError:
    _log.info("plr_credential_refused", principal=kind.value, code=ProblemCode.LEARNER_ERASED.value)
    return ProblemError(
        410,
        "Learner erased",
        "This ULN's learner was erased: no credential is signed for them any more, since a credential is made"
        " to be handed on. One signed before the erasure still verifies.",
        code=ProblemCode.LEARNER_ERASED,
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
    # Public keys, sent with no credentials: any origin may read them, so that a verifier in a browser (an
    # employer's page, a web wallet) can fetch them. A GET needs no preflight.
    return JSONResponse(
        {"keys": keys}, headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"}
    )


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
    response_model=CredentialKeyListing,
    openapi_extra=operator_scope(OperatorScope.KEYS),
)
async def credential_keys(principal: Operator, signing: CredentialSigningDep) -> dict[str, Any]:
    return {"keys": [_key_listed(signing.issuer, key) for key in await signing.keys.every_key()]}


ROTATED_MEANWHILE = "Rotated meanwhile"


class CredentialKeyRotation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    expected_active: OneLineText | None = Field(
        default=None,
        max_length=64,
        description="the key id the operator saw active (`lrs credential-keys list`), null if they saw none: the"
        " rotation is refused (409) if another key is active, as after a rotation meanwhile. Left out: not checked",
    )


@admin_router.post(
    "/credential-keys/rotate",
    summary="Sign new credentials with a new key; the retired key can no longer sign and stays published",
    description="Send `expected_active`, the key you saw active, so that a rotation sent twice (two operators at"
    " once, a retry after a lost answer) makes one new key: when the active key is not that one, nothing is"
    " rotated and the answer is 409 `Rotated meanwhile`, naming who made the active key and when, with"
    " `active_key_id`, `rotated_by` and `rotated_at` (all three left out when no key is active). Without a body, or without"
    " `expected_active`, the active key is rotated, whichever it is.",
    response_model=CredentialKeyRotated,
    responses=problem_responses(409, 422, 503)
    | {503: problem_responses(503)[503] | {"description": _SIGNING_UNAVAILABLE}},
    openapi_extra=operator_scope(OperatorScope.KEYS),
)
async def rotate_credential_keys(
    principal: Operator, signing: CredentialSigningDep, body: CredentialKeyRotation | None = None
) -> dict[str, Any]:
    expected = None
    if body is not None and "expected_active" in body.model_fields_set:
        expected = ActiveKeyExpected(body.expected_active)
    try:
        rotation = await signing.keys.rotate(str(principal), expected)
    except CredentialKeyError as error:
        raise _signing_unavailable(error) from error
    except RotatedMeanwhile as meanwhile:
        active = meanwhile.active
        raise ProblemError(
            409,
            ROTATED_MEANWHILE,
            meanwhile.detail,
            active_key_id=active.key_id if active else None,
            rotated_by=active.created_by if active else None,
            rotated_at=instant(active.created_at) if active else None,
        ) from meanwhile
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

REASON_REQUIRED = (
    'a reason is required: send a JSON body such as {"reason": "suspected leak"} saying why the key is withdrawn;'
    " it is kept with the withdrawal and logged"
)


async def _reason_sent(request: Request) -> None:
    """A withdrawal sent without a body, as an operator may type it, is told that it needs a reason, by name:
    FastAPI's own words ("body: Field required") name only the missing body. The route's parameter after the
    caller's, so a caller who may not withdraw is refused first.

    FastAPI has read the body whole before it solves the dependencies; a body refused as it was read (not UTF-8, a
    key named twice: `lrs_platform.http`'s checks) was never held, and is judged here without it, its own refusal
    following at once: reading it a second time would wait for the client to go away."""
    read = getattr(request, "_body", None)  # Starlette's Request keeps the body it read whole there
    if read is not None and not read.strip():
        raise ProblemError(422, "Invalid request", REASON_REQUIRED, code=ProblemCode.INVALID_REQUEST)


ReasonSent = Annotated[None, Depends(_reason_sent)]


@admin_router.post(
    "/credential-keys/{key_id}/withdraw",
    summary="Take a key out of the JWKS after a suspected leak: nothing it signed verifies any more",
    description="An active key is rotated first, so that credentials go on being signed with a new one. A withdrawal"
    " cannot be undone: every credential the key signed stops verifying, and its learners export a new one.",
    response_model=CredentialKeyWithdrawn,
    responses=problem_responses(404, 409, 422),
    openapi_extra=operator_scope(OperatorScope.KEYS),
)
async def withdraw_credential_key(
    key_id: CredentialKeyId,
    body: CredentialKeyWithdrawal,
    principal: Operator,
    reason_sent: ReasonSent,
    signing: CredentialSigningDep,
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
