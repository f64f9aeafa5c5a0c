"""In the Sandpit, every route about the registry it shares with live asks a caller without a key for one (401)
before it says the registry is read on, or changed on, the live service (403 SANDPIT_READ_ONLY): decision 0032's
order, as the notifier's `live_only` keeps it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from lrs_contracts.environments import Environment
from lrs_platform.authentication import current_principal
from lrs_platform.environment import refuse_in_sandpit
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from validation.api import router


def _refused_in_sandpit(dependant: Dependant) -> bool:
    return any(each.call is refuse_in_sandpit or _refused_in_sandpit(each) for each in dependant.dependencies)


def _sandpit_routes() -> Iterator[Any]:
    for route in router.routes:
        if isinstance(route, APIRoute) and _refused_in_sandpit(route.dependant):
            for method in sorted(route.methods or ()):
                path = re.sub(r"\{[^}]+\}", "1000000043", route.path)
                yield pytest.param(method, path, id=f"{method} {route.path}")


def _sandpit(principal: str | None) -> FastAPI:
    app = build_app("validation", title="t", description="", lifespan=noop_lifespan, environment=Environment.SANDPIT)
    app.include_router(router)
    # nothing behind the refusal is set up: a request past it fails on the state it would read
    if principal is not None:
        app.dependency_overrides[current_principal] = lambda: Principal.parse(principal)
    return app


async def _answer(principal: str | None, method: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_sandpit(principal)), base_url="http://v") as client:
        return await client.request(method, path)


def test_the_erasure_preview_sharing_reads_and_learner_import_are_among_them() -> None:
    assert {
        ("GET", "/v1/admin/learners/1000000043/erasure"),
        ("GET", "/v1/learners/1000000043/sharing"),
        ("POST", "/v1/learners/import"),
    } <= {tuple(param.values) for param in _sandpit_routes()}


@pytest.mark.parametrize(("method", "path"), list(_sandpit_routes()))
async def test_a_caller_without_a_key_is_asked_for_one(method: str, path: str) -> None:
    answer = await _answer(None, method, path)
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"] == 'Bearer realm="lrs"'


@pytest.mark.parametrize(("method", "path"), list(_sandpit_routes()))
async def test_an_operator_is_told_the_sandpit_reads_or_changes_the_registry_on_live(method: str, path: str) -> None:
    answer = await _answer("operator:ops", method, path)
    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "SANDPIT_READ_ONLY"
