"""Every request is logged with its route and status, and every answer names the request and the
environment, problems and failures included."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest
import structlog.testing
from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from starlette.background import BackgroundTask

from lrs_contracts.environments import ENVIRONMENT_HEADER, Environment
from lrs_platform import http
from lrs_platform.http import UnexpectedFailure, build_app, noop_lifespan
from lrs_platform.problems import ProblemError


@pytest.fixture(autouse=True)
def uncached_request_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """The request log as a logger not yet used: one cached earlier in the run (services configure
    structlog to cache a logger's processors on first use) never reaches `capture_logs`."""
    monkeypatch.setattr(http, "_log", structlog.get_logger("lrs.http"))


def _app(unexpected_failure: UnexpectedFailure | None = None) -> httpx.AsyncClient:
    app = build_app("logged", title="Logged", description="", lifespan=noop_lifespan, environment=Environment.SANDPIT)
    if unexpected_failure is not None:
        app.state.unexpected_failure = unexpected_failure

    @app.get("/things/{name}")
    async def thing(name: str) -> dict[str, str]:
        if name == "missing":
            raise ProblemError(404, "Not found", "No such thing.")
        if name == "broken":
            raise RuntimeError("broken at 1000000043")
        if name == "unstorable":
            raise asyncpg.CharacterNotInRepertoireError('invalid byte sequence for encoding "UTF8": 0x00')
        return {"name": name}

    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://logged")


async def test_answers_name_the_request_and_the_environment_and_each_request_is_logged() -> None:
    async with _app() as client:
        with structlog.testing.capture_logs() as logs:
            found = await client.get("/things/a", headers={"x-request-id": "req-1"})
            missing = await client.get("/things/missing")
            unrouted = await client.get("/nowhere")
            broken = await client.get("/things/broken")

    assert [found.status_code, missing.status_code, unrouted.status_code, broken.status_code] == [200, 404, 404, 500]
    assert found.headers["x-request-id"] == "req-1"
    for answer in (found, missing, unrouted):
        assert answer.headers[ENVIRONMENT_HEADER] == "sandpit"
    assert len(missing.headers["x-request-id"]) == 32
    assert [(entry["route"], entry["status"]) for entry in logs if entry["event"] == "http_request"] == [
        ("/things/{name}", 200),
        ("/things/{name}", 404),
        ("unmatched", 404),
        ("/things/{name}", 500),
    ]


@pytest.mark.parametrize("sent", ["x" * 129, "req 1", 'req-1"}', ""])
async def test_a_request_id_a_log_line_cannot_hold_as_it_is_is_replaced(sent: str) -> None:
    async with _app() as client:
        answer = await client.get("/things/a", headers={"x-request-id": sent})

    assert answer.headers["x-request-id"] != sent and len(answer.headers["x-request-id"]) == 32


async def test_operations_routes_are_not_logged() -> None:
    async with _app() as client:
        with structlog.testing.capture_logs() as logs:
            await client.get("/healthz")

    assert [entry for entry in logs if entry["event"] == "http_request"] == []


async def test_an_unexpected_failure_is_a_problem_naming_neither_its_message_nor_a_value() -> None:
    async with _app() as client:
        with structlog.testing.capture_logs() as logs:
            broken = await client.get("/things/broken")

    assert broken.status_code == 500
    assert broken.headers["content-type"] == "application/problem+json"
    assert broken.json() == {
        "type": "/problems/INTERNAL_ERROR",
        "title": "Internal error",
        "code": "INTERNAL_ERROR",
        "status": 500,
        "instance": "/things/broken",
    }
    assert broken.headers[ENVIRONMENT_HEADER] == "sandpit"
    [failed] = [entry for entry in logs if entry["event"] == "request_failed"]
    assert failed["error"] == "RuntimeError"
    assert failed["at"].endswith(" thing")
    assert "1000000043" not in str(logs)


async def test_a_value_postgresql_refuses_is_the_callers_and_a_422_problem() -> None:
    async with _app() as client:
        with structlog.testing.capture_logs() as logs:
            refused = await client.get("/things/unstorable")

    assert [entry["route"] for entry in logs if entry["event"] == "request_value_unstorable"] == ["/things/{name}"]
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert "cannot be stored" in refused.json()["detail"]


async def test_an_app_may_answer_an_unexpected_failure_its_own_way() -> None:
    async def page(request: Request) -> Response:
        return HTMLResponse("<h1>Sorry</h1>", status_code=500)

    async with _app(page) as client:
        broken = await client.get("/things/broken")

    assert (broken.status_code, broken.text) == (500, "<h1>Sorry</h1>")
    assert broken.headers[ENVIRONMENT_HEADER] == "sandpit"


async def test_a_requests_time_ends_with_its_answer_not_with_the_work_left_after_it() -> None:
    """Work a route leaves for after its answer (a portal's forgotten-password email) is not the request's:
    it would show in the latency metrics (a Prometheus histogram per route) what the answer hides."""
    app = build_app("logged", title="Logged", description="", lifespan=noop_lifespan, environment=Environment.SANDPIT)

    async def slow_work() -> None:
        await asyncio.sleep(0.3)

    @app.post("/answered-first")
    async def answered_first() -> Response:
        return Response(status_code=303, headers={"location": "/"}, background=BackgroundTask(slow_work))

    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://logged") as client:
        with structlog.testing.capture_logs() as logs:
            answer = await client.post("/answered-first")

    [logged] = [entry for entry in logs if entry["event"] == "http_request"]
    assert answer.status_code == 303 and logged["ms"] < 250
