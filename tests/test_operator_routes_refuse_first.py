"""Every operator's route tells a caller without the right 403 before it looks at what was sent: a bad
query or path parameter is not described to an awarding organisation's key (decision 0032). So does every write
route open to one kind of caller: a caller of another kind is not told what is wrong with its body."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

import challenges.api
import ingest.maintenance_api
import ingest.sandpit_api
import lrs_platform.parking_api
import notifier.api
import plr_projector.api
import plr_projector.centre_routes
import plr_projector.endpoints
import portal.web.admin_api
import validation.api
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from portal.bootstrap import create_app as create_portal_app
from portal.config import PortalSettings

ROUTERS: dict[str, list[APIRouter]] = {
    "dead letters": [lrs_platform.parking_api.router],
    "ingest": [ingest.maintenance_api.router, ingest.sandpit_api.router],
    "notifier": [notifier.api.held_router, notifier.api.deliveries_router],
    "plr-projector": [plr_projector.api.admin_router, plr_projector.api.credential_router],
    "portal": [portal.web.admin_api.router],
    "validation": [validation.api.router],
}


def _operator_only(dependant: Dependant) -> bool:
    return any(
        getattr(each.call, "__qualname__", "") == "operator_caller.<locals>.operator" or _operator_only(each)
        for each in dependant.dependencies
    )


def _operator_routes() -> Iterator[Any]:
    for service, routers in ROUTERS.items():
        for router in routers:
            for route in router.routes:
                if isinstance(route, APIRoute) and _operator_only(route.dependant):
                    for method in sorted(route.methods or ()):
                        yield pytest.param(service, router, route, method, id=f"{service} {method} {route.path}")


def _app(router: APIRouter, caller: str = "ao:RN5133") -> FastAPI:
    if router is portal.web.admin_api.router:
        # the portal's own app (not started): it answers errors with handlers of its own (`portal.web.errors`)
        app = create_portal_app(PortalSettings())
    else:
        app = build_app("operator-routes", title="t", description="", lifespan=noop_lifespan)
        app.include_router(router)
    # nothing behind the check is set up: a request past it fails on the state it would read
    app.dependency_overrides[current_principal] = lambda: Principal.parse(caller)
    return app


def test_every_service_has_operator_routes_here() -> None:
    services = {param.values[0] for param in _operator_routes()}
    assert services == set(ROUTERS)


@pytest.mark.parametrize(("service", "router", "route", "method"), list(_operator_routes()))
async def test_an_ao_key_gets_403_whatever_the_parameters_say(
    service: str, router: APIRouter, route: APIRoute, method: str
) -> None:
    path = re.sub(r"\{[^}]+\}", "not%00valid", route.path)
    garbage = {param.alias: "\x00" for param in route.dependant.query_params}
    transport = httpx.ASGITransport(app=_app(router))
    async with httpx.AsyncClient(transport=transport, base_url="http://lrs") as client:
        answer = await client.request(method, path, params=garbage)
    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "FORBIDDEN"


@pytest.mark.parametrize(("service", "router", "route", "method"), list(_operator_routes()))
async def test_an_ao_key_gets_403_before_a_body_that_is_not_json_is_described(
    service: str, router: APIRouter, route: APIRoute, method: str
) -> None:
    """FastAPI reads a JSON body before it solves the route's dependencies: the refusal still comes first."""
    path = re.sub(r"\{[^}]+\}", "1", route.path)
    transport = httpx.ASGITransport(app=_app(router))
    async with httpx.AsyncClient(transport=transport, base_url="http://lrs") as client:
        answer = await client.request(method, path, content=b"{", headers={"content-type": "application/json"})
    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "FORBIDDEN"


# The write routes open to one kind of caller (and, for some, operators), with a caller of each other kind.
CHALLENGE = "/v1/challenges/5d3f1a2b-0c4e-4f6a-9b8c-7d6e5f4a3b2c"
ONE_KIND_ROUTES = [
    pytest.param(router, method, path, caller, id=f"{caller.partition(':')[0]} {method} {path}")
    for router, method, path, callers in (
        (challenges.api.router, "POST", "/v1/challenges", ("ao:RN5133", "provider:10004567", "operator:ops")),
        (challenges.api.router, "POST", f"{CHALLENGE}/resolve", ("learner:1000000043", "provider:10004567")),
        (challenges.api.router, "POST", f"{CHALLENGE}/acknowledge", ("learner:1000000043", "provider:10004567")),
        # the learner who raised it withdraws it (or an operator for them): the AO resolves it instead (decision 0194)
        (challenges.api.router, "POST", f"{CHALLENGE}/withdraw", ("ao:RN5133", "provider:10004567")),
        (
            plr_projector.centre_routes.centre_router,
            "POST",
            "/v1/centre/achievements",
            ("learner:1000000043", "ao:RN5133", "operator:ops"),
        ),
        # an AO resets its own Sandpit, an operator any AO's
        (ingest.sandpit_api.router, "POST", "/v1/sandpit/reset", ("learner:1000000043", "provider:10004567")),
    )
    for caller in callers
]


@pytest.mark.parametrize(("router", "method", "path", "caller"), ONE_KIND_ROUTES)
@pytest.mark.parametrize(
    "body",
    [b"{}", b'{"uln": "1000000043", "resolution": 7, "achievement_id": "x"}', b"{", b"[]"],
    ids=["empty", "wrong", "not json", "not an object"],
)
async def test_a_caller_of_another_kind_gets_403_before_its_body_is_described(
    router: APIRouter, method: str, path: str, caller: str, body: bytes
) -> None:
    transport = httpx.ASGITransport(app=_app(router, caller))
    async with httpx.AsyncClient(transport=transport, base_url="http://lrs") as client:
        answer = await client.request(method, path, content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("router", "method", "path", "caller"),
    [
        pytest.param(challenges.api.router, "POST", "/v1/challenges/not-a-uuid/resolve", "learner:1000000043"),
        pytest.param(challenges.api.router, "POST", "/v1/challenges/not-a-uuid/acknowledge", "provider:10004567"),
        pytest.param(challenges.api.router, "POST", "/v1/challenges/not-a-uuid/withdraw", "ao:RN5133"),
        pytest.param(
            challenges.api.router, "GET", "/v1/challenges/not-a-uuid/correcting-batches", "learner:1000000043"
        ),
        pytest.param(challenges.api.router, "GET", "/v1/challenges/not-a-uuid/correcting-batches", "provider:10004567"),
        # a Sandpit reset is followed only by AOs and operators: another caller is refused, not told "no such reset"
        pytest.param(ingest.sandpit_api.router, "GET", "/v1/sandpit/resets/not-a-uuid", "learner:1000000043"),
        pytest.param(ingest.sandpit_api.router, "GET", f"/v1/sandpit/resets/{CHALLENGE[-36:]}", "learner:1000000043"),
        pytest.param(ingest.sandpit_api.router, "GET", f"/v1/sandpit/resets/{CHALLENGE[-36:]}", "provider:10004567"),
    ],
)
async def test_a_caller_of_another_kind_gets_403_before_the_id_in_the_path_is_described(
    router: APIRouter, method: str, path: str, caller: str
) -> None:
    transport = httpx.ASGITransport(app=_app(router, caller))
    async with httpx.AsyncClient(transport=transport, base_url="http://lrs") as client:
        answer = await client.request(method, path, json={})
    assert answer.status_code == 403, answer.text


@pytest.mark.parametrize(
    ("router", "method", "path", "caller"),
    [
        pytest.param(challenges.api.router, "POST", "/v1/challenges", "learner:1000000043", id="raise"),
        pytest.param(challenges.api.router, "POST", f"{CHALLENGE}/resolve", "ao:RN5133", id="resolve"),
        pytest.param(
            plr_projector.centre_routes.centre_router,
            "POST",
            "/v1/centre/achievements",
            "provider:10004567",
            id="centre",
        ),
    ],
)
async def test_the_caller_of_the_right_kind_is_told_what_is_wrong_with_its_body(
    router: APIRouter, method: str, path: str, caller: str
) -> None:
    app = _app(router, caller)
    app.dependency_overrides[plr_projector.endpoints.projector_of] = lambda: None  # nothing is read: the body is wrong
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lrs") as client:
        answer = await client.request(method, path, json={})
    assert answer.status_code == 422, answer.text


@pytest.mark.parametrize("caller", ["ao:RN5133", "learner:1000000043", "provider:10004567"])
async def test_the_notifiers_failed_deliveries_refuse_a_caller_of_another_kind_before_its_limit_is_described(
    caller: str,
) -> None:
    transport = httpx.ASGITransport(app=_app(notifier.api.deliveries_router, caller))
    async with httpx.AsyncClient(transport=transport, base_url="http://lrs") as client:
        answer = await client.get("/v1/deliveries/failed", params={"limit": "bogus"})
    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "FORBIDDEN"
