"""Every operator's route tells a caller without the right 403 before it looks at what was sent: a bad
query or path parameter is not described to an awarding organisation's key (decision 0032)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

import ingest.maintenance_api
import lrs_platform.parking_api
import plr_projector.api
import portal.web.admin_api
import validation.api
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal

ROUTERS: dict[str, list[APIRouter]] = {
    "dead letters": [lrs_platform.parking_api.router],
    "ingest": [ingest.maintenance_api.router],
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


def _app(router: APIRouter) -> FastAPI:
    app = build_app("operator-routes", title="t", description="", lifespan=noop_lifespan)
    app.include_router(router)
    # nothing behind the check is set up: a request past it fails on the state it would read
    app.dependency_overrides[current_principal] = lambda: Principal.parse("ao:RN5133")
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
