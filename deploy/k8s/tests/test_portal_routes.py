"""What reaches the portal from outside (decisions 0119, 0124): every page of the portal app, and its
stylesheets and scripts, through exactly one path of the portal's host; nothing of the operators' account
API (`/v1/admin/...`, behind `lrs users`) nor of what every service carries (metrics, readiness and
liveness, the API documentation and problem pages). The pages are read from the app itself, so a page
added to the portal fails here until the Ingress routes it. Paths are matched as Kubernetes defines
`Exact` and `Prefix` (ingress-nginx follows it on a host with no `use-regex`)."""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from deploy.k8s.tests.kube import OVERLAYS, Doc, of_kind, render
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from lrs_platform.http import build_app
from portal.bootstrap import create_app

INGRESS = "lrs"
SERVICE = "portal"
OPERATOR_API = "/v1/admin/"
# Never routed, whatever the app or the platform become: named here so that a change in how the app's
# routes are read cannot quietly let one through.
NEVER_ROUTED = (
    "/metrics",
    "/readyz",
    "/healthz",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/problems",
    "/v1/admin/users",
    "/v1/admin/users/changes",
)


@asynccontextmanager
async def _no_lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield


@functools.cache
def _platform_paths() -> frozenset[str]:
    """What `lrs_platform` gives every service (health, readiness, metrics, documentation, problem pages):
    read from a bare platform app, so a route the platform adds is kept from the door too."""
    bare = build_app("probe", title="probe", description="", lifespan=_no_lifespan)
    return frozenset(str(route.path) for route in iter_route_contexts(bare.routes))


@functools.cache
def _app_routes() -> tuple[tuple[str, str, Any], ...]:
    """(method, path, route) of every route of the portal app; a Mount's method is "GET"."""
    found = []
    for route in iter_route_contexts(create_app().routes):
        is_mount = isinstance(route.original_route, Mount)
        methods = ["GET"] if is_mount else sorted((route.methods or set()) - {"HEAD"})
        found += [(method, str(route.path), route) for method in methods]
    return tuple(found)


def _is_infrastructure(path: str) -> bool:
    return path in _platform_paths()


def _is_operator_api(path: str) -> bool:
    return path.startswith(OPERATOR_API)


def _example(path: str) -> str:
    return re.sub(r"\{\w+\}", "x1", path)


@functools.cache
def _pages() -> tuple[tuple[str, str], ...]:
    """(method, example URL path) of every page and static file: each route the app serves a person."""
    pages: list[tuple[str, str]] = []
    for method, path, route in _app_routes():
        if _is_infrastructure(path) or _is_operator_api(path):
            continue
        if isinstance(route.original_route, Mount):
            static = route.original_route.app
            assert isinstance(static, StaticFiles) and static.directory is not None, f"{path} serves no directory"
            directory = Path(static.directory)
            files = sorted(file.relative_to(directory).as_posix() for file in directory.rglob("*") if file.is_file())
            pages += [(method, f"{path}/{file}") for file in files]
        else:
            pages.append((method, _example(path)))
    return tuple(pages)


def _not_routed() -> list[str]:
    app = [_example(path) for _, path, _ in _app_routes() if _is_infrastructure(path) or _is_operator_api(path)]
    return sorted({*NEVER_ROUTED, *app, *(_example(path) for path in _platform_paths())})


def _portal_ingress(overlay: str) -> Doc:
    [ingress] = [doc for doc in of_kind(render(f"overlays/{overlay}"), "Ingress") if doc["metadata"]["name"] == INGRESS]
    return ingress


def _portal_paths(ingress: Doc) -> list[Doc]:
    [rule] = ingress["spec"]["rules"]
    paths: list[Doc] = rule["http"]["paths"]
    return paths


def _matches(path: Doc, url_path: str) -> bool:
    """Kubernetes' matching: `Exact` is the whole path; `Prefix` matches element by element (`/ops`
    matches `/ops` and `/ops/...`, not `/opsx`; `/` matches everything)."""
    if path["pathType"] == "Exact":
        return bool(url_path == path["path"])
    prefix = str(path["path"]).rstrip("/")
    return prefix == "" or url_path == prefix or url_path.startswith(f"{prefix}/")


def _matching(ingress: Doc, url_path: str) -> list[str]:
    return [f"{path['pathType']} {path['path']}" for path in _portal_paths(ingress) if _matches(path, url_path)]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_portal_host_is_matched_by_exact_and_prefix_paths_to_the_portal_only(overlay: str) -> None:
    """With `use-regex` on any Ingress of a host, ingress-nginx reads each of the host's paths as a
    regular expression (and `/` would match everything): the portal's host is in this Ingress alone,
    which has none."""
    ingress = _portal_ingress(overlay)
    annotations = ingress["metadata"].get("annotations", {})
    assert annotations.get("nginx.ingress.kubernetes.io/use-regex", "false") == "false"
    [rule] = ingress["spec"]["rules"]
    others = [
        doc["metadata"]["name"]
        for doc in of_kind(render(f"overlays/{overlay}"), "Ingress")
        if doc["metadata"]["name"] != INGRESS and rule["host"] in {other.get("host") for other in doc["spec"]["rules"]}
    ]
    assert others == [], f"{rule['host']} is in other Ingresses too: {others}"
    for path in _portal_paths(ingress):
        assert path["pathType"] in {"Exact", "Prefix"}, path
        assert path["backend"] == {"service": {"name": SERVICE, "port": {"name": "http"}}}, path


def test_the_app_is_read_as_pages_operators_api_and_infrastructure() -> None:
    """A guard on the reading itself: should the app's routes stop being found, every test below would
    pass on nothing."""
    pages = set(_pages())
    assert {("GET", "/"), ("GET", "/sign-in"), ("POST", "/sign-in"), ("GET", "/sandpit")} <= pages
    assert ("GET", "/ops") in pages
    assert any(path.startswith("/static/") for _, path in pages)
    assert {"/metrics", "/readyz", "/healthz", "/docs", "/openapi.json"} <= _platform_paths()
    assert any(_is_operator_api(path) for _, path, _ in _app_routes())
    assert not any(path.startswith("/v1/") for _, path in pages), "an API route is read as a page"


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize(("method", "url_path"), _pages(), ids=[f"{method} {path}" for method, path in _pages()])
def test_every_page_of_the_portal_is_routed_through_one_path(overlay: str, method: str, url_path: str) -> None:
    found = _matching(_portal_ingress(overlay), url_path)
    assert len(found) == 1, f"{method} {url_path} is routed by {found or 'no path'}: route it in base/ingress.yaml"


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("url_path", _not_routed())
def test_no_operator_api_and_nothing_of_the_platform_is_routed_to_the_portal(overlay: str, url_path: str) -> None:
    assert _matching(_portal_ingress(overlay), url_path) == [], f"the portal's host routes {url_path}"
