"""What an HTTP route of a Sandpit instance may not do (docs/decisions/0060-sandpit.md)."""

from __future__ import annotations

from fastapi import Request

from lrs_contracts.codes import ProblemCode
from lrs_contracts.environments import Environment
from lrs_platform.problems import ProblemError


def environment_of(request: Request) -> Environment:
    environment: Environment = request.app.state.environment
    return environment


def refuse_in_sandpit(request: Request) -> None:
    """FastAPI dependency of a route that changes what the Sandpit shares with live: 403 in the Sandpit."""
    if environment_of(request).is_sandpit:
        raise ProblemError(
            403,
            "Read-only in the Sandpit",
            "The Sandpit uses the live learner registry and reference data and cannot change them: "
            "make this change on the live service.",
            ProblemCode.SANDPIT_READ_ONLY,
        )
