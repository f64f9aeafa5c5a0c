"""The FastAPI dependencies that authenticate every caller (401) and hold an operator key to its scopes (403)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from lrs_contracts.codes import ProblemCode
from lrs_platform.credential_store import ENVIRONMENT_NAMES, CredentialStore, key_id_of, token_environment
from lrs_platform.identity import OPENAPI_SCOPES, Principal, PrincipalKind
from lrs_platform.problems import ProblemError


def _unauthenticated(detail: str, code: str | None = None) -> ProblemError:
    error = ProblemError(401, "Unauthenticated", detail, code)
    error.headers["WWW-Authenticate"] = 'Bearer realm="lrs"'
    return error


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated caller, or 401. The request's log line says which key called, of
    which kind of caller, or why it was refused (`CallerSeen`): never the secret, nor whom the key names (a
    learner's is their ULN)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    seen = CallerSeen(request)
    if scheme.lower() != "bearer" or not token.strip():
        seen.refused("no_key")
        raise _unauthenticated("Send an API key as 'Authorization: Bearer <key>'.")
    token = token.strip()
    seen.key(key_id_of(token))
    store: CredentialStore = request.app.state.credentials
    sent_to = token_environment(token)
    if sent_to is not None and sent_to is not store.environment:
        seen.refused("other_environment")
        raise _unauthenticated(
            f"This is a {ENVIRONMENT_NAMES[sent_to]} key; send it to the {ENVIRONMENT_NAMES[sent_to]}"
            f" services, not to the {ENVIRONMENT_NAMES[store.environment]} ones.",
            ProblemCode.WRONG_ENVIRONMENT,
        )
    principal = await store.authenticate(token)
    if principal is None:
        seen.refused("key_not_accepted")
        raise _unauthenticated("The API key is unknown, revoked or malformed.")
    seen.caller(principal)
    needed: list[str] = (getattr(request.scope.get("route"), "openapi_extra", None) or {}).get(OPENAPI_SCOPES, [])
    if not principal.may_use(needed):
        seen.refused("scope_missing")
        raise ProblemError(
            403,
            "Forbidden",
            f"This operator key has the scope(s) {', '.join(sorted(principal.scopes))}; this route needs"
            f" {' or '.join(needed) or 'an operator key without scopes'}.",
            ProblemCode.OPERATOR_SCOPE_MISSING,
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


class CallerSeen:
    """What a request's log line says of its caller (`_RequestLog` reads `request.state.caller_seen`): the key's
    id, the kind of caller it authenticated, and why it was refused when it was. Enough to follow a key that is
    refused again and again, or one caller's requests, with no secret and no personal data."""

    def __init__(self, request: Request) -> None:
        self._seen: dict[str, str] = {}
        request.state.caller_seen = self._seen

    def key(self, key_id: str | None) -> None:
        self._seen["key_id"] = key_id or "not_ours"

    def caller(self, principal: Principal) -> None:
        self._seen["caller"] = principal.kind.value

    def refused(self, why: str) -> None:
        self._seen["refused"] = why


_OPERATORS_ONLY: set[Callable[..., Any]] = set()


def is_for_operators_only(dependency: Callable[..., Any]) -> bool:
    """Whether `dependency` lets operators alone through (`operator_caller`, or `caller_of_kind` of operators): a
    route depending on it is the operators', named `x-operators-only` in its OpenAPI document and routed by no
    Ingress (decision 0119)."""
    return dependency in _OPERATORS_ONLY


def operator_caller(detail: str) -> Callable[[Principal], Awaitable[Principal]]:
    """FastAPI dependency for an operator's route: the caller, authenticated (401), then an operator (403,
    `detail`). As a dependency it runs before the route's query and path parameters are read, so a caller
    without the right is told so, not what is wrong with what it sent (decision 0032)."""

    async def operator(principal: CurrentPrincipal) -> Principal:
        if not principal.is_operator:
            raise ProblemError(403, "Forbidden", detail)
        return principal

    _OPERATORS_ONLY.add(operator)
    return operator


def caller_of_kind(detail: str, *kinds: PrincipalKind) -> Callable[[Principal], Awaitable[Principal]]:
    """FastAPI dependency for a route open to some kinds of caller only: the caller, authenticated (401), then of
    one of `kinds` (an operator only when `PrincipalKind.OPERATOR` is one), else 403 with `detail`, in which
    `{kind}` names the caller's kind. As a dependency it runs before the route's query and path parameters are read,
    so a caller of another kind is told it may not, not what is wrong with what it sent (decision 0032)."""

    async def of_kind(principal: CurrentPrincipal) -> Principal:
        if principal.kind not in kinds:
            raise ProblemError(403, "Forbidden", detail.replace("{kind}", principal.kind.value))
        return principal

    if set(kinds) == {PrincipalKind.OPERATOR}:
        _OPERATORS_ONLY.add(of_kind)
    return of_kind


def require_kind(principal: Principal, *kinds: PrincipalKind) -> None:
    if principal.kind not in kinds and not principal.is_operator:
        raise ProblemError(403, "Forbidden", f"This operation is not open to {principal.kind.value} callers.")
