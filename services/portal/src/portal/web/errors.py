"""Errors as pages a person can act on; the JSON admin API keeps problem+json."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from lrs_platform.http import (
    CURRENT_REQUEST_ID,
    DATABASE_UNAVAILABLE,
    RETRY_AFTER,
    allowed_methods,
    http_problem,
    route_template,
    validation_problem,
)
from lrs_platform.logging import get_logger
from lrs_platform.problems import Problem, problem_response
from portal.backend import Busy, Forbidden, KeyRejected, NotFound, ServiceError, Unavailable
from portal.web.common import (
    PageError,
    SignInRequired,
    clear_cookie,
    page_to_go_back_to,
    portal_of,
    render,
    see_other,
)

_log = get_logger("portal.web")

_PAGES: dict[str, tuple[int, str, list[str]]] = {
    "not_found": (404, "Page not found", ["There is nothing here, or it is not yours to see."]),
    "no_record": (404, "Record not found", []),  # a batch's record: the detail says which and where they are
    "forbidden": (403, "You cannot see this page", []),
    "csrf": (
        403,
        "The form could not be accepted",
        [
            "The form was not sent from this portal, it was open for too long, or you signed out or signed in"
            " again in another window after it was opened. Nothing was changed.",
            "Go back, reload the page and send the form again: what you had entered may need entering again.",
        ],
    ),
    "bad_form": (
        400,
        "The form could not be accepted",
        [
            "Something in the form is not as this portal sent it. Nothing was changed.",
            "Go back, reload the page and send the form again.",
        ],
    ),
    "method_not_allowed": (
        405,
        "This page cannot do that",
        [
            "The address was opened in a way this page does not answer: a form's address opened as a link, or"
            " a form sent to a page that has none. Nothing was changed.",
        ],
    ),
    "unavailable": (503, "Sorry, there is a problem with the service", ["Try again in a few minutes."]),
    # a Sandpit service away: the Sandpit's outage, said so, and that live is not touched (report-sandpit finding 4)
    "sandpit_unavailable": (
        503,
        "Sorry, there is a problem with the Sandpit",
        ["The Sandpit is not available just now; the live service is not affected.", "Try again in a few minutes."],
    ),
    "refused": (409, "That could not be done", []),
    "busy": (429, "Too many requests at once", ["Nothing was changed."]),
    "failed": (
        500,
        "Sorry, something went wrong",
        ["Try again in a moment. If it happens again, tell the LRS service desk what you were doing, and when."],
    ),
}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/v1/")


def _reference(status: int) -> dict[str, str]:
    """A failure's page (5xx) shows the request's id (its `X-Request-Id`, on every log line of it, the services'
    called for it included) as a reference to quote to the LRS service desk, who find the request by it: without
    it a ticket carried only "it says there is a problem" (the incident walk, finding 5)."""
    request_id = CURRENT_REQUEST_ID.get()
    return {"reference": request_id} if status >= 500 and request_id else {}


async def _page_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, PageError)
    status, heading, paragraphs = _PAGES[error.kind]
    shown = ([error.detail] if error.detail else []) + paragraphs
    # read, not kept: a route the person asked for kept the session already (an address no route answers keeps
    # none), and one a page's script asked for (a batch page's status.json, while ingest is away) must never keep it
    # (decision 0040, later note)
    cookie = request.cookies.get(portal_of(request).cookies.session_cookie)
    user = await portal_of(request).auth.session_for(cookie, extend=False)
    if error.kind == "csrf":
        _log.warning("csrf_refused", route=route_template(request))
    context = {"heading": heading, "paragraphs": shown, **_reference(status)}
    return render(request, "error.html", context, user=user, status_code=status)


async def _sign_in_required(request: Request, error: Exception) -> Response:
    assert isinstance(error, SignInRequired)
    ended = f"&ended={error.ended}" if error.ended else ""
    return see_other(f"/sign-in?next={quote(error.next_path, safe='')}{ended}")


async def _service_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ServiceError)
    if isinstance(error, KeyRejected):
        # the session's key was revoked (`lrs credentials revoke`): its session ends, said as any end of a session
        # is (`signed_in`): at a page, or at a form whose content was not sent, back to the page with its query
        portal = portal_of(request)
        token = request.cookies.get(portal.cookies.session_cookie)
        if token:
            await portal.auth.sign_out(token)
        ended = "page" if request.method in ("GET", "HEAD") else "form"
        response = await _sign_in_required(request, SignInRequired(page_to_go_back_to(request), ended))
        clear_cookie(portal, response, portal.cookies.session_cookie)
        return response
    if isinstance(error, NotFound):
        return await _page_error(request, PageError("not_found"))
    if isinstance(error, Forbidden):
        return await _page_error(request, PageError("forbidden", error.detail))
    if isinstance(error, Unavailable):
        _log.warning(
            "service_unavailable",
            route=route_template(request),
            detail=error.detail[:200],
            target_environment=error.environment.value,  # the portal's own `environment` is live's, always
        )
        return await _page_error(
            request, PageError("sandpit_unavailable" if error.environment.is_sandpit else "unavailable")
        )
    if isinstance(error, Busy):  # the service's own words (which limit, how long), and its Retry-After passed on
        page = await _page_error(request, PageError("busy", error.detail))
        if error.retry_after is not None:
            page.headers["Retry-After"] = str(error.retry_after)
        return page
    return await _page_error(request, PageError("refused", error.detail))


async def _http_error(request: Request, error: Exception) -> Response:
    """The admin API answers as every service does (`http_problem`); a page's 405 names every method of its path
    too, since a page's form is often a route of its own at the page's path."""
    assert isinstance(error, StarletteHTTPException)
    if _is_api(request) or request.url.path in ("/healthz", "/readyz", "/metrics"):
        return await http_problem(request, error)
    if error.status_code == 404:
        return await _page_error(request, PageError("not_found"))
    if error.status_code == 405:
        headers = dict(error.headers or {})
        if allowed := allowed_methods(request):
            headers["Allow"] = allowed
        page = await _page_error(request, PageError("method_not_allowed"))
        page.headers.update(headers)
        return page
    return HTMLResponse(str(error.detail), status_code=error.status_code, headers=error.headers)


async def _invalid_request(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    if _is_api(request):  # as every service answers: a body that is not JSON only once the caller is let through
        return await validation_problem(request, error)
    return await _page_error(request, PageError("not_found"))


async def _unexpected_failure(request: Request) -> Response:
    """A failure nothing else handled (the platform logs where): a page, or a problem on the admin API.
    No session is looked up: the failure may be the database's."""
    if _is_api(request):
        return problem_response(Problem(status=500, title="Internal error", instance=request.url.path))
    status, heading, paragraphs = _PAGES["failed"]
    context = {"heading": heading, "paragraphs": paragraphs, **_reference(status)}
    return render(request, "error.html", context, status_code=status)


async def _database_unavailable(request: Request, error: Exception) -> Response:
    """The portal's own database away: the "try again" page (no session looked up: it is the database's), or a
    503 problem on the admin API, with Retry-After either way."""
    _log.warning("database_unavailable", route=route_template(request), error=type(error).__name__)
    if _is_api(request):
        problem = Problem(status=503, title="The database is unavailable", instance=request.url.path)
        return problem_response(problem, RETRY_AFTER)
    status, heading, paragraphs = _PAGES["unavailable"]
    context = {"heading": heading, "paragraphs": paragraphs, **_reference(status)}
    page = render(request, "error.html", context, status_code=status)
    page.headers.update(RETRY_AFTER)
    return page


def install(app: FastAPI) -> None:
    app.state.unexpected_failure = _unexpected_failure
    app.add_exception_handler(PageError, _page_error)
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    for unavailable in DATABASE_UNAVAILABLE:
        app.add_exception_handler(unavailable, _database_unavailable)
