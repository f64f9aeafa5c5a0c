"""What reaches the portal from outside (decisions 0119, 0124): every page of the portal app, and its
stylesheets and scripts, through exactly one path of the portal's host; nothing of the operators' account
API (`/v1/admin/...`, behind `lrs users`) nor of what every service carries (metrics, readiness and
liveness, the API documentation and problem pages). The pages are read from the app itself, so a page
added to the portal fails here until the Ingress routes it. Paths are matched as Kubernetes defines
`Exact` and `Prefix` (ingress-nginx follows it on a host with no `use-regex`).

The portal's host is served by two Ingresses, `lrs` and `lrs-password-links`, whose paths never overlap: a page
whose path carries a secret (a password-setting link's token, decisions 0128 and 0129) is served only by the
second, which keeps no access log (ingress-nginx's default one keeps the request line, token and all); every
other page only by the first, which keeps it."""

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
from portal.reset_links import RESET_PATH

INGRESS = "lrs"
# the portal's paths that carry a secret: ingress-nginx keeps no access log of them
UNLOGGED_INGRESS = "lrs-password-links"
ACCESS_LOG = "nginx.ingress.kubernetes.io/enable-access-log"
CERT_ISSUER = "cert-manager.io/cluster-issuer"
# A path parameter so named holds a secret (a bearer token: whoever has the URL can use it).
SECRET_PARAMETER = re.compile(r"token|secret|nonce|signature|password", re.IGNORECASE)
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


def _secret_parameters(path: str) -> list[str]:
    return [name for name in re.findall(r"\{(\w+)(?::\w+)?\}", path) if SECRET_PARAMETER.search(name)]


@functools.cache
def _secret_pages() -> tuple[tuple[str, str], ...]:
    """(method, example URL path) of every page whose path carries a secret, read from the app's routes."""
    return tuple(
        (method, _example(path))
        for method, path, _ in _app_routes()
        if _secret_parameters(path) and not _is_infrastructure(path) and not _is_operator_api(path)
    )


def _portal_ingress(overlay: str) -> Doc:
    [ingress] = [doc for doc in of_kind(render(f"overlays/{overlay}"), "Ingress") if doc["metadata"]["name"] == INGRESS]
    return ingress


def _portal_host(overlay: str) -> str:
    [rule] = _portal_ingress(overlay)["spec"]["rules"]
    host: str = rule["host"]
    return host


def _portal_ingresses(overlay: str) -> list[Doc]:
    """Every Ingress with a rule for the portal's host (ingress-nginx merges them into one server)."""
    host = _portal_host(overlay)
    return [
        doc
        for doc in of_kind(render(f"overlays/{overlay}"), "Ingress")
        if host in {rule.get("host") for rule in doc["spec"]["rules"]}
    ]


def _portal_paths(ingress: Doc) -> list[Doc]:
    [rule] = ingress["spec"]["rules"]
    paths: list[Doc] = rule["http"]["paths"]
    return paths


def _logs_access(ingress: Doc) -> bool:
    """ingress-nginx's access log is on unless the Ingress turns it off (the controller's default is on)."""
    return str(ingress["metadata"].get("annotations", {}).get(ACCESS_LOG, "true")).lower() != "false"


def _matches(path: Doc, url_path: str) -> bool:
    """Kubernetes' matching: `Exact` is the whole path; `Prefix` matches element by element (`/ops`
    matches `/ops` and `/ops/...`, not `/opsx`; `/` matches everything)."""
    if path["pathType"] == "Exact":
        return bool(url_path == path["path"])
    prefix = str(path["path"]).rstrip("/")
    return prefix == "" or url_path == prefix or url_path.startswith(f"{prefix}/")


def _serving(overlay: str, url_path: str) -> list[tuple[Doc, str]]:
    """(Ingress, "pathType path") of every path of the portal's host that matches `url_path`."""
    return [
        (ingress, f"{path['pathType']} {path['path']}")
        for ingress in _portal_ingresses(overlay)
        for path in _portal_paths(ingress)
        if _matches(path, url_path)
    ]


def _matching(overlay: str, url_path: str) -> list[str]:
    return [f"{ingress['metadata']['name']}: {path}" for ingress, path in _serving(overlay, url_path)]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_portal_host_is_matched_by_exact_and_prefix_paths_to_the_portal_only(overlay: str) -> None:
    """With `use-regex` on any Ingress of a host, ingress-nginx reads each of the host's paths as a
    regular expression (and `/` would match everything): the portal's host is in the portal's two Ingresses
    alone, which have none. Both serve it alike (its one host, TLS, redirects, body size) but for the access
    log; only `lrs` asks cert-manager for the certificate, as two Ingresses asking for one Secret would
    contend for its Certificate."""
    ingresses = {ingress["metadata"]["name"]: ingress for ingress in _portal_ingresses(overlay)}
    assert set(ingresses) == {INGRESS, UNLOGGED_INGRESS}, f"{_portal_host(overlay)} is in {sorted(ingresses)}"
    portal, unlogged = ingresses[INGRESS], ingresses[UNLOGGED_INGRESS]
    assert unlogged["spec"]["tls"] == portal["spec"]["tls"]
    assert unlogged["spec"]["ingressClassName"] == portal["spec"]["ingressClassName"]
    annotations = portal["metadata"].get("annotations", {})
    assert CERT_ISSUER in annotations
    assert unlogged["metadata"]["annotations"] == {
        **{name: value for name, value in annotations.items() if name != CERT_ISSUER},
        ACCESS_LOG: "false",
    }
    for ingress in ingresses.values():
        annotations = ingress["metadata"].get("annotations", {})
        assert annotations.get("nginx.ingress.kubernetes.io/use-regex", "false") == "false"
        [rule] = ingress["spec"]["rules"]
        assert rule["host"] == _portal_host(overlay)
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
    # and the pages whose path holds a secret are found: the password-setting link the emails carry among them
    assert set(_secret_pages()) <= pages
    assert {("GET", f"{RESET_PATH}x1"), ("POST", f"{RESET_PATH}x1")} <= set(_secret_pages())
    assert ("GET", "/account/password") not in _secret_pages()


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize(("method", "url_path"), _pages(), ids=[f"{method} {path}" for method, path in _pages()])
def test_every_page_of_the_portal_is_routed_through_one_path(overlay: str, method: str, url_path: str) -> None:
    found = _matching(overlay, url_path)
    assert len(found) == 1, f"{method} {url_path} is routed by {found or 'no path'}: route it in base/ingress.yaml"


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("url_path", sorted({path for _, path in _secret_pages()}))
def test_a_page_whose_path_holds_a_secret_is_served_only_where_no_access_log_keeps_it(
    overlay: str, url_path: str
) -> None:
    """ingress-nginx's default access log keeps the request line: a password-setting link's token, which a mail
    scanner's first GET does not use up, would stay usable there for up to 72 hours (decision 0129)."""
    found = _serving(overlay, url_path)
    assert found, f"{url_path} is not routed"
    logged = [f"{ingress['metadata']['name']}: {path}" for ingress, path in found if _logs_access(ingress)]
    assert logged == [], f"{url_path} holds a secret, yet an access log keeps it: {logged}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_other_page_keeps_the_access_log(overlay: str) -> None:
    """Only the paths that hold a secret go unlogged: the rest of the portal stays in ingress-nginx's log."""
    secret = {path for _, path in _secret_pages()}
    unlogged = sorted(
        {
            f"{url_path} ({ingress['metadata']['name']}: {path})"
            for _, url_path in _pages()
            if url_path not in secret
            for ingress, path in _serving(overlay, url_path)
            if not _logs_access(ingress)
        }
    )
    assert unlogged == []


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("url_path", _not_routed())
def test_no_operator_api_and_nothing_of_the_platform_is_routed_to_the_portal(overlay: str, url_path: str) -> None:
    assert _matching(overlay, url_path) == [], f"the portal's host routes {url_path}"
