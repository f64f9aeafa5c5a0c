"""The routes open to awarding organisations and operators (the MI reports, the batches, the AO's view of a
learner's achievements), those open to another kind of caller with operators (a learner's PLR credential) and a
challenge, which every caller but a provider reads, tell a caller of another kind 403 before they look at what it
sent: a bad query or path parameter is not described to a learner's or a provider's key (decision 0032), as
`test_operator_routes_refuse_first` holds the operators' routes to. A caller who may use the route is still told
what is wrong with its parameters (422)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

import challenges.api
import ingest.api
import ingest.maintenance_api
import plr_projector.api
import plr_projector.credential_routes
import plr_projector.endpoints
import reporting.api
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal

LEARNER = "learner:1000000043"
PROVIDER = "provider:10004567"
AO = "ao:RN5133"
OPERATOR = "operator:ops"

BAD_MONTHS = {"period": "bogus", "from": "2026-13", "to": "x", "ao_id": "not an AO", "format": "xml"}
BAD_PAGE = {"page": "bogus", "page_size": "0", "status": "bogus", "limit": "bogus"}

# router, method, path, query parameters (each wrong), the callers refused with their 403's detail
ROUTES: list[tuple[APIRouter, str, str, dict[str, str], dict[str, str]]] = [
    *(
        (
            reporting.api.router,
            "GET",
            f"/v1/reports/{report}",
            BAD_MONTHS,
            {
                LEARNER: "This operation is not open to learner callers.",
                PROVIDER: "This operation is not open to provider callers.",
            },
        )
        for report in ("submissions", "timeliness", "plr-timeliness", "rejections", "challenges")
    ),
    *(
        (
            ingest.api.router,
            "GET",
            path,
            {**BAD_PAGE, "after": "x" * 201, "ao_id": "not an AO", "wait_until_decided": "bogus"},
            {
                LEARNER: "Batches are not open to learner callers.",
                PROVIDER: "Batches are not open to provider callers.",
            },
        )
        for path in (
            "/v1/batches",
            "/v1/batches/not-a-batch-id",
            "/v1/batches/not-a-batch-id/records",
            "/v1/batches/not-a-batch-id/records.csv",
        )
    ),
    (
        ingest.api.router,
        "POST",
        "/v1/batches",
        {"format": "bogus"},
        {
            LEARNER: "Learner callers cannot submit achievement batches.",
            PROVIDER: "Provider callers cannot submit achievement batches.",
        },
    ),
    *(
        (
            plr_projector.api.plr_router,
            "GET",
            "/v1/ao/achievements",
            query,
            {
                LEARNER: "Only awarding organisations (or operators naming one) may use this view.",
                PROVIDER: "Only awarding organisations (or operators naming one) may use this view.",
            },
        )
        # without the ULN it needs, and with one of each parameter wrong
        for query in (
            {"wait_ms": "bogus"},
            {"uln": "bogus", "ao_id": "not an AO", "after_batch": "bogus", "include_history": "bogus"},
        )
    ),
    (
        challenges.api.router,
        "GET",
        "/v1/challenges/not-a-challenge-id",
        {},
        {PROVIDER: "Challenges are open to learners, awarding organisations and operators: a provider reads none."},
    ),
    (
        plr_projector.api.credential_router,
        "GET",
        "/v1/learners/bogus/plr/credential",
        {"include_unsuccessful": "bogus"},
        {
            AO: "Only the learner, or an operator, may export a PLR as a verifiable credential.",
            PROVIDER: "Only the learner, or an operator, may export a PLR as a verifiable credential.",
        },
    ),
]

REFUSED = [
    pytest.param(router, method, path, query, caller, detail, id=f"{caller.partition(':')[0]} {method} {path} {i}")
    for i, (router, method, path, query, callers) in enumerate(ROUTES)
    for caller, detail in callers.items()
]


def _app(router: APIRouter, caller: str) -> FastAPI:
    app = build_app("ao-routes", title="t", description="", lifespan=noop_lifespan)
    if router is ingest.api.router:
        ingest.api.install(app)  # with the handlers that answer its own refusals
    else:
        app.include_router(router)
    # nothing behind the check is set up: a request past it fails on the state it would read
    app.dependency_overrides[current_principal] = lambda: Principal.parse(caller)
    return app


async def _ask(app: FastAPI, method: str, path: str, query: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lrs") as client:
        return await client.request(method, path, params=query)


@pytest.mark.parametrize(("router", "method", "path", "query", "caller", "detail"), REFUSED)
async def test_a_caller_of_another_kind_gets_403_before_its_parameters_are_described(
    router: APIRouter, method: str, path: str, query: dict[str, str], caller: str, detail: str
) -> None:
    answer = await _ask(_app(router, caller), method, path, query)
    assert answer.status_code == 403, answer.text
    problem: dict[str, Any] = answer.json()
    assert (problem["title"], problem["detail"], problem["code"]) == ("Forbidden", detail, "FORBIDDEN")


@pytest.mark.parametrize(
    ("router", "path", "query", "caller"),
    [
        pytest.param(reporting.api.router, "/v1/reports/submissions", {"period": "bogus"}, AO, id="AO report"),
        pytest.param(
            reporting.api.router, "/v1/reports/rejections", {"from": "2026-13"}, OPERATOR, id="operator report"
        ),
        pytest.param(ingest.api.router, "/v1/batches", {"page_size": "bogus"}, AO, id="AO batches"),
        pytest.param(ingest.api.router, "/v1/batches/not-a-batch-id", {}, OPERATOR, id="operator batch"),
        pytest.param(plr_projector.api.plr_router, "/v1/ao/achievements", {"uln": "bogus"}, AO, id="AO view"),
        pytest.param(challenges.api.router, "/v1/challenges/not-a-challenge-id", {}, LEARNER, id="learner challenge"),
        pytest.param(
            plr_projector.api.credential_router,
            "/v1/learners/1000000043/plr/credential",
            {"include_unsuccessful": "bogus"},
            LEARNER,
            id="learner credential",
        ),
    ],
)
async def test_a_caller_who_may_use_the_route_is_told_what_is_wrong_with_its_parameters(
    router: APIRouter, path: str, query: dict[str, str], caller: str
) -> None:
    app = _app(router, caller)
    # what the routes read once the caller is let in, never reached: the parameters are wrong
    for reads_state in (
        ingest.api._repository,
        ingest.api._signal,
        ingest.api._settings,
        ingest.maintenance_api._store,
        plr_projector.endpoints.projector_of,
        plr_projector.credential_routes.credential_signing_of,
    ):
        app.dependency_overrides[reads_state] = lambda: None
    answer = await _ask(app, "GET", path, query)
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == ("RV001" if "uln" in query else "INVALID_REQUEST")  # a badly formed ULN: RV001
