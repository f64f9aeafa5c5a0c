"""An app's OpenAPI document says what its error answers are: the Problem, as application/problem+json, for
every error status, including the 422 FastAPI would document as its own HTTPValidationError."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Query
from pydantic import BaseModel

from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.problems import PROBLEM_MEDIA_TYPE, problem_responses

PROBLEM = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}


class Note(BaseModel):
    text: str


def _document() -> dict[str, Any]:
    app = build_app("documented", title="Documented", description="", lifespan=noop_lifespan)

    @app.post("/v1/notes", responses=problem_responses(401, 409))
    async def add_note(note: Note) -> dict[str, int]:
        return {"length": len(note.text)}

    @app.get("/v1/notes/{number}", responses=problem_responses(404))
    async def one_note(number: int, full: bool = Query(default=False)) -> dict[str, int]:
        return {"number": number}

    @app.get("/v1/count")
    async def count() -> dict[str, int]:
        return {"count": 1}

    return app.openapi()


def test_every_problem_answer_is_the_problem_as_problem_json_only() -> None:
    document = _document()
    added = document["paths"]["/v1/notes"]["post"]["responses"]
    for status in ("401", "409"):
        assert added[status]["content"] == PROBLEM, status
    assert document["paths"]["/v1/notes/{number}"]["get"]["responses"]["404"]["content"] == PROBLEM
    assert "Problem" in document["components"]["schemas"]


def test_a_request_that_fails_validation_is_documented_as_the_problem_not_fastapis_validation_error() -> None:
    document = _document()
    for path, method in (("/v1/notes", "post"), ("/v1/notes/{number}", "get")):
        invalid = document["paths"][path][method]["responses"]["422"]
        assert invalid["content"] == PROBLEM, path
        assert "INVALID_REQUEST" in invalid["description"]
    assert "422" not in document["paths"]["/v1/count"]["get"]["responses"]  # nothing to validate
    assert "ValidationError" not in json.dumps(document)


def test_readiness_documents_its_own_report_and_every_other_error_is_a_problem() -> None:
    for path, operations in _document()["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status[0] in "45" and path != "/readyz":
                    assert response["content"] == PROBLEM, (method, path, status)


def test_every_operation_with_a_body_documents_its_413_at_its_routes_limit() -> None:
    """`_BodyLimit` answers 413 REQUEST_TOO_LARGE on any route with a body; a route bounding its body itself says
    its own 413."""
    app = build_app(
        "bounded",
        title="Bounded",
        description="",
        lifespan=noop_lifespan,
        body_limits={"/v1/files": None, "/v1/imports": 10_000},
    )

    @app.post("/v1/imports", openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}})
    async def imports() -> dict[str, int]:
        return {"read": 0}

    @app.post("/v1/files", openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}})
    async def files() -> dict[str, int]:
        return {"read": 0}

    @app.post("/v1/admin/dlq/{parked}/retry")
    async def retry(parked: int, note: Note) -> dict[str, int]:
        return {"parked": parked}

    @app.post("/v1/notes")
    async def add_note(note: Note) -> dict[str, int]:
        return {"length": len(note.text)}

    @app.post("/v1/notes/{number}/pin")
    async def pin(number: int) -> dict[str, int]:
        return {"number": number}

    paths = app.openapi()["paths"]
    for path, limit in (
        ("/v1/notes", "1,048,576"),
        ("/v1/imports", "10,000"),
        ("/v1/admin/dlq/{parked}/retry", "16,777,216"),
    ):
        too_large = paths[path]["post"]["responses"]["413"]
        assert too_large["content"] == PROBLEM, path
        assert f"({limit} bytes" in too_large["description"] and "REQUEST_TOO_LARGE" in too_large["description"]
    assert "413" not in paths["/v1/files"]["post"]["responses"]  # bounded by the route
    assert "413" not in paths["/v1/notes/{number}/pin"]["post"]["responses"]  # no body


def test_a_problem_answer_that_may_carry_retry_after_declares_it_as_whole_seconds() -> None:
    """rules.md tells a client to wait `Retry-After` seconds on a 429 and a 503: a client generated from the document
    must see the header. Declared on every 429 and 503 problem, on a status a route names in `retry_after=`, and on
    a response whose own description tells the caller to wait for it; nowhere else."""
    app = build_app("retried", title="Retried", description="", lifespan=noop_lifespan)

    @app.post("/v1/jobs", responses=problem_responses(401, 409, 429, 503, retry_after=(409,)))
    async def add_job(note: Note) -> dict[str, int]:
        return {"length": len(note.text)}

    @app.post(
        "/v1/runs",
        responses={
            409: {"description": "Being published right now: send it again after `Retry-After` seconds"},
            503: {"description": "Kafka is away", "content": PROBLEM},
            **problem_responses(404),
        },
    )
    async def run(note: Note) -> dict[str, int]:
        return {"length": len(note.text)}

    @app.get("/v1/runs/{number}", responses=problem_responses(404, 409))
    async def one_run(number: int) -> dict[str, int]:
        return {"number": number}

    paths = app.openapi()["paths"]
    retried = {
        (path, method, status)
        for path, operations in paths.items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if "Retry-After" in response.get("headers", {})
    }
    assert retried == {
        ("/v1/jobs", "post", "409"),
        ("/v1/jobs", "post", "429"),
        ("/v1/jobs", "post", "503"),
        ("/v1/runs", "post", "409"),
        ("/v1/runs", "post", "503"),
    }
    header = paths["/v1/jobs"]["post"]["responses"]["429"]["headers"]["Retry-After"]
    assert header["schema"] == {"type": "integer", "minimum": 0}
    assert "seconds" in header["description"]
    # the answer headers every response carries are still there beside it
    assert {"X-Request-Id", "LRS-Environment"} <= set(paths["/v1/runs"]["post"]["responses"]["503"]["headers"])
