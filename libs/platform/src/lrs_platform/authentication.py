"""The FastAPI dependencies that authenticate every caller (401) and hold an operator key to its scopes (403)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from lrs_contracts.codes import ProblemCode
from lrs_platform.credential_store import ENVIRONMENT_NAMES, CredentialStore, token_environment
from lrs_platform.identity import OPENAPI_SCOPES, Principal, PrincipalKind
from lrs_platform.problems import ProblemError


def _unauthenticated(detail: str, code: str | None = None) -> ProblemError:
    error = ProblemError(401, "Unauthenticated", detail, code)
    error.headers["WWW-Authenticate"] = 'Bearer realm="lrs"'
    return error


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated caller, or 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthenticated("Send an API key as 'Authorization: Bearer <key>'.")
    store: CredentialStore = request.app.state.credentials
    sent_to = token_environment(token.strip())
    if sent_to is not None and sent_to is not store.environment:
        raise _unauthenticated(
            f"This is a {ENVIRONMENT_NAMES[sent_to]} key; send it to the {ENVIRONMENT_NAMES[sent_to]}"
            f" services, not to the {ENVIRONMENT_NAMES[store.environment]} ones.",
            ProblemCode.WRONG_ENVIRONMENT,
        )
    principal = await store.authenticate(token.strip())
    if principal is None:
        raise _unauthenticated("The API key is unknown, revoked or malformed.")
    needed: list[str] = (getattr(request.scope.get("route"), "openapi_extra", None) or {}).get(OPENAPI_SCOPES, [])
    if not principal.may_use(needed):
        raise ProblemError(
            403,
            "Forbidden",
            f"This operator key has the scope(s) {', '.join(sorted(principal.scopes))}; this route needs"
            f" {' or '.join(needed) or 'an operator key without scopes'}.",
            ProblemCode.OPERATOR_SCOPE_MISSING,
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def operator_caller(detail: str) -> Callable[[Principal], Awaitable[Principal]]:
    """FastAPI dependency for an operator's route: the caller, authenticated (401), then an operator (403,
    `detail`). As a dependency it runs before the route's query and path parameters are read, so a caller
    without the right is told so, not what is wrong with what it sent (decision 0032)."""

    async def operator(principal: CurrentPrincipal) -> Principal:
        if not principal.is_operator:
            raise ProblemError(403, "Forbidden", detail)
        return principal

    return operator


def require_kind(principal: Principal, *kinds: PrincipalKind) -> None:
    if principal.kind not in kinds and not principal.is_operator:
        raise ProblemError(403, "Forbidden", f"This operation is not open to {principal.kind.value} callers.")
