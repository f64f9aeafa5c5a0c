"""The FastAPI shell every service shares: health, readiness, metrics, request logs, problem+json, and the
documentation pages (Swagger UI at /docs, ReDoc at /redoc, problem types at /problems/<code>), all served
from the service itself, so they work with no other network."""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from importlib import resources
from typing import Any, NoReturn

import asyncpg
import structlog
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import solve_dependencies
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from lrs_contracts.codes import ProblemCode, RecordCode
from lrs_contracts.environments import ENVIRONMENT_HEADER, Environment
from lrs_contracts.identifiers import ULN_PATTERN
from lrs_contracts.text import refused_character
from lrs_domain.formats.errors import BYTE_ORDER_MARK, BatchRefused, refuse_other_encodings
from lrs_domain.rules import NoLearnersUln, why_no_learner_has
from lrs_platform.keyring import KeyringUnavailable, WrappingKeyNotGiven
from lrs_platform.logging import get_logger
from lrs_platform.problems import (
    PROBLEM_MEDIA_TYPE,
    PROBLEM_PAGE_POLICY,
    PROBLEM_PAGES,
    Problem,
    ProblemError,
    document_problems,
    handle_problem,
    invalid_request,
    is_json_media_type,
    not_json,
    not_utf8,
    problem_index_page,
    problem_page,
    problem_response,
)

ReadinessCheck = Callable[[], Awaitable[str | None]]
"""Raises when the dependency is unavailable; may return a detail to report (e.g. parked messages)."""
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
UnexpectedFailure = Callable[[Request], Awaitable[Response]]
"""`app.state.unexpected_failure`: how an app answers a failure nothing else handled (the portal: a page);
without it, a 500 problem."""

HTTP_REQUESTS = Counter("lrs_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
HTTP_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
"""Up to a minute: a submission answered 503 after ingest's 30 s publish timeout, or a 6 MB upload over a slow link,
takes longer than prometheus_client's default top bucket of 10 s, where every slower request was only "> 10 s" and
no quantile above 10 s could be computed (tests/test_alert_thresholds.py)."""
HTTP_LATENCY = Histogram(
    "lrs_http_request_seconds", "HTTP request latency", ["service", "route"], buckets=HTTP_LATENCY_BUCKETS
)
CLIENT_CLOSED_REQUEST = 499
"""The status (nginx's) a request is logged and counted under when its client hung up before the app had read its body
(`ClientDisconnect`): a CLI's Ctrl-C, a proxy's idle cut. Nothing is answered (no one is there), and it is no defect:
not a 500, which pages an operator (docs/operations.md, Alerts)."""

_log = get_logger("lrs.http")

DOCS_ASSETS = "/docs/assets"
DOCUMENTATION_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self';"
    " worker-src blob:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
"""The Content-Security-Policy of /docs and /redoc, which they carry themselves so that an app's stricter policy
for its other pages (the portal's: `with_security_headers` keeps a policy a response names) does not break them:
ReDoc styles its page with inline <style> elements and searches in a worker it makes from a blob: URL. Their
scripts and styles still come only from the service itself, and neither page shows anything a request sent."""


_READINESS: dict[str, Any] = {
    "schema": {
        "type": "object",
        "properties": {
            "ready": {"type": "boolean"},
            "checks": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
}
"""The readiness report, which /readyz answers with 503 too: the one error status whose body is not a problem."""


READINESS_CHECK_SECONDS = 2.5
"""How long /readyz waits for each dependency (all at once): a frozen PostgreSQL or broker is "unavailable" within
a probe's timeout (3 s in deploy/k8s), not a probe that never answers."""


async def _readiness_of(check: ReadinessCheck) -> tuple[str, bool]:
    """A check's word and whether it passed."""
    waiting = asyncio.timeout(READINESS_CHECK_SECONDS)
    try:
        async with waiting:
            return await check() or "ok", True
    except Exception as error:
        if waiting.expired():
            return f"unavailable: no answer within {READINESS_CHECK_SECONDS:g} s", False
        return f"unavailable: {type(error).__name__}", False


DEFAULT_BODY_BYTES = 1_048_576
"""What a route reads of a request body unless the app gives it a limit of its own (`body_limits`)."""
DEAD_LETTER_BODY_BYTES = 16 * 1_048_576
"""A corrected copy of a parked message (up to Kafka's 8 MB a message, as escaped JSON)."""


def build_app(
    service: str,
    *,
    title: str,
    description: str,
    lifespan: Lifespan,
    version: str = "1.0.0",
    environment: Environment = Environment.LIVE,
    body_limits: Mapping[str, int | None] | None = None,
) -> FastAPI:
    """Every response says which environment answered (`LRS-Environment`); a Sandpit's title says so too.
    Every request body is bounded while it streams: `body_limits` maps a path prefix to its routes' limit in
    bytes (None: the route bounds its body itself, as ingest's batches do), the longest prefix first; any other
    route reads at most DEFAULT_BODY_BYTES."""
    if environment.is_sandpit:
        title = f"{title} (Sandpit)"
        description = f"**Sandpit**: a practice environment; nothing sent here reaches live records.\n\n{description}"
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # `/v1/batches/` is not found, not redirected: the redirect's address came from the caller's Host header, and
        # told a client to send its POST (a batch file) there
        redirect_slashes=False,
    )
    app.state.service = service
    app.state.environment = environment
    app.state.readiness_checks = {}
    app.add_exception_handler(ProblemError, handle_problem)
    app.add_exception_handler(KeyringUnavailable, _keyring_problem)
    app.add_exception_handler(RequestValidationError, validation_problem)
    app.add_exception_handler(StarletteHTTPException, http_problem)
    app.add_exception_handler(asyncpg.DataError, _unstorable_problem)
    for unavailable in DATABASE_UNAVAILABLE:
        app.add_exception_handler(unavailable, _database_unavailable)
    limits = BodyLimits({"/v1/admin/dlq": DEAD_LETTER_BODY_BYTES, **(body_limits or {})})
    app.state.body_limits = limits
    app.add_middleware(_NoDuplicateKeys)
    app.add_middleware(_JsonBodiesOnly)
    app.add_middleware(_UncompressedBodiesOnly)
    app.add_middleware(_BodyLimit, limits=limits)
    app.add_middleware(_BodyIdleDeadline, limits=limits)
    app.add_middleware(_HeadAnsweredAsGet)
    app.add_middleware(_RequestLog)
    app.add_middleware(_ClosedAfterUnreadBody)

    @app.get("/healthz", tags=["operations"], summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "alive", "service": service}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: every dependency answers",
        responses={503: {"description": "a dependency is not reachable", "content": {"application/json": _READINESS}}},
    )
    async def readyz(request: Request) -> JSONResponse:
        checks: Mapping[str, ReadinessCheck] = request.app.state.readiness_checks
        answers = await asyncio.gather(*(_readiness_of(check) for check in checks.values()))
        results = dict(zip(checks, (answer for answer, _ in answers), strict=True))
        ready = all(answered for _, answered in answers)
        return JSONResponse({"ready": ready, "checks": results}, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    _serve_documentation(app, title)
    _finish_openapi(app)
    return app


API_KEY_SCHEME = {
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "An LRS API key, `Authorization: Bearer lrs_<key id>_<secret>`, made with"
        " `lrs credentials create` (docs/operations.md): an AO's, a learner's, a provider's or an operator's",
    }
}


def _finish_openapi(app: FastAPI) -> None:
    """The OpenAPI document as `finish_document` leaves it. An app may replace `app.openapi` with its own
    document (ingest does, finishing it itself)."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = plain()
        finish_document(app, document)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def finish_document(app: FastAPI, document: dict[str, Any]) -> None:
    """What FastAPI cannot infer: the bearer API key on every operation that needs one (those whose route depends
    on `current_principal`), so /docs offers Authorize; the 413 of every operation with a body, at its route's
    limit; every error answer as the Problem in application/problem+json (`document_problems`); and the two
    headers `_RequestLog` puts on every answer; and `x-operators-only` on each operation open to operators alone."""
    name_api_key(app, document)
    _mark_operators_only(app, document)
    _document_body_limits(app, document)
    document_problems(document)
    _document_answer_headers(document)


ANSWER_HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-Id": {
        "description": "Names this request in the service's logs: the request's own `X-Request-Id` when it sent"
        " one of at most 128 letters, digits and `._:-`, else a new id. Quote it when asking an operator about an answer.",
        "schema": {"type": "string"},
    },
    ENVIRONMENT_HEADER: {
        "description": "The environment that answered: `live`, or `sandpit` (practice; nothing reaches live records).",
        "schema": {"type": "string", "enum": [environment.value for environment in Environment]},
    },
}


def _document_answer_headers(document: dict[str, Any]) -> None:
    """Every answer of every operation carries `ANSWER_HEADERS` (`_RequestLog`), named once under
    components/headers."""
    document.setdefault("components", {})["headers"] = ANSWER_HEADERS
    named = {name: {"$ref": f"#/components/headers/{name}"} for name in ANSWER_HEADERS}
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                response.setdefault("headers", {}).update(named)


def _document_body_limits(app: FastAPI, document: dict[str, Any]) -> None:
    """`_BodyLimit` answers any route with a body 413 past its limit; a route bounding its body itself (a limit
    of None: ingest's batches) documents its own 413."""
    limits: BodyLimits | None = getattr(app.state, "body_limits", None)
    if limits is None:
        return
    for path, operations in document.get("paths", {}).items():
        limit = limits.limit_for(path)
        for operation in operations.values():
            if limit is not None and "requestBody" in operation:
                operation.setdefault("responses", {}).setdefault("413", {"description": _too_large_text(limit)})


def _too_large_text(limit: int) -> str:
    """How the OpenAPI documents describe a 413 at `limit` bytes."""
    return (
        f"The request body is larger than this route takes ({limit:,} bytes; code `REQUEST_TOO_LARGE`): nothing of"
        " it was used"
    )


def name_api_key(app: FastAPI, document: dict[str, Any]) -> None:
    """Adds the bearer API key to an OpenAPI document of `app` and to every operation that needs one."""
    document.setdefault("components", {})["securitySchemes"] = API_KEY_SCHEME
    for path, method in _authenticated_operations(app):
        operation = document.get("paths", {}).get(path, {}).get(method)
        if operation is not None:
            operation["security"] = [{"apiKey": []}]


def _mark_operators_only(app: FastAPI, document: dict[str, Any]) -> None:
    """`x-operators-only: true` on every operation whose route depends on a caller check that lets operators alone
    through: what the Ingress must not route (decision 0119; deploy/k8s/tests/test_public_routes.py reads it)."""
    from lrs_platform.authentication import is_for_operators_only

    for path, method in _operations_depending_on(app, is_for_operators_only):
        operation = document.get("paths", {}).get(path, {}).get(method)
        if operation is not None:
            operation["x-operators-only"] = True


def _authenticated_operations(app: FastAPI) -> list[tuple[str, str]]:
    from lrs_platform.authentication import current_principal

    return _operations_depending_on(app, lambda call: call is current_principal)


def _operations_depending_on(app: FastAPI, wanted: Callable[[Any], bool]) -> list[tuple[str, str]]:
    """(path, method) of each operation whose route depends, directly or through other dependencies, on a callable
    `wanted` picks."""

    def depends(dependant: Any) -> bool:
        return any(wanted(dep.call) or depends(dep) for dep in dependant.dependencies)

    found = []
    for route in iter_route_contexts(app.routes):
        dependant = getattr(route, "dependant", None) or getattr(route.original_route, "dependant", None)
        if dependant is not None and depends(dependant):
            found += [(str(route.path), method.lower()) for method in route.methods or ()]
    return found


def _serve_documentation(app: FastAPI, title: str) -> None:
    static = resources.files("lrs_platform").joinpath("static")
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(static)), name="docs-assets")
    name = html.escape(title)
    spec = html.escape(app.openapi_url or "/openapi.json")

    policy = {"Content-Security-Policy": DOCUMENTATION_POLICY}

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{name} - Swagger UI</title>'
            f'<link rel="stylesheet" href="{DOCS_ASSETS}/swagger-ui/swagger-ui.css">'
            f'<link rel="icon" type="image/png" href="{DOCS_ASSETS}/swagger-ui/favicon-32x32.png"></head>'
            f'<body><div id="swagger-ui" data-openapi-url="{spec}"></div>'
            f'<script src="{DOCS_ASSETS}/swagger-ui/swagger-ui-bundle.js"></script>'
            f'<script src="{DOCS_ASSETS}/swagger-ui-init.js"></script></body></html>',
            headers=policy,
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return HTMLResponse(
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{name} - ReDoc</title>'
            f'<link rel="icon" type="image/png" href="{DOCS_ASSETS}/swagger-ui/favicon-32x32.png"></head>'
            f'<body><redoc spec-url="{spec}"></redoc>'
            f'<script src="{DOCS_ASSETS}/redoc/redoc.standalone.js"></script></body></html>',
            headers=policy,
        )

    @app.get(PROBLEM_PAGES, include_in_schema=False)
    async def problem_codes() -> HTMLResponse:
        return HTMLResponse(problem_index_page(), headers={"Content-Security-Policy": PROBLEM_PAGE_POLICY})

    @app.get(PROBLEM_PAGES + "/{code}", include_in_schema=False)
    async def problem_code(code: str) -> HTMLResponse:
        page = problem_page(code)
        if page is None:
            raise ProblemError(404, "Unknown problem code", f"No problem type is called {code[:40]!r}.")
        return HTMLResponse(page, headers={"Content-Security-Policy": PROBLEM_PAGE_POLICY})


NOT_STORED = "no-store"
"""The `Cache-Control` of every answer that names none itself: an answer may hold a learner's personal data (a PLR,
its history, a credential, a registry read, a problem naming a ULN), and no browser or shared proxy may keep it. A
route that may be cached says so itself (the projector's JWKS: `public, max-age=300`); static files (the documentation
pages' assets, the portal's /static), the same for everyone, are left as their mount answers them."""


def _serves_static_files(scope: Scope) -> bool:
    return isinstance(scope.get("endpoint"), StaticFiles)


class _RequestLog:
    """Logs and counts each request, and names it (`x-request-id`) and the environment that answered on
    the response, which no cache may keep unless it says otherwise (`NOT_STORED`) and no browser may take for
    another type than it says (`nosniff`: a CSV or JSON holding an AO's text is never run as a page); an
    unexpected failure before the response began is answered 500 in problem+json. Plain ASGI, not
    `app.middleware("http")`: Starlette's BaseHTTPMiddleware runs every request in a task of its own and passes
    the response through a stream (~0.2 ms of CPU a request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id_of(Headers(scope=scope).get("x-request-id"))
        scope.setdefault("state", {})  # one dict for every copy of the scope: what the routes say of the caller
        environment: Environment = scope["app"].state.environment
        structlog.contextvars.bind_contextvars(request_id=request_id)
        bound = CURRENT_REQUEST_ID.set(request_id)
        started = time.perf_counter()
        answered: float | None = None  # when the answer's last byte went: work after it is not the request's
        status = 500
        responded = False
        disconnected = False  # the client hung up: what is answered after it reaches no one
        went_away = False  # ... before its answer began: a 499, whatever the app made of it
        refusal: bytearray | None = None  # a 4xx problem document as it is sent: its `code` goes on the line

        async def listened() -> Message:
            nonlocal disconnected
            message = await receive()
            disconnected = disconnected or message["type"] == "http.disconnect"
            return message

        async def respond(message: Message) -> None:
            nonlocal status, responded, answered, went_away, refusal
            if message["type"] == "http.response.start" and disconnected and not responded:
                # a body the client cut short, which a route reading it as a model answers 400 ("error parsing the
                # body"): no defect of the request, and no one to tell
                went_away = True
            if went_away:
                responded = True
                return
            if message["type"] == "http.response.start":
                responded = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = request_id
                headers[ENVIRONMENT_HEADER] = environment.value
                if "cache-control" not in headers and not _serves_static_files(scope):
                    headers["cache-control"] = NOT_STORED
                if "x-content-type-options" not in headers:
                    headers["x-content-type-options"] = "nosniff"  # JSON and CSV are never read as a page
                if 400 <= status < 500 and headers.get("content-type", "").startswith(PROBLEM_MEDIA_TYPE):
                    refusal = bytearray()
            elif refusal is not None and message["type"] == "http.response.body":
                refusal += message.get("body", b"")[: MAX_REFUSAL_READ_BYTES - len(refusal)]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                answered = time.perf_counter()

        try:
            await self.app(scope, listened, respond)
        except ClientDisconnect:
            # the client went away while its body was read: no defect, and no one to answer (uvicorn sends nothing
            # either). Logged without the path or the body (either may name a learner); `http_request` names the route
            if not responded:
                status = CLIENT_CLOSED_REQUEST
            _log.info("client_went_away")
        except Exception as error:
            if responded:
                raise
            # problem+json like every other answer, with the headers above; the log names where, not what
            # (an error's message may hold a value of the request)
            where = traceback.extract_tb(error.__traceback__)[-1]
            _log.error("request_failed", error=type(error).__name__, at=f"{where.filename}:{where.lineno} {where.name}")
            answer: UnexpectedFailure | None = getattr(scope["app"].state, "unexpected_failure", None)
            response = (
                await answer(Request(scope))
                if answer is not None
                else problem_response(Problem(status=500, title="Internal error", instance=scope["path"]))
            )
            await response(scope, receive, respond)
        finally:
            if went_away:
                status = CLIENT_CLOSED_REQUEST
                _log.info("client_went_away")
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            elapsed = (answered or time.perf_counter()) - started
            service = scope["app"].state.service
            HTTP_REQUESTS.labels(service, scope["method"], path, str(status)).inc()
            HTTP_LATENCY.labels(service, path).observe(elapsed)
            if path not in ("/healthz", "/readyz", "/metrics"):
                _log.info(
                    "http_request",
                    method=scope["method"],
                    route=path,
                    status=status,
                    **_problem_code(refusal),
                    ms=round(elapsed * 1000, 1),
                    **scope["state"].get("caller_seen", {}),
                )
            structlog.contextvars.unbind_contextvars("request_id")
            CURRENT_REQUEST_ID.reset(bound)


MAX_REFUSAL_READ_BYTES = 16_384  # of a refusal's problem document, for its `code`: the rest is its detail
_PROBLEM_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _problem_code(document: bytes | bytearray | None) -> dict[str, str]:
    """`code` for a refused request's `http_request` line: the problem's code (`EVENTS_HELD_IN_DEAD_LETTERS`,
    `RS001`), never its detail, which may quote the request; a 409 said only "status 409", and the desk, given the
    request id, could not tell which of the service's refusals it was (tracer walk, finding 6)."""
    if not document:
        return {}
    try:
        problem = json.loads(document)
    except ValueError:  # cut short at `MAX_REFUSAL_READ_BYTES`, or not JSON after all
        return {}
    code = problem.get("code") if isinstance(problem, dict) else None
    return {"code": code} if isinstance(code, str) and _PROBLEM_CODE.fullmatch(code) else {}


CURRENT_REQUEST_ID: ContextVar[str | None] = ContextVar("lrs_request_id", default=None)
"""The id of the request being answered (what its log lines and `X-Request-Id` say): a service that calls
another on its behalf sends it on, so one id follows the request through both logs."""

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _request_id_of(sent: str | None) -> str:
    """The caller's own id when it is one a log line can hold as it is (at most 128 letters, digits and `._:-`: a
    UUID, a trace id), else a new one: a header of any length or text would be written into every line."""
    return sent if sent is not None and _REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex


async def validation_problem(request: Request, error: Exception) -> JSONResponse:
    """A request FastAPI could not validate, as a 422 problem; a body that is not JSON at all only once the route's
    dependencies have let the caller through (`_refuse_caller_first`). The portal's admin API answers with it too."""
    assert isinstance(error, RequestValidationError)
    if any(issue.get("type") == "json_invalid" for issue in error.errors()):
        await _refuse_caller_first(request)
    problem = refused_request(error.errors()).model_copy(update={"instance": request.url.path})
    return problem_response(problem)


def refused_request(issues: Iterable[Mapping[str, Any]], within: tuple[str, ...] = ()) -> Problem:
    """`invalid_request`, but a ULN refused for its form (a path, query or body value FastAPI held to `ULN_PATTERN`:
    `uln`, an item of a `uln` list, `merged_uln`) is said as a ULN asked about is (`why_no_learner_has`, RV001),
    where it is but never the value; the whole answer is 422 RV001 "Invalid ULN" when nothing else is wrong, as a
    wrong check digit is RV002. Not a pattern's regular expression, nor INVALID_REQUEST for a ULN mistyped."""
    issues = list(issues)
    refusals = [_malformed_uln(issue) for issue in issues]
    said = [
        issue if refusal is None else {"loc": issue.get("loc", ()), "type": "uln_malformed", "msg": refusal.reason}
        for issue, refusal in zip(issues, refusals, strict=True)
    ]
    problem = invalid_request(said, within)
    if refusals and all(refusals):
        return Problem(status=422, title="Invalid ULN", detail=problem.detail, code=RecordCode.ULN_MALFORMED)
    return problem


def _malformed_uln(issue: Mapping[str, Any]) -> NoLearnersUln | None:
    """RV001's refusal for a value refused as no ULN's pattern allows, else None."""
    if issue.get("type") != "string_pattern_mismatch" or (issue.get("ctx") or {}).get("pattern") != ULN_PATTERN:
        return None
    refusal = why_no_learner_has(str(issue.get("input", "")))
    return refusal if refusal is not None and refusal.code is RecordCode.ULN_MALFORMED else None


async def _refuse_caller_first(request: Request) -> None:
    """Raises what the route's dependencies raise (no key: 401; an AO's key on an operator's route: 403), solved
    without its body. FastAPI reads a JSON body before it solves them, so a body that is not JSON at all would
    otherwise be described, 422, to a caller the route refuses; a body that is JSON is validated after them."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    without_body = Dependant(dependencies=route.dependant.dependencies, call=route.dependant.call)
    async with AsyncExitStack() as stack:
        await solve_dependencies(
            request=request,
            dependant=without_body,
            async_exit_stack=stack,
            embed_body_fields=False,
            dependency_overrides_provider=request.app,
        )


class _HeadAnsweredAsGet:
    """HEAD at a path a route answers GET at is that GET's answer without its body (RFC 9110 §9.3.2): its status
    and headers, `Content-Length` included, so a link checker or a monitor may ask without downloading. FastAPI's
    routes answer only the methods they name; a Starlette route or a mount that answers HEAD itself is left to."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD" or not _fastapi_answers_get(scope):
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


def _fastapi_answers_get(scope: Scope) -> bool:
    as_get = {**scope, "method": "GET"}
    for route in iter_route_contexts(scope["app"].routes):
        if isinstance(route.original_route, APIRoute) and route.matches(as_get)[0] is Match.FULL:
            return True
    return False


class _UncompressedBodiesOnly:
    """Refuses (415, UNSUPPORTED_MEDIA_TYPE) a request whose body is sent compressed (`Content-Encoding: gzip`, say):
    no route inflates one, and read as it is a gzip file's second byte "is not UTF-8", which sends the caller looking
    at the wrong thing. `identity` is no encoding. A transfer coding but `chunked` (`Transfer-Encoding: gzip,
    chunked`) is refused the same way: the server takes off the chunks and hands on the gzip. Nothing is read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope) if scope["type"] == "http" else Headers()
        encoding = headers.get("content-encoding", "")
        transfer = headers.get("transfer-encoding", "")
        compressed_in_transfer = any(coding.strip().lower() not in ("", "chunked") for coding in transfer.split(","))
        if encoding.strip().lower() in ("", "identity") and not compressed_in_transfer:
            await self.app(scope, receive, send)
            return
        header, value, remedy = (
            ("Transfer-Encoding", transfer, "with no transfer coding but chunked")
            if compressed_in_transfer
            else ("Content-Encoding", encoding, "without Content-Encoding")
        )
        problem = Problem(
            status=415,
            title="Unsupported Media Type",
            detail=f"The body was sent with {header}: {value[:40]}, and no route reads a compressed body:"
            f" send it as it is, {remedy}.",
            code=ProblemCode.UNSUPPORTED_MEDIA_TYPE,
            instance=scope["path"],
        )
        await problem_response(problem)(scope, receive, send)


class _JsonBodiesOnly:
    """Refuses (415, UNSUPPORTED_MEDIA_TYPE) a body not labelled JSON that a route reading its JSON body itself
    (its OpenAPI body is application/json alone: validation's learner routes) goes to read: when it reads it, so
    after the route's dependencies, and a caller without a key is still told 401 first. A body FastAPI reads into
    a model is refused by `invalid_request` (FastAPI reads it before any dependency; the refusal comes after)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_json_media_type(Headers(scope=scope).get("content-type")):
            await self.app(scope, receive, send)
            return

        async def json_only() -> Message:
            message = await receive()
            sent = message["type"] == "http.request" and (message.get("body") or message.get("more_body"))
            if sent and _reads_json_itself(scope.get("route")):
                problem = not_json()
                raise ProblemError(problem.status, problem.title, problem.detail, problem.code)
            return message

        await self.app(scope, json_only, send)


class _NoDuplicateKeys:
    """Refuses (422, MALFORMED_REQUEST) a JSON body naming a key twice in one object, which JSON readers resolve
    each their own way (Python's keeps the last: `{"resolution": "upheld", "resolution": "rejected"}` was a
    rejection); ingest's batches refuse it too (RS001). Only for a route that reads its body as JSON (into a model,
    or itself, as `_JsonBodiesOnly` finds them); through the validation problem's path, so a caller the route
    refuses is told that first.

    The body is read whole first, and judged as ingest's batch reader judges a JSON file's bytes
    (`lrs_domain.formats.errors`), the same for both kinds of route: UTF-16 or UTF-32, or two byte order marks, is
    refused naming it, and so is a byte that is not UTF-8 (`not_utf8`; Python's JSON reader would take UTF-16, and
    a surrogate's bytes); a UTF-8 byte order mark before the JSON is left out, as a batch's is. JSON that holds a
    value no route can take is 422 INVALID_REQUEST naming where (`_unreadable_value`), not "not valid JSON"."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_json_media_type(Headers(scope=scope).get("content-type")):
            await self.app(scope, receive, send)
            return

        async def read_whole_checked() -> Message:
            message = await receive()
            if message["type"] != "http.request" or not _reads_json(scope.get("route")):
                return message
            chunks = [message.get("body", b"")]
            while message.get("more_body"):
                message = await receive()
                if message["type"] != "http.request":  # the client went away
                    return message
                chunks.append(message.get("body", b""))
            body = _checked_json(b"".join(chunks), into_model=getattr(scope.get("route"), "body_field", None))
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, read_whole_checked, send)


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return found


class _RefusedBody(Exception):
    """A JSON body refused as it is read (`_checked_json`). FastAPI, reading a body into a model, answers anything it
    meets there but a JSON decode error with its own 400, this as the cause, which `http_problem` answers with
    `problem` once the route's dependencies have let the caller through."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.detail)
        self.problem = problem


def _refuse_body(problem: Problem, *, into_model: object) -> NoReturn:
    if into_model is not None:
        raise _RefusedBody(problem)
    raise ProblemError(problem.status, problem.title, problem.detail, problem.code)


def _checked_json(body: bytes, *, into_model: object) -> bytes:
    """The body a route reads as JSON, a UTF-8 byte order mark before it left out; refused as `_NoDuplicateKeys`
    says."""
    try:
        refuse_other_encodings(body, ": send JSON in UTF-8")
    except BatchRefused as refusal:  # said of "the file" (UTF-16, UTF-32, two byte order marks)
        detail = refusal.detail.replace("the file", "the request body", 1)
        _refuse_body(
            Problem(status=422, title="Invalid request", detail=detail, code=ProblemCode.MALFORMED_REQUEST),
            into_model=into_model,
        )
    body = body.removeprefix(BYTE_ORDER_MARK)
    try:
        text = body.decode()
    except UnicodeDecodeError as error:
        _refuse_body(not_utf8(error), into_model=into_model)
    document = _refuse_duplicate_keys(text, into_model=into_model)
    if document is not None and (found := _unreadable_value(document)):
        path, what = found
        issue = {"type": "value_error", "loc": ("body", *path), "msg": what, "ctx": {"error": what}}
        _refuse_body(invalid_request([issue]), into_model=into_model)
    return body


class _LongNumber:
    """A number of more digits than Python reads as a whole number (`sys.get_int_max_str_digits`, 4,300), where the
    JSON held it: JSON sets no bound, so the body is JSON, holding a number no route takes (`_unreadable_value`)."""

    def __init__(self, digits: int) -> None:
        self.digits = digits


_MOST_DIGITS = 4_300


def _number(text: str, read: Callable[[str], int | float]) -> int | float | _LongNumber:
    digits = sum(character.isdigit() for character in text) if len(text) > _MOST_DIGITS else 0
    return _LongNumber(digits) if digits > _MOST_DIGITS else read(text)


# a `\ud800` to `\udfff` escape (a lone surrogate, or half of a pair): only an escape makes one in UTF-8 text
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _unreadable_value(document: object) -> tuple[tuple[str | int, ...], str] | None:
    """Where in a body read as JSON the first value is that no route can take, and what is wrong with it, in the
    words ingest's batch reader says it with: a string (a value, or a key) holding a lone surrogate (`"\\ud800"`,
    valid JSON whose text has no UTF-8 form, so it can be neither stored nor sent), or a number of thousands of
    digits. None for the rest, which the route's own checks judge."""
    stack: list[tuple[tuple[str | int, ...], object]] = [((), document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str) and _LONE_SURROGATE.search(value):
            return path, f"holds {refused_character(value, one_line=False)}"
        if isinstance(value, _LongNumber):
            return path, f"a number of {value.digits:,} digits is too long"
        if isinstance(value, dict):
            for key in value:
                if _LONE_SURROGATE.search(key):
                    return path, f"a key holds {refused_character(key, one_line=False)}"
            stack.extend(((*path, key), item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend(((*path, index), item) for index, item in reversed(list(enumerate(value))))
    return None


def _refuse_duplicate_keys(text: str, *, into_model: object) -> object | None:
    """Raised as FastAPI reads a body into a model (a JSON decode error, which it turns into a validation
    problem after the route's dependencies are solved), or as a validation problem for a route reading it.
    Returns the document read, when it may hold a value `_unreadable_value` looks for (else None)."""
    long_numbers: list[_LongNumber] = []

    def number(read: Callable[[str], int | float]) -> Callable[[str], int | float | _LongNumber]:
        def reading(written: str) -> int | float | _LongNumber:
            found = _number(written, read)
            if isinstance(found, _LongNumber):
                long_numbers.append(found)
            return found

        return reading

    try:
        document = json.loads(text, object_pairs_hook=_unique_keys, parse_int=number(int), parse_float=number(float))
    except _DuplicateKey as duplicate:
        name = str(duplicate)
        shown = repr(name) if len(name) <= 64 else f"{name[:64]!r}…"
        written = json.dumps(name, ensure_ascii=False)
        position = max(text.find(written, text.find(written) + 1), 0)  # the second, if written as we would
        _refuse_json(f"an object names {shown} twice: send each key once", text, position, into_model=into_model)
    except RecursionError:  # Python's own words name its stack, not the body; no route's body nests so deep
        _refuse_json("arrays or objects nested too deeply to read", text, 0, into_model=into_model)
    except ValueError:  # not JSON at all: FastAPI or the route says so
        return None
    return document if long_numbers or _SURROGATE_ESCAPE.search(text) else None


def _refuse_json(reason: str, text: str, position: int, *, into_model: object) -> NoReturn:
    if into_model is not None:
        raise json.JSONDecodeError(reason, text, position) from None
    issue = {"type": "json_invalid", "loc": ("body", position), "msg": reason, "ctx": {"error": reason}}
    raise RequestValidationError([issue]) from None


def _reads_json(route: object) -> bool:
    return (isinstance(route, APIRoute) and route.body_field is not None) or _reads_json_itself(route)


def _reads_json_itself(route: object) -> bool:
    if not isinstance(route, APIRoute) or route.body_field is not None:
        return False
    media_types = list((route.openapi_extra or {}).get("requestBody", {}).get("content", {}))
    return bool(media_types) and all(is_json_media_type(media_type) for media_type in media_types)


class BodyLimits:
    """Each route's limit on its request body, by path prefix (the longest first): what `_BodyLimit` enforces and
    the OpenAPI documents say. None: the route bounds its body itself."""

    def __init__(self, limits: Mapping[str, int | None]) -> None:
        self._limits = sorted(limits.items(), key=lambda item: -len(item[0]))

    def limit_for(self, path: str) -> int | None:
        return next((limit for prefix, limit in self._limits if path.startswith(prefix)), DEFAULT_BODY_BYTES)


class _BodyLimit:
    """Refuses a request body over its route's limit (413, REQUEST_TOO_LARGE) without holding it: at once when
    its Content-Length says so, otherwise as soon as the bytes read pass the limit. Nothing is read before."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self._limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self._limits.limit_for(scope["path"]) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(limit, scope["path"])(scope, receive, send)
            return
        received = 0

        async def bounded() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge(limit)  # an HTTPException: FastAPI's body reading lets it through
            return message

        await self.app(scope, bounded, send)


REQUEST_BODY_IDLE_SECONDS = 30.0
"""How long a request body may send nothing (from its head's end or its last chunk) before the service stops waiting
for it: the head's deadline (`REQUEST_HEAD_SECONDS`), and half the ingress's (nginx's default `client_body_timeout
60s`). Unbounded, a body that stalled held its connection for ever, before any authentication (a form's, or JSON that
FastAPI reads before a route's dependencies): without an ingress, enough of them left the process no file descriptors."""
OWN_BODY_IDLE_SECONDS = 600.0
"""The deadline of a route that bounds its body itself (a body limit of None). Ingest's batch upload keeps its own
(`INGEST_UPLOAD_IDLE_SECONDS`, below this one), so there it is only a backstop; the portal's file check, which bounds
its size but not its pace, has this one alone."""


class _BodyStalled(StarletteHTTPException):
    def __init__(self, idle_seconds: float) -> None:
        super().__init__(408, "Request Timeout")
        self.idle_seconds = idle_seconds


class _BodyIdleDeadline:
    """Answers 408 (REQUEST_TIMEOUT, in problem+json) and closes the connection when a request body sends nothing for
    `idle_seconds` while it is read, as ingest's `until_idle` does for an upload: a body that keeps moving may take as
    long as it likes. Only reads of the body are timed, each in one `asyncio.timeout` (no task a chunk), and only
    until the body has ended or the answer has begun: a response being streamed, and the wait for a disconnect after
    the body, are never cut. Whatever the app made of the stall (the portal's form reader turns any failure into a
    page) is not sent: the 408 is."""

    idle_seconds = REQUEST_BODY_IDLE_SECONDS

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self._limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _declares_body(scope):
            await self.app(scope, receive, send)
            return
        idle_seconds = self.idle_seconds if self._limits.limit_for(scope["path"]) is not None else OWN_BODY_IDLE_SECONDS
        timing, stalled, started = True, False, False

        async def within_deadline() -> Message:
            nonlocal timing, stalled
            if stalled:
                raise _BodyStalled(idle_seconds)
            if not timing:
                return await receive()
            try:
                async with asyncio.timeout(idle_seconds):
                    message = await receive()
            except TimeoutError:
                stalled = True
                raise _BodyStalled(idle_seconds) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                timing = False
            return message

        async def answering(message: Message) -> None:
            nonlocal timing, started
            if stalled:
                return  # the app's answer to the stall: the 408 below is sent instead
            if message["type"] == "http.response.start":
                timing, started = False, True
            await send(message)

        try:
            await self.app(scope, within_deadline, answering)
        except Exception:
            if not stalled or started:
                raise
        if stalled and not started:
            _log.info("request_body_stalled", idle_seconds=idle_seconds)
            await _stalled(idle_seconds, scope["path"])(scope, receive, send)


def _stalled(idle_seconds: float, path: str) -> JSONResponse:
    problem = Problem(
        status=408,
        title="The request body stopped arriving",
        detail=f"Nothing of the request body arrived for {idle_seconds:g} seconds, so the service stopped waiting for"
        " it and used nothing of it. Send it again.",
        code=ProblemCode.REQUEST_TIMEOUT,
        instance=path,
    )
    return problem_response(problem, {"Connection": "close"})


class _ClosedAfterUnreadBody:
    """Answers a request whose body was not read to its end (a 401, 403 or 404 before it, a GET sent one, an upload
    refused while it streams) with `Connection: close`, so the server closes the connection after the answer.
    Kept open, uvicorn reads on and throws away whatever the caller goes on sending, without end and beyond every
    limit the app sets (decision 0193). A request with no body, or whose body was read whole, keeps its connection.
    The outermost layer, so that every answer the app gives passes it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _declares_body(scope):
            await self.app(scope, receive, send)
            return
        read_whole = False

        async def reading() -> Message:
            nonlocal read_whole
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                read_whole = True
            return message

        async def answering(message: Message) -> None:
            if message["type"] == "http.response.start" and not read_whole:
                MutableHeaders(scope=message)["connection"] = "close"
            await send(message)

        await self.app(scope, reading, answering)


def _declares_body(scope: Scope) -> bool:
    """Whether the request says a body follows (RFC 9112 §6.3): a Transfer-Encoding, or a Content-Length not 0."""
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip().lstrip(b"0")):
            return True
    return False


class _BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, "Content Too Large")
        self.limit = limit


def _too_large(limit: int, path: str) -> JSONResponse:
    problem = Problem(
        status=413,
        title="Content Too Large",
        detail=f"The request body is larger than this route takes ({limit:,} bytes); nothing of it was used.",
        code=ProblemCode.REQUEST_TOO_LARGE,
        instance=path,
    )
    return problem_response(problem, {"Connection": "close"})


async def http_problem(request: Request, error: Exception) -> JSONResponse:
    """An HTTPException (Starlette's or FastAPI's) as a problem: a 405 naming every method of the path, a body
    over its limit as REQUEST_TOO_LARGE, and a JSON body that is not UTF-8 as the 422 MALFORMED_REQUEST of any
    other body that is not JSON (after the route's dependencies, as that one is). The portal's admin API answers
    with it too."""
    assert isinstance(error, StarletteHTTPException)
    if isinstance(error, _BodyTooLarge):
        return _too_large(error.limit, request.url.path)
    unparsed = error.status_code == 400 and str(error.detail) == _FASTAPI_UNPARSED_BODY
    if unparsed and isinstance(error.__cause__, UnicodeDecodeError):
        await _refuse_caller_first(request)
        return problem_response(not_utf8(error.__cause__).model_copy(update={"instance": request.url.path}))
    if unparsed and isinstance(error.__cause__, _RefusedBody):
        await _refuse_caller_first(request)
        return problem_response(error.__cause__.problem.model_copy(update={"instance": request.url.path}))
    headers = dict(error.headers or {})
    title, detail = str(error.detail), None
    if error.status_code == 405 and (allowed := allowed_methods(request) or headers.get("Allow")):
        headers["Allow"] = allowed
        detail = f"This address takes {allowed}."
    elif unparsed:  # form data that could not be read
        title, detail = "Malformed request", "The request body could not be read."
    elif error.status_code == 404 and "route" not in request.scope:  # no route matched the address
        detail = no_route_detail(request.url.path)
    return problem_response(
        Problem(status=error.status_code, title=title, detail=detail, instance=request.url.path), headers
    )


def no_route_detail(path: str) -> str:
    """What a 404 for an address no route answers says: a mistyped address, or the Sandpit's on live."""
    if path.startswith(("/v1/sandpit/", "/v1/admin/sandpit/")):
        return (
            "No route answers this address here. Sandpit routes are served by the Sandpit's own services"
            " (LRS_SANDPIT_INGEST_URL): check the service's address."
        )
    return "No route answers this address on this service: check the address against its OpenAPI (/openapi.json)."


_FASTAPI_UNPARSED_BODY = "There was an error parsing the body"
"""What FastAPI raises (400, from the error it met) when a JSON body is not UTF-8, or form data cannot be read."""


def allowed_methods(request: Request) -> str:
    """Every method a route at the request's path answers, sorted, as a 405's `Allow` names them: Starlette's
    names only the first matching route's (POST /v1/batches beside GET; a page and its form). HEAD is named
    wherever GET is (`_HeadAnsweredAsGet`). Empty when no route with methods matches (a mount: StaticFiles names
    its own)."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        if route.methods and route.matches(request.scope)[0] is not Match.NONE:
            methods |= route.methods
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


RETRY_AFTER = {"Retry-After": "5"}
# What a request meets while PostgreSQL is away: refused, dropped or timed-out connections (all OSError),
# a server shutting down or cancelling, or one out of connections; and a connection the pool took back
# when the server dropped it in the middle of a request (asyncpg's InterfaceError "released back to the
# pool"), which the consumers already treat as PostgreSQL away.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.InsufficientResourcesError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


def route_template(request: Request) -> str:
    """The route a request matched, as its template (`/v1/learners/{uln}/plr`): what a log line names, since a
    path may hold a ULN or a reset link's token."""
    return getattr(request.scope.get("route"), "path", "unmatched")


_DATABASE_REFUSALS: tuple[tuple[type[Exception], str], ...] = (
    (asyncpg.TooManyConnectionsError, "PostgreSQL has no connection free (it has as many clients as it allows)"),
    (
        asyncpg.CannotConnectNowError,
        "PostgreSQL is not accepting connections now (it is starting up, shutting down or recovering)",
    ),
    (ConnectionRefusedError, "The connection to PostgreSQL was refused (it is not running, or not at that address)"),
)


def database_unavailable_reason(error: Exception) -> str:
    """Why PostgreSQL was out of use, as a problem's detail says it: a server that answered "too many clients"
    did answer, and an operator looking at a full `max_connections` must not go looking for one that is down."""
    return next(
        (reason for refusal, reason in _DATABASE_REFUSALS if isinstance(error, refusal)), "PostgreSQL did not answer"
    )


async def _database_unavailable(request: Request, error: Exception) -> JSONResponse:
    """503 with Retry-After, not a 500: the caller did nothing wrong and the same request will work again."""
    _log.warning("database_unavailable", route=route_template(request), error=type(error).__name__)
    return problem_response(
        Problem(
            status=503,
            title="The database is unavailable",
            detail=f"{database_unavailable_reason(error)}, so nothing was read or changed. Send the request again"
            " later.",
            instance=request.url.path,
        ),
        RETRY_AFTER,
    )


def keyring_passes_by_itself(error: KeyringUnavailable) -> bool:
    """Whether waiting alone can mend a key store that cannot be used: yes when the store itself failed (it cannot be
    reached, is not created yet, or is older than this service: validation creates and upgrades it when it starts),
    which the keyring raises from PostgreSQL's or the network's own error. No when the keys given do not fit the
    store, an operator's configuration to mend: a wrapping key not given (`WrappingKeyNotGiven`), an
    `LRS_KEYRING_KEY` the store was not made with, a learner key that does not open with the key given."""
    if isinstance(error, WrappingKeyNotGiven):
        return False
    return isinstance(error.__cause__, (OSError, asyncpg.PostgresError, asyncpg.InterfaceError))


def keyring_problem(error: Exception, request: Request, *, resend: str = "the request") -> JSONResponse:
    """The 503 of a request that met the learner key store unusable (`KeyringUnavailable`), in the same words to every
    caller (an AO, a learner, an operator): the keyring's reason names settings and wrapping key ids, an operator's
    to mend, so it is logged (it carries no key material or personal data, and the route is logged as its template)
    and not answered. `Retry-After` only when waiting alone can mend it (`keyring_passes_by_itself`); otherwise the
    answer says so. `resend` names what to send again (ingest: the same file, under the same Idempotency-Key)."""
    assert isinstance(error, KeyringUnavailable)
    passes = keyring_passes_by_itself(error)
    _log.warning(
        "keyring_unavailable",
        route=route_template(request),
        error=type(error).__name__,
        reason=str(error),
        passes_by_itself=passes,
    )
    if passes:
        detail = (
            f"The learners' keys cannot be used just now, so nothing was read or changed. Send {resend} again later."
        )
    else:
        detail = (
            "The learners' keys cannot be used until the LRS's configuration is put right, so nothing was read or"
            " changed, and waiting alone will not mend it. Tell the LRS service desk, quoting this answer's"
            f" X-Request-Id (its operators find why in the service's log), and send {resend} again once it is mended."
        )
    problem = Problem(
        status=503,
        title="The learner key store is unavailable",
        detail=detail,
        code=ProblemCode.KEYRING_UNAVAILABLE,
        instance=request.url.path,
    )
    return problem_response(problem, RETRY_AFTER if passes else None)


async def _keyring_problem(request: Request, error: Exception) -> JSONResponse:
    return keyring_problem(error, request)


async def _unstorable_problem(request: Request, error: Exception) -> JSONResponse:
    """A value PostgreSQL refused (class 22, data exception) that no check at the door caught: the
    caller's, so a 422 that names no value (it may be personal); each route should refuse it itself."""
    _log.warning("request_value_unstorable", route=route_template(request), error=type(error).__name__)
    return problem_response(
        Problem(
            status=422,
            title="Invalid request",
            detail="The request holds a value that cannot be stored (a control character, say, or a number or date"
            " out of range).",
            code=ProblemCode.VALUE_NOT_STORABLE,
            instance=request.url.path,
        )
    )


GRACEFUL_SHUTDOWN_SECONDS = 15
"""How long, after SIGTERM, the requests still open may run before they are cancelled and the lifespan's
shutdown begins. Unbounded, a long-poll (`wait_until_decided`, a projector read's wait: up to 30 s) or an upload
trickling in held shutdown past the pods' grace period (deploy/k8s/tests/test_shutdown.py adds the sum up)."""

MAX_REQUEST_HEAD_BYTES = 64 * 1_024
"""The most a request's line and headers may take: twice what the ingress passes (nginx's default
`large_client_header_buffers 4 8k`); httptools, unlike h11, sets no bound of its own (decision 0193)."""

REQUEST_HEAD_SECONDS = 30.0
"""How long a request's line and headers may take to arrive, from the connection's opening or the request's first
byte: half the ingress's (nginx's default `client_header_timeout 60s`). uvicorn times out only a connection idle
between requests; unbounded, a client that opens connections and sends nothing, or a byte now and then, held each
one for ever, until the process had no file descriptors left for anyone (decision 0193, later note)."""


class _HeadTooLarge(Exception):
    pass


class BoundedHeadProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bound on a request's head: past `MAX_REQUEST_HEAD_BYTES` it is answered
    431 (plain text, as uvicorn answers a request it cannot parse) and the connection is closed. Unbounded, a
    header of 64 MiB was held whole (httptools joins a header's pieces until it ends) and took seconds of CPU.

    Two counts, neither ever more than the head sent, so no head within the bound is refused: the URL and each
    whole header as the parser hands them over (name, value and 4 bytes of separators), which holds the whole
    head once it ends; and, for a header that does not end (the parser hands over none of it), the bytes of each
    read after the one the request began in while the head stays open, every one of them the head's. A head
    without end is refused within a read (256 KiB) past the bound.

    A head must also arrive within `head_seconds` of the connection's opening or of the request's first byte, or the
    answer is 408 and the connection is closed (uvicorn times out only a connection idle between requests)."""

    head_seconds = REQUEST_HEAD_SECONDS
    _head: int | None = None  # the URL and whole headers of the head being read; None between heads
    _read = 0  # the bytes known to be of the head being read
    _began = False  # whether a request began in the bytes being parsed
    _head_deadline: asyncio.TimerHandle | None = None  # while a connection waits for a head to end

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def data_received(self, data: bytes) -> None:
        was_open, self._began = self._head is not None, False
        super().data_received(data)
        if self.transport.is_closing():
            return
        if self._head is None:
            if self.cycle is None or self.cycle.response_complete:
                # bytes between requests that begin none (the line ends llhttp passes over) have stopped uvicorn's
                # keep-alive timer: the next head is timed from them
                self._await_head()
            return
        # the head was open before these bytes and is after them: every one is the head's
        self._read = self._read + len(data) if was_open and not self._began else self._head
        if max(self._head, self._read) > MAX_REQUEST_HEAD_BYTES:
            self._refuse_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head, self._began = 0, True
        self._await_head()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._head is not None:  # else a trailer, after a chunked body: no part of the head
            self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head = None
        self._stop_waiting_for_head()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting_for_head()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        if self._head_deadline is None:
            self._head_deadline = self.loop.call_later(self.head_seconds, self._head_timed_out)

    def _stop_waiting_for_head(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing():
            return
        _log.warning("request_head_timed_out", seconds=self.head_seconds, began=self._head is not None)
        self._refuse(
            b"408 Request Timeout", f"The request line and headers did not arrive within {self.head_seconds:g} seconds."
        )

    def _count(self, size: int) -> None:
        assert self._head is not None
        self._head += size
        if self._head > MAX_REQUEST_HEAD_BYTES:
            raise _HeadTooLarge  # stops the parser: uvicorn answers its error by `send_400_response`

    def send_400_response(self, msg: str) -> None:
        if self._head is not None and self._head > MAX_REQUEST_HEAD_BYTES:
            self._refuse_head()
        else:
            super().send_400_response(msg)

    def _refuse_head(self) -> None:
        _log.warning("request_head_too_large", limit=MAX_REQUEST_HEAD_BYTES)
        self._refuse(
            b"431 Request Header Fields Too Large",
            f"The request line and headers are larger than {MAX_REQUEST_HEAD_BYTES:,} bytes.",
        )

    def _refuse(self, status: bytes, text: str) -> None:
        """Answers `status` in plain text, as uvicorn answers a request it cannot parse, and closes the connection."""
        body = text.encode()
        lines = [b"HTTP/1.1 " + status]
        lines += [name + b": " + value for name, value in self.server_state.default_headers]
        lines += [b"content-type: text/plain; charset=utf-8", b"content-length: %d" % len(body), b"connection: close"]
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        self.transport.close()
        self._head = None
        self._stop_waiting_for_head()
        # counted as the app's answers are, so that a flood of them shows: no route (nor method) was read
        HTTP_REQUESTS.labels(self._service(), "unknown", "unknown", status.split(b" ", 1)[0].decode()).inc()

    def _service(self) -> str:
        """The service `build_app` named, through uvicorn's middleware around the app (its proxy headers')."""
        app = self.app
        while not hasattr(app, "state") and hasattr(app, "app"):
            app = app.app
        return str(getattr(getattr(app, "state", None), "service", "unknown"))


SERVED_WITH: dict[str, Any] = {
    "loop": "asyncio",
    "http": BoundedHeadProtocol,
    "lifespan": "on",
    "access_log": False,
    "log_config": None,
    "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
}
"""How every service is served (decision 0088): httptools' HTTP parser, which takes a 6 MB upload in about a
third less CPU than h11, with a bound on a request's head (`BoundedHeadProtocol`, decision 0193), on asyncio's own
event loop (uvloop lowered no service's CPU measurably in the benchmark); the lifespan runs the service's start-up; requests are logged by
`_RequestLog`, not by uvicorn, and uvicorn's own lines go to the JSON handler `configure_logging` set up
rather than to plain-text handlers of its own. On SIGTERM open requests get `GRACEFUL_SHUTDOWN_SECONDS`."""


def run_http(app: FastAPI, host: str, port: int, log_level: str = "warning") -> None:
    uvicorn.run(app, host=host, port=port, log_level=log_level, **SERVED_WITH)


@asynccontextmanager
async def noop_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield


def readiness(app: FastAPI, **checks: ReadinessCheck) -> None:
    app.state.readiness_checks.update(checks)


Json = dict[str, Any]
