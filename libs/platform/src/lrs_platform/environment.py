"""What an HTTP route of a Sandpit instance may not do (docs/decisions/0060-sandpit.md)."""

from __future__ import annotations

from fastapi import Request

from lrs_contracts.codes import ProblemCode
from lrs_contracts.environments import Environment
from lrs_platform.authentication import CurrentPrincipal
from lrs_platform.problems import ProblemError


def environment_of(request: Request) -> Environment:
    environment: Environment = request.app.state.environment
    return environment


def refuse_in_sandpit(request: Request, _caller: CurrentPrincipal) -> None:
    """FastAPI dependency of a route about what the Sandpit shares with live (the learner registry, reference
    data): 403 in the Sandpit, saying to change it, or to read its changes and audits, on the live service.
    Said only to an authenticated caller: without a key, 401 as everywhere (decision 0032's order)."""
    if not environment_of(request).is_sandpit:
        return
    if request.method in ("GET", "HEAD"):
        raise ProblemError(
            403,
            "Read on the live service",
            "The Sandpit uses the live learner registry, whose changes and audits (sharing, erasures) are kept and"
            " read on the live service only.",
            ProblemCode.SANDPIT_READ_ONLY,
        )
    raise ProblemError(
        403,
        "Read-only in the Sandpit",
        "The Sandpit uses the live learner registry and reference data and cannot change them: "
        "make this change on the live service.",
        ProblemCode.SANDPIT_READ_ONLY,
    )
