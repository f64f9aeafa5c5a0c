"""HTTPS only, and browsers told so (HSTS): both Ingresses of the portal's host redirect plain http to https, and
every answer of the portal carries `Strict-Transport-Security` for at least a year with `includeSubDomains`. The
portal sends the header itself (base/ingress.yaml says why not the Ingress): this reads it from the app's answer,
so it cannot go from either without this failing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from deploy.k8s.tests.kube import OVERLAYS, Doc, of_kind, render
from fastapi import FastAPI
from fastapi.testclient import TestClient

from portal.bootstrap import create_app
from portal.config import PortalSettings

PORTAL_INGRESSES = ("lrs", "lrs-password-links")
A_YEAR = 365 * 24 * 3600
REDIRECTS = ("nginx.ingress.kubernetes.io/ssl-redirect", "nginx.ingress.kubernetes.io/force-ssl-redirect")
# An Ingress's own nginx directives could take the header off (or replace it): none on the portal's host.
SNIPPETS = ("nginx.ingress.kubernetes.io/configuration-snippet", "nginx.ingress.kubernetes.io/server-snippet")


@asynccontextmanager
async def _no_lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield


def _portal_ingresses(overlay: str) -> list[Doc]:
    return [
        doc for doc in of_kind(render(f"overlays/{overlay}"), "Ingress") if doc["metadata"]["name"] in PORTAL_INGRESSES
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_portals_ingresses_send_plain_http_to_https(overlay: str) -> None:
    ingresses = _portal_ingresses(overlay)
    assert sorted(doc["metadata"]["name"] for doc in ingresses) == sorted(PORTAL_INGRESSES)
    for ingress in ingresses:
        annotations = ingress["metadata"].get("annotations", {})
        assert [annotations.get(name) for name in REDIRECTS] == ["true", "true"], ingress["metadata"]["name"]
        assert not set(SNIPPETS) & set(annotations), ingress["metadata"]["name"]
        hosts = {host for tls in ingress["spec"]["tls"] for host in tls["hosts"]}
        assert {rule["host"] for rule in ingress["spec"]["rules"]} <= hosts


def test_every_answer_of_the_portal_says_https_only_for_a_year_and_below_its_host() -> None:
    """Its style sheet, answered without a database (every page's answer carries the same headers: the portal's
    unit tests, test_security_headers.py)."""
    app = create_app(PortalSettings(cookie_secure=True, log_json=False, log_level="warning"))
    app.router.lifespan_context = _no_lifespan
    with TestClient(app, base_url="https://portal.lrs.example") as client:
        answer = client.get("/static/portal.css")

    assert answer.status_code == 200
    hsts = answer.headers.get("strict-transport-security", "")
    directives = [part.strip() for part in hsts.split(";")]
    max_age = re.fullmatch(r"max-age=(\d+)", directives[0])
    assert max_age is not None and int(max_age.group(1)) >= A_YEAR, hsts
    assert "includeSubDomains" in directives, hsts
