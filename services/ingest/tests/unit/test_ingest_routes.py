"""Ingest's requests never wait for a worker thread before their handler: a plain `def` dependency or
handler runs in Starlette's thread pool, one hop per request and dependency, taken while a batch is
parsed and sealed in other threads (decision 0088)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from ingest import api, maintenance_api, sandpit_api
from lrs_platform import parking_api


def _calls(dependant: Dependant) -> Iterator[str]:
    """The functions FastAPI calls for a request to run in a worker thread."""
    for sub in dependant.dependencies:
        yield from _calls(sub)
    if dependant.call is not None and not inspect.iscoroutinefunction(dependant.call):
        yield getattr(dependant.call, "__qualname__", repr(dependant.call))


def test_every_route_and_dependency_of_ingest_runs_on_the_event_loop() -> None:
    routers = (api.router, maintenance_api.router, sandpit_api.router, parking_api.router)
    routes = [route for router in routers for route in router.routes if isinstance(route, APIRoute)]

    in_threads = {f"{route.path} {sorted(route.methods or ())}": list(_calls(route.dependant)) for route in routes}

    assert routes
    assert {route: calls for route, calls in in_threads.items() if calls} == {}
