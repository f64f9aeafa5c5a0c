"""RFC 9457 problem+json: how every service reports an error to a caller.

Every problem carries a code: the one its route gives, else the one its HTTP status says
(`CODES_BY_STATUS`, decision 0136). A problem with a catalogued code (`lrs_contracts.codes`) has the type
`/problems/<code>`: a page every service serves (`lrs_platform.http`), relative to the service that
answered, saying what the code means and how to put it right; one with another code keeps `about:blank`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import html
import re
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from lrs_contracts.codes import (
    CODE_EXPLANATIONS,
    CODES_BY_STATUS,
    PROBLEM_CODE_EXPLANATIONS,
    ProblemCode,
    explanation_of,
    title_of,
)
from lrs_platform.problem_words import said_once as said_once  # re-exported: its importers keep importing it here

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_PAGES = "/problems"


def problem_type(code: str | None) -> str:
    """The type URI of a problem with `code`: its explanation page, or about:blank."""
    if code is not None and explanation_of(code) is not None:
        return f"{PROBLEM_PAGES}/{code}"
    return "about:blank"


class Problem(BaseModel):
    # RFC 9457 extension members a route adds (a challenge's `state` beside its 409, say) are answered as given
    model_config = ConfigDict(extra="allow")

    type: str = Field(
        default="about:blank",
        description="`/problems/<code>` (relative to the service): a page explaining the code and how to fix it",
    )
    title: str
    status: int
    detail: str | None = None
    code: str | None = Field(
        default=None,
        description="What went wrong, for a program to act on: a rule code (`RS001`), an API problem code"
        " (`PROVIDER_NOT_LINKED`), else the one the status says (`NOT_FOUND`); every answer has one",
    )
    instance: str | None = None
    line: int | None = None
    column: int | None = None

    @model_validator(mode="after")
    def _typed_by_code(self) -> Problem:
        if self.code is None and self.status in CODES_BY_STATUS:
            self.code = CODES_BY_STATUS[self.status]
        if self.type == "about:blank":
            self.type = problem_type(self.code)
        return self


class ProblemError(Exception):
    """Raise from an endpoint to answer with a problem document."""

    def __init__(
        self, status: int, title: str, detail: str | None = None, code: str | None = None, **extra: Any
    ) -> None:
        super().__init__(detail or title)
        self.problem = Problem(status=status, title=title, detail=detail, code=code, **extra)
        self.headers: dict[str, str] = {}


def invalid_request(issues: Iterable[Mapping[str, Any]], within: tuple[str, ...] = ()) -> Problem:
    """422 naming each of pydantic's `issues` (where, under `within`, and what): MALFORMED_REQUEST when the body
    could not be read as JSON at all, INVALID_REQUEST when it breaks the schema. No issue's input is repeated.
    A body FastAPI did not read as JSON because it was not labelled JSON is 415 (`not_json`) instead: FastAPI
    then validates its raw bytes, which no JSON body ever is."""
    issues = list(issues)
    if any(issue.get("loc", ())[:1] == ("body",) and isinstance(issue.get("input"), bytes) for issue in issues):
        return not_json()
    details = "; ".join(_issue_text(issue, within) for issue in issues)
    unreadable = any(issue.get("type") == "json_invalid" for issue in issues)
    code = ProblemCode.MALFORMED_REQUEST if unreadable else ProblemCode.INVALID_REQUEST
    return Problem(status=422, title="Invalid request", detail=details[:2000], code=code)


def not_json() -> Problem:
    """415: a route that reads a JSON body was sent one labelled otherwise (text/plain, a form) or not at all."""
    return Problem(
        status=415,
        title="Unsupported Media Type",
        detail="This route reads a JSON body, and the body was not sent as JSON: send the body as JSON with"
        " Content-Type: application/json.",
        code=ProblemCode.UNSUPPORTED_MEDIA_TYPE,
    )


def not_utf8(error: UnicodeDecodeError) -> Problem:
    """422 MALFORMED_REQUEST, as a body that is not JSON: JSON is UTF-8 (RFC 8259), so one that is not was never
    read. Names the first byte that is not, as ingest's batch files do (not where: `json` counts after a byte
    order mark it skipped)."""
    # else it was read as UTF-16 or UTF-32, which its first bytes look like
    utf8 = error.encoding == "utf-8"
    reason = f"byte 0x{error.object[error.start]:02X} is not UTF-8" if utf8 else "it is not UTF-8"
    return Problem(
        status=422,
        title="Invalid request",
        detail=f"the request body is not valid JSON ({reason}): send JSON in UTF-8",
        code=ProblemCode.MALFORMED_REQUEST,
    )


_LENGTHS = {"too_long": ("at most", "max_length"), "too_short": ("at least", "min_length")}


def _issue_text(issue: Mapping[str, Any], within: tuple[str, ...]) -> str:
    """`where: what`; a body that is not JSON at all is said so in words, with where the parser stopped (FastAPI
    puts the character's index in the location, pydantic the line and column in its message)."""
    if issue.get("type") == "json_invalid":
        reason = str((issue.get("ctx") or {}).get("error") or "it could not be read")
        where = [part for part in issue.get("loc", ()) if isinstance(part, int)]
        at = f", at character {where[0] + 1}" if where else ""
        return f"the request body is not valid JSON ({reason}{at}): send a JSON object"
    what = issue.get("msg", "")
    context = issue.get("ctx") or {}
    raised = context.get("error")
    if issue.get("type") == "value_error" and raised is not None:
        what = str(raised)  # a validator's own words, without pydantic's "Value error, " before them
    elif issue.get("type") in _LENGTHS and isinstance(issue.get("input"), str):
        # a length set beside `| None` is checked after the text's own validator, and pydantic then counts "items"
        bound, limit = _LENGTHS[issue["type"]]
        what = f"String should have {bound} {context.get(limit)} characters, not {len(issue['input'])}"
    return f"{'.'.join(str(part) for part in (*within, *issue.get('loc', ())))}: {what}"


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


PROBLEM_SCHEMA_REF = "#/components/schemas/Problem"
VALIDATION_FAILED = (
    "The request breaks the route's schema (code `INVALID_REQUEST`: `detail` names each parameter or body field and"
    " what is wrong with it), or its body is not JSON at all (`MALFORMED_REQUEST`)"
)
NOT_JSON = (
    "The body was not sent as JSON, or was sent compressed (code `UNSUPPORTED_MEDIA_TYPE`): send it with"
    " `Content-Type: application/json` and no `Content-Encoding`"
)
COMPRESSED = (
    "The body was sent compressed (code `UNSUPPORTED_MEDIA_TYPE`): send it as it is, without `Content-Encoding`"
)
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
RETRY_AFTER = "Retry-After"
RETRY_AFTER_HEADER: dict[str, Any] = {
    "description": "How many seconds to wait before sending the same request again (RFC 9110 `delay-seconds`)."
    " Honour it when it is sent (docs/rules.md). A refusal without it is not put right by waiting alone:"
    " its `detail` says what to do first.",
    "schema": {"type": "integer", "minimum": 0},
}
RETRY_AFTER_STATUSES = frozenset({429, 503})
"""The statuses whose problem answers may carry `Retry-After` on any route: too many requests (every 429 sends it),
and a dependency away (PostgreSQL, Kafka, the learner key store) or a projection behind (503)."""


def retry_after_header() -> dict[str, Any]:
    """The OpenAPI header object of `Retry-After`, a copy of its own for each response that declares it."""
    return copy.deepcopy(RETRY_AFTER_HEADER)


def problem_responses(*statuses: int, retry_after: Iterable[int] = ()) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting problem+json answers: the Problem schema under
    application/problem+json, the media type every problem is answered with (`document_problems` adds the schema).
    A 429 or 503 declares the `Retry-After` header it may carry, and so does each status in `retry_after` (a route
    that sends it with, say, a 409)."""
    retried = RETRY_AFTER_STATUSES | frozenset(retry_after)
    return {
        status: {
            "description": f"{HTTPStatus(status).phrase} (problem+json)",
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}},
        }
        | ({"headers": {RETRY_AFTER: retry_after_header()}} if status in retried else {})
        for status in statuses
    }


def _says_retry_after(status: str, response: Mapping[str, Any]) -> bool:
    """A problem answer declares `Retry-After` when its status may carry it on any route (`RETRY_AFTER_STATUSES`)
    or its description tells the caller to wait for it: a document that says "after `Retry-After` seconds" names
    the header, so that a client generated from it exposes the header."""
    return (status.isdigit() and int(status) in RETRY_AFTER_STATUSES) or (
        f"`{RETRY_AFTER}`" in str(response.get("description", ""))
    )


def document_problems(document: dict[str, Any]) -> None:
    """Makes an OpenAPI document say what the services answer when a request fails: every error response (4xx,
    5xx) is the Problem as application/problem+json. FastAPI would document a response `model` under the route's
    own media type (application/json), and a request it cannot validate as `HTTPValidationError` (an array of
    issues), though `validation_problem` answers it as a Problem. Every operation that takes parameters or a body
    documents its 422; one with a body its 415
    (a body sent compressed, and where the body is JSON alone, one not sent as JSON). A response documenting a body of its own (a readiness
    report) keeps it. Every 429 and 503 problem, and any whose description tells the caller to wait for
    `Retry-After`, declares that header (`_says_retry_after`)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            if operation.get("parameters") or "requestBody" in operation:
                responses.setdefault("422", {"description": VALIDATION_FAILED})
            if "requestBody" in operation:
                responses.setdefault("415", {"description": NOT_JSON if _takes_json_alone(operation) else COMPRESSED})
            for status, response in responses.items():
                if status[:1] not in ("4", "5") or not _documents_a_problem(response):
                    continue
                response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}}
                if status == "422" and response.get("description") == "Validation Error":  # FastAPI's own
                    response["description"] = VALIDATION_FAILED
                if _says_retry_after(status, response):
                    response.setdefault("headers", {}).setdefault(RETRY_AFTER, retry_after_header())


def _takes_json_alone(operation: Mapping[str, Any]) -> bool:
    media_types = list(operation.get("requestBody", {}).get("content", {}))
    return bool(media_types) and all(is_json_media_type(media_type) for media_type in media_types)


def _documents_a_problem(response: Mapping[str, Any]) -> bool:
    """No content (the problem is implied), or content naming the Problem or FastAPI's validation error."""
    content = response.get("content")
    if not content:
        return True
    named = str(content)
    return PROBLEM_SCHEMA_REF in named or any(name in named for name in _FASTAPI_VALIDATION_SCHEMAS)


def is_json_media_type(content_type: str | None) -> bool:
    """application/json or application/<anything>+json, as FastAPI decides whether it reads a body as JSON."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    main, _, sub = media_type.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


_CODE_SPAN = re.compile(r"`([^`]+)`")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")
_PAGE_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:48em;margin:2em auto;padding:0 1em;color:#0b0c0c;line-height:1.5}"
    "code{background:#f3f2f1;padding:0 .2em}dt{font-weight:bold;margin-top:1em}dd{margin-left:0}"
)


def _style_hash(style: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(style.encode()).digest()).decode() + "'"


PROBLEM_PAGE_POLICY = (
    f"default-src 'none'; style-src {_style_hash(_PAGE_STYLE)}; img-src data:; base-uri 'none';"
    " form-action 'none'; frame-ancestors 'none'"
)
"""The Content-Security-Policy the /problems pages carry: their one inline style allowed by its hash, nothing else
loaded. A service with a stricter policy of its own (the portal's) would otherwise show them unstyled."""


def _inline_markdown(text: str) -> str:
    """The little Markdown the catalogue uses: `code` spans; links to docs/rules.md sections keep their words."""
    return _CODE_SPAN.sub(r"<code>\1</code>", _LINK.sub(r"\1", html.escape(text, quote=False)))


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        # no icon of its own: the browser asks for none (a /favicon.ico no service serves)
        '<link rel="icon" href="data:,">'
        f"<style>{_PAGE_STYLE}</style></head><body>{body}</body></html>"
    )


def problem_page(code: str) -> str | None:
    """The HTML page behind the problem type `/problems/<code>`: the catalogue's text, as in docs/rules.md."""
    explanation = explanation_of(code)
    if explanation is None:
        return None
    # the short title (the meaning, a paragraph of Markdown, is the first section below it)
    heading = f"{code}: {title_of(code) or code}"
    sections = (
        ("What it means", explanation.meaning),
        ("Example", explanation.example),
        ("How to put it right", explanation.fix),
        ("Source", explanation.source),
    )
    details = "".join(f"<dt>{name}</dt><dd>{_inline_markdown(text)}</dd>" for name, text in sections)
    body = (
        f"<h1>{html.escape(heading)}</h1><dl>{details}</dl>"
        f'<p><a href="{PROBLEM_PAGES}">Every code</a> · every rule in full is in the file docs/rules.md of the'
        " LRS source code</p>"
    )
    return _page(heading, body)


def problem_index_page() -> str:
    rows = "".join(
        f'<li><a href="{PROBLEM_PAGES}/{code}">{code}</a>: {html.escape(title_of(code) or code)}</li>'
        for catalogue in (CODE_EXPLANATIONS, PROBLEM_CODE_EXPLANATIONS)
        for code in catalogue
    )
    return _page("Problem codes", f"<h1>Problem codes</h1><ul>{rows}</ul>")
