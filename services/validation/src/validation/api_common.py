"""What the validation service's route modules share: who may call, how a ULN in a path is read, and how a
JSON body is read and documented. Routes with a JSON body decide who the caller is and what they may do before
they read the body, so a forbidden caller gets 403 and never a 422 about a body it had no right to send.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Request
from pydantic import BaseModel, ValidationError

from lrs_contracts.codes import ProblemCode
from lrs_contracts.identifiers import ULN_PATTERN
from lrs_domain.rules import why_no_learner_has
from lrs_platform.authentication import operator_caller
from lrs_platform.http import refused_request
from lrs_platform.identity import Principal
from lrs_platform.logging import get_logger
from lrs_platform.problems import RETRY_AFTER, ProblemError
from validation.learner_registry import LearnerImportUnderWayError, LearnerRegistry

Operator = Annotated[Principal, Depends(operator_caller("This operation is open to operators only."))]

Model = TypeVar("Model", bound=BaseModel)
Uln = Annotated[str, Path(pattern=ULN_PATTERN, description="Unique Learner Number (10 digits)")]


IMPORT_UNDER_WAY_RETRY_AFTER_SECONDS = 10
"""The `Retry-After` of a request given up while a learner file is imported (`import_under_way`): a few tries, each
holding a database connection for at most the wait (`REQUEST_LOCK_WAIT_MS`), cover the largest file's minute."""

_log = get_logger("validation.api")


def import_under_way(error: LearnerImportUnderWayError, doing: str, nothing_done: str) -> ProblemError:
    """503 `LEARNER_IMPORT_UNDER_WAY` with `Retry-After`: `doing` (a change of sharing, a merge, an erasure) waited
    for a learner file's import as long as a request may (`REQUEST_LOCK_WAIT_MS`) and was given up, its transaction
    rolled back (`nothing_done` says so). Logged: an operator sees what waited for the import."""
    _log.warning("learner_import_waited_out", doing=doing, reason=str(error))
    problem = ProblemError(
        503,
        "A learner file is being imported",
        f"An operator's learner file is being imported, and {doing} waits until it is done (a large file takes a"
        f" minute or more): {nothing_done} Send the same request again in {IMPORT_UNDER_WAY_RETRY_AFTER_SECONDS}"
        " seconds.",
        code=ProblemCode.LEARNER_IMPORT_UNDER_WAY,
    )
    problem.headers[RETRY_AFTER] = str(IMPORT_UNDER_WAY_RETRY_AFTER_SECONDS)
    return problem


def learner_registry_of(request: Request) -> LearnerRegistry:
    store: LearnerRegistry = request.app.state.learner_registry
    return store


def wake_outbox(request: Request) -> None:
    wake: asyncio.Event = request.app.state.outbox_wake
    wake.set()


async def read_body(request: Request, model: type[Model]) -> Model:
    """The JSON body, read only once the caller is authorised."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as error:
        problem = refused_request(error.errors(), within=("body",))
        raise ProblemError(problem.status, problem.title, problem.detail, problem.code) from error


def no_learners_uln(uln: str, outcome: str) -> None:
    """A ULN no learner can have (decision 0145: a wrong check digit; 0154: the temporary ULN) is answered as
    such (422 with its code), before any access check, rather than "not registered" or "not linked"."""
    if refusal := why_no_learner_has(uln):
        raise ProblemError(422, "Invalid ULN", f"{refusal.reason} {outcome}", code=refusal.code)


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a body read by `read_body`: the model's schema with its definitions inlined."""
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
