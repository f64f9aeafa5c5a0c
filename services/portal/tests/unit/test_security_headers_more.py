"""Beside the Content-Security-Policy (test_security_headers.py), every answer of the portal, a page, a file, JSON or
an error, says that no page may use the camera, microphone, location, payments or USB devices (Permissions-Policy),
that no other site's window shares one with the portal's (Cross-Origin-Opener-Policy), and that the portal is HTTPS
only for a year, its host and those below it (HSTS; a browser ignores it over plain http)."""

from __future__ import annotations

import uuid

import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal

EXPECTED = {
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "cross-origin-opener-policy": "same-origin",
    "strict-transport-security": "max-age=31536000; includeSubDomains",
}


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


@pytest.mark.parametrize("path", ["/sign-in", "/static/portal.css", "/no-such-page", "/problems", "/docs"])
def test_every_answer_signed_out_carries_the_headers(portal: StubbedPortal, path: str) -> None:
    answer = portal.client().get(path)

    assert {name: answer.headers.get(name) for name in EXPECTED} == EXPECTED


def test_every_answer_signed_in_carries_them_too(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in()

    for path in ("/account/password", f"/batches/{uuid.uuid4()}/status.json", "/ops"):
        answer = client.get(path)
        assert {name: answer.headers.get(name) for name in EXPECTED} == EXPECTED, (path, answer.status_code)
