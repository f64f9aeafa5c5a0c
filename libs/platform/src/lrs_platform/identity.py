"""Who calls: the principals (an AO, a provider, a learner, an operator), their kinds and operators' scopes.

How a caller proves to be one is `lrs_platform.credential_store` (API keys, stored hashed) and
`lrs_platform.authentication` (the FastAPI dependencies every route takes). Authorisation happens in each
service's domain layer from the `Principal`, never from what a caller wrote in a body; only an operator key's
scopes (decision 0122) are checked at the edge, against the scopes the route names.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from enum import StrEnum

from lrs_contracts.text import refused_character


class PrincipalKind(StrEnum):
    AO = "ao"
    PROVIDER = "provider"
    LEARNER = "learner"
    OPERATOR = "operator"


class OperatorScope(StrEnum):
    """What an operator key may do (decision 0122). A key issued with no scope may do everything; one
    issued with scopes may call only the routes that name one of them (`operator_scope`)."""

    SUPPORT = "support"  # act and read for any AO, learner or provider: batches, PLRs, challenges, reports
    REGISTRY = "registry"  # the learner registry and reference data: registrations, imports, merges, links
    ERASURE = "erasure"  # erase learners and read the erasures' audit
    KEYS = "keys"  # the learners' key wrapping and the credential signing keys
    DEAD_LETTERS = "dead-letters"  # every service's parked messages: list, retry, skip (their values: SUPPORT)
    REBUILD = "rebuild"  # the projector's state, rebuilds and replays
    MAINTENANCE = "maintenance"  # maintenance windows, pauses and the Sandpit's purge
    ACCOUNTS = "accounts"  # the portal's accounts


OPENAPI_SCOPES = "x-operator-scopes"
"""The OpenAPI extension naming the scopes of which an operator key needs one for a route; absent: only
keys without scopes call it."""


def operator_scope(*scopes: OperatorScope) -> dict[str, list[str]]:
    """A route's `openapi_extra`: the scopes of which an operator key needs one to call it (other callers
    are not concerned: the route decides what they may do)."""
    return {OPENAPI_SCOPES: [scope.value for scope in scopes]}


def parse_scopes(names: Collection[str]) -> frozenset[str]:
    """Scope names as an operator writes them, checked; raises ValueError naming the known ones."""
    unknown = sorted(set(names) - {scope.value for scope in OperatorScope})
    if unknown:
        known = ", ".join(scope.value for scope in OperatorScope)
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; the scopes are {known}")
    return frozenset(names)


class UnprintablePrincipal(ValueError):
    """A principal whose id holds what a log line, a list or an audit trail cannot show as it is."""


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    id: str
    scopes: frozenset[str] = frozenset()
    # the API key it authenticated with, if it did: what a batch records of who sent it; never part of who it is
    key_id: str | None = field(default=None, compare=False)

    @staticmethod
    def parse(text: str, scopes: frozenset[str] = frozenset()) -> Principal:
        kind, _, ident = text.partition(":")
        if not ident:
            raise ValueError(f"principal must look like kind:id, got {text!r}")
        if refused := refused_character(ident, one_line=True):  # it is written in logs, lists and audit trails
            raise UnprintablePrincipal(f"a principal's id is one line of text: {text!r} holds {refused}")
        return Principal(PrincipalKind(kind), ident, scopes)

    @staticmethod
    def stored(text: str, scopes: frozenset[str] = frozenset()) -> Principal:
        """A principal as the key store holds it, accepted when its key was issued: not checked again, so that a
        character refused since (DEL and C1 controls, 2026-12-05) ends neither its key nor every listing of keys."""
        kind, _, ident = text.partition(":")
        return Principal(PrincipalKind(kind), ident, scopes)

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.id}"

    @property
    def is_operator(self) -> bool:
        return self.kind is PrincipalKind.OPERATOR

    def may_use(self, scopes: Collection[str]) -> bool:
        """Whether this key may call a route open to operator keys of `scopes` (empty: a route naming
        none). Only an operator key issued with scopes is limited; every other caller is judged by the route."""
        return not (self.is_operator and self.scopes) or not self.scopes.isdisjoint(scopes)
