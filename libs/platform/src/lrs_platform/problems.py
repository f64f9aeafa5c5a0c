"""RFC 9457 problem+json: how every service reports an error to a caller."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    code: str | None = None
    instance: str | None = None
    line: int | None = None
    column: int | None = None


class ProblemError(Exception):
    """Raise from an endpoint to answer with a problem document."""

    def __init__(
        self, status: int, title: str, detail: str | None = None, code: str | None = None, **extra: Any
    ) -> None:
        super().__init__(detail or title)
        self.problem = Problem(status=status, title=title, detail=detail, code=code, **extra)
        self.headers: dict[str, str] = {}


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


async def handle_problem(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ProblemError)
    problem = error.problem.model_copy(update={"instance": request.url.path})
    return problem_response(problem, error.headers)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting problem+json answers."""
    return {
        status: {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}, "description": "problem+json"}
        for status in statuses
    }
