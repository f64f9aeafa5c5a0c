"""What reaches the services from outside (decision 0119): every public route of every API, as its
OpenAPI document names it, is routed by the Ingress to a service that serves it, through exactly one
path; no operator route, and nothing of /metrics or /readyz, is routed at all. Paths are matched as
ingress-nginx matches them with `use-regex`: a regular expression anchored at the path's start,
ignoring case. A problem's `type` page (/problems/<code>, relative to the host that answered) is routed on both API
hosts to ingest, which serves every code's page, as every service does."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from deploy.k8s.tests.kube import OVERLAYS, ROOT, Doc, env_of, of_kind, render

from lrs_contracts.codes import CODE_EXPLANATIONS, PROBLEM_CODE_EXPLANATIONS
from lrs_platform.problems import PROBLEM_PAGES, problem_type

OPENAPI = ROOT / "docs" / "openapi"
LIVE_APIS = ("ingest", "plr-projector", "validation", "challenges", "notifier", "reporting")
SANDPIT_APIS = ("ingest-sandpit", "plr-projector")
# The document of each Service the Ingress may name.
DOCUMENT_OF_SERVICE = {
    "ingest": "ingest",
    "plr-reader": "plr-projector",
    "validation": "validation",
    "challenges": "challenges",
    "notifier": "notifier",
    "reporting": "reporting",
    "sandpit-ingest": "ingest-sandpit",
    "sandpit-plr-reader": "plr-projector",
}
OPERATIONS = ("/healthz", "/readyz", "/metrics")
# What the Sandpit serves outside: batches and their resets, and the PLR a batch builds there. It
# registers no learners (they come from live) and keeps no challenges, contacts or reports.
SANDPIT_READS = ("/v1/learners/{uln}/plr", "/v1/learners/{uln}/plr/credential", "/v1/ao/achievements")
EXAMPLES = {
    "uln": "1000000043",
    "master_uln": "1000000043",
    "ao_id": "RN5133",
    "username": "someone",
    "parked_id": "42",
}
ANY_UUID = "0b7c6a3e-54d1-4c3f-9a55-0e6f5d2c1b11"


def _operations(document: str) -> dict[str, dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = json.loads((OPENAPI / f"{document}.json").read_text())["paths"]
    return paths


def _routes(document: str) -> set[str]:
    return set(_operations(document))


def _for_operators(document: str) -> set[str]:
    """The routes every operation of which lets operators alone through: `x-operators-only`, which each service's
    document writes from the route's own caller check (lrs_platform.http), under /v1/admin or not (the registry's
    bulk import and merges; before this was read from the code, two notifier routes were routed from outside)."""
    return {
        route
        for route, operations in _operations(document).items()
        if all(operation.get("x-operators-only") for operation in operations.values())
    }


def _example(route: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda found: EXAMPLES.get(found.group(1), ANY_UUID), route)


def _is_public(document: str, route: str) -> bool:
    return not route.startswith("/v1/admin") and route not in OPERATIONS and route not in _for_operators(document)


def _paths(ingress: Doc, host: str) -> list[tuple[str, str]]:
    [rule] = [rule for rule in ingress["spec"]["rules"] if rule["host"] == host]
    return [(path["path"], path["backend"]["service"]["name"]) for path in rule["http"]["paths"]]


def _matching(paths: list[tuple[str, str]], url_path: str) -> list[tuple[str, str]]:
    return [(path, service) for path, service in paths if re.match(path, url_path, re.IGNORECASE)]


def _api_ingress(overlay: str) -> Doc:
    [ingress] = [
        doc for doc in of_kind(render(f"overlays/{overlay}"), "Ingress") if doc["metadata"]["name"] == "lrs-api"
    ]
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/use-regex"] == "true"
    return ingress


def _hosts(ingress: Doc) -> tuple[str, str]:
    api, sandpit = (rule["host"] for rule in ingress["spec"]["rules"])
    assert sandpit.startswith("sandpit.")
    return api, sandpit


def _public_routes(apis: tuple[str, ...], *, sandpit: bool) -> Iterator[str]:
    for document in apis:
        for route in sorted(_routes(document)):
            if _is_public(document, route) and (not sandpit or document != "plr-projector" or route in SANDPIT_READS):
                yield route


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("environment", ["live", "sandpit"])
def test_every_public_route_reaches_a_service_that_serves_it_through_one_path(overlay: str, environment: str) -> None:
    ingress = _api_ingress(overlay)
    api, sandpit = _hosts(ingress)
    paths = _paths(ingress, sandpit if environment == "sandpit" else api)
    apis = SANDPIT_APIS if environment == "sandpit" else LIVE_APIS
    for route in _public_routes(apis, sandpit=environment == "sandpit"):
        found = _matching(paths, _example(route))
        assert len(found) == 1, f"{route} is routed by {found or 'no path'}"
        [(_, service)] = found
        assert route in _routes(DOCUMENT_OF_SERVICE[service]), f"{route} goes to {service}, which does not serve it"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_operator_route_and_no_metrics_are_routed_from_outside(overlay: str) -> None:
    ingress = _api_ingress(overlay)
    for host in _hosts(ingress):
        paths = _paths(ingress, host)
        for document in {*LIVE_APIS, *SANDPIT_APIS}:
            for route in sorted(_routes(document)):
                if _is_public(document, route) or (route == "/healthz" and host.startswith("sandpit.")):
                    continue
                assert _matching(paths, _example(route)) == [], f"{host} routes the operators' {route}"


@pytest.mark.parametrize("document", sorted({*LIVE_APIS, *SANDPIT_APIS, "portal"}))
def test_every_admin_operation_is_marked_for_operators_only_so_the_mark_can_be_trusted(document: str) -> None:
    for route, operations in _operations(document).items():
        if route.startswith("/v1/admin"):
            for method, operation in operations.items():
                assert operation.get("x-operators-only") is True, f"{method.upper()} {route} of {document}"
    assert {"/v1/learners/import", "/v1/learners/{master_uln}/merge"} <= _for_operators("validation")


def test_the_sandpit_host_answers_the_clis_environment_check_as_the_sandpit() -> None:
    """`lrs --sandpit` asks `/healthz` which environment answers before it sends anything."""
    ingress = _api_ingress("prod")
    _, sandpit = _hosts(ingress)
    assert _matching(_paths(ingress, sandpit), "/healthz") == [("/healthz$", "sandpit-ingest")]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_credential_names_an_issuer_whose_keys_are_served_where_it_says(overlay: str) -> None:
    """A credential's key id is `<issuer URL>/.well-known/jwks.json#<kid>`: whoever verifies it fetches that."""
    docs = render(f"overlays/{overlay}")
    ingress = _api_ingress(overlay)
    checked = 0
    for deployment in of_kind(docs, "Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            issuer = env_of(container).get("PROJECTOR_CREDENTIAL_ISSUER_URL")
            if issuer is None:
                continue
            url = urlsplit(issuer)
            assert url.scheme == "https"
            found = _matching(_paths(ingress, url.netloc), f"{url.path.rstrip('/')}/.well-known/jwks.json")
            assert [service for _, service in found] == [
                "sandpit-plr-reader" if deployment["metadata"]["name"].startswith("sandpit-") else "plr-reader"
            ], f"{deployment['metadata']['name']}'s issuer {issuer} does not serve its keys"
            checked += 1
    assert checked == 4  # the writer and the readers, live and Sandpit


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_apis_ingress_keeps_no_access_log_of_their_urls_which_hold_full_ulns(overlay: str) -> None:
    """ingress-nginx's default access log keeps the request line (`/v1/learners/<uln>/plr`, `?uln=`) beside the
    caller's address; the services log each request by route template, ULNs masked (invariant 7)."""
    ingress = _api_ingress(overlay)

    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/enable-access-log"] == "false"
    assert any("{uln}" in route for route in _routes("plr-projector") if _is_public("plr-projector", route))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_problem_type_a_service_answers_is_a_page_routed_on_both_api_hosts(overlay: str) -> None:
    """RFC 9457: a client resolves a problem's relative `type` against the request's URI, so the API's own host must
    answer it (an ingress 404 otherwise, for every code)."""
    ingress = _api_ingress(overlay)
    for host in _hosts(ingress):
        paths = _paths(ingress, host)
        ingest = "sandpit-ingest" if host.startswith("sandpit.") else "ingest"
        [(pages, service)] = _matching(paths, PROBLEM_PAGES)
        assert service == ingest, host
        for code in sorted({*CODE_EXPLANATIONS, *PROBLEM_CODE_EXPLANATIONS}):
            assert _matching(paths, problem_type(code)) == [(pages, ingest)], f"{host} {code}"
        assert _matching(paths, f"{PROBLEM_PAGES}/RS001/../../v1/admin/dlq") == []
