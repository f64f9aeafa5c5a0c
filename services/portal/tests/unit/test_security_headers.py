"""Every page carries the portal's strict Content-Security-Policy, except the API documentation, which carries
the one its pages can work under (lrs_platform.http.DOCUMENTATION_POLICY): under style-src 'self' ReDoc shows
only "Something went wrong…"."""

from __future__ import annotations

import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal

from portal.web.common import SECURITY_HEADERS

STRICT = SECURITY_HEADERS["Content-Security-Policy"]


def directives(policy: str) -> dict[str, str]:
    named = (directive.strip().split(" ", 1) for directive in policy.split(";") if directive.strip())
    return {parts[0]: parts[1] if len(parts) > 1 else "" for parts in named}


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


@pytest.mark.parametrize("path", ["/redoc", "/docs"])
def test_the_api_documentation_may_use_inline_styles_and_a_blob_worker(portal: StubbedPortal, path: str) -> None:
    answer = portal.client().get(path)

    assert answer.status_code == 200
    policy = directives(answer.headers["content-security-policy"])
    assert policy["style-src"] == "'self' 'unsafe-inline'"
    assert policy["worker-src"] == "blob:"
    # nothing else is loosened: scripts are still the service's own files, and the page is still never framed
    assert policy["script-src"] == "'self'" and policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and answer.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("path", ["/sign-in", "/static/portal.css", "/openapi.json", "/no-such-page"])
def test_every_other_answer_keeps_the_strict_policy(portal: StubbedPortal, path: str) -> None:
    answer = portal.client().get(path)

    assert answer.headers["content-security-policy"] == STRICT
    assert directives(STRICT)["style-src"] == "'self'" and "worker-src" not in directives(STRICT)


@pytest.mark.parametrize("path", ["/problems", "/problems/RS001"])
def test_a_problem_page_allows_its_own_inline_style_by_its_hash_and_nothing_more(
    portal: StubbedPortal, path: str
) -> None:
    """Under style-src 'self' the /problems pages showed unstyled; 'unsafe-inline' would allow any style."""
    import base64
    import hashlib
    import re

    answer = portal.client().get(path)

    assert answer.status_code == 200
    [style] = re.findall(r"<style>(.*?)</style>", answer.text)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    policy = directives(answer.headers["content-security-policy"])
    assert policy["style-src"] == f"'sha256-{digest}'"
    assert policy["default-src"] == "'none'" and "script-src" not in policy
    assert policy["frame-ancestors"] == "'none'"
