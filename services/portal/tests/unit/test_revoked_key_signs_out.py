"""A person whose service key was revoked (`lrs credentials revoke`) is signed out at their next page, even one
that shows the services' answers panel by panel (dead letters, the dashboard's figures, the maintenance banner):
not left "signed in" on a page where every panel says the key is unknown."""

from __future__ import annotations

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal

from lrs_platform.identity import OperatorScope
from portal.accounts import Role

REVOKED = httpx.Response(
    401, json={"title": "Unauthenticated", "detail": "The API key is unknown, revoked or malformed."}
)


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


@pytest.mark.parametrize(
    ("role", "scopes", "page"),
    [
        (Role.OPERATOR, frozenset({OperatorScope.DEAD_LETTERS.value}), "/ops/dead-letters"),
        (Role.AO, frozenset(), "/"),
    ],
)
def test_a_page_of_panels_signs_a_revoked_person_out(
    portal: StubbedPortal, role: Role, scopes: frozenset[str], page: str
) -> None:
    client, _ = portal.signed_in(role, scopes)
    for service in ("ingest", "validation", "plr-projector", "notifier", "reporting", "challenges"):
        for path in ("/v1/admin/dlq", "/v1/maintenance", "/v1/batches", "/v1/challenges", "/v1/reports/plr-timeliness"):
            portal.on("GET", f"{service}{path}", lambda _: REVOKED)

    answer = client.get(page)

    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].startswith("/sign-in?next=")
    assert client.get(page).headers["location"].startswith("/sign-in")  # the session is over
