"""Decision 0122: an operator key issued with scopes reaches only the routes of those duties, in every
service; one issued without scopes reaches everything, as before scopes existed."""

from __future__ import annotations

import httpx
import pytest
from tests.integration.conftest import SystemUnderTest

from lrs_platform.credential_store import CredentialStore
from lrs_platform.database import create_pool
from lrs_platform.identity import Principal
from lrs_platform.problems import PROBLEM_MEDIA_TYPE

pytestmark = pytest.mark.integration

ULN = "1000000043"


async def _client(system: SystemUnderTest, service: str, principal: Principal) -> httpx.AsyncClient:
    pool = await create_pool(system.database_url, max_size=1)
    try:
        token = (await CredentialStore(pool).issue(principal, label="tests")).token
    finally:
        await pool.close()
    return httpx.AsyncClient(base_url=system.url(service), headers={"Authorization": f"Bearer {token}"}, timeout=60)


async def _status(system: SystemUnderTest, scopes: set[str], service: str, method: str, path: str) -> int:
    principal = Principal.parse("operator:scoped-tests", frozenset(scopes))
    async with await _client(system, service, principal) as client:
        response = await client.request(method, path, json={} if method == "POST" else None)
    if response.status_code == 403:
        assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
        assert response.json()["code"] == "OPERATOR_SCOPE_MISSING", response.text
    return response.status_code


@pytest.mark.parametrize(
    ("scopes", "service", "method", "path", "allowed"),
    [
        ({"dead-letters"}, "validation", "GET", "/v1/admin/dlq", True),
        ({"dead-letters"}, "plr-projector", "GET", "/v1/admin/dlq", True),
        ({"dead-letters"}, "plr-projector", "GET", "/v1/admin/projector", True),
        ({"dead-letters"}, "plr-projector", "POST", "/v1/admin/rebuild", False),
        ({"dead-letters"}, "plr-projector", "GET", f"/v1/learners/{ULN}/plr", False),
        ({"dead-letters"}, "validation", "POST", f"/v1/admin/learners/{ULN}/erasure", False),
        ({"rebuild"}, "plr-projector", "GET", "/v1/admin/rebuild", True),
        ({"rebuild"}, "plr-projector", "GET", "/v1/admin/credential-keys", False),
        ({"erasure"}, "validation", "GET", "/v1/admin/erasures", True),
        ({"erasure"}, "validation", "GET", "/v1/admin/keyring", False),
        ({"erasure"}, "reporting", "GET", "/v1/admin/dlq", False),
        ({"erasure"}, "challenges", "GET", "/v1/admin/dlq/1", False),
        ({"dead-letters"}, "challenges", "GET", "/v1/admin/dlq/1", True),
        ({"support"}, "ingest", "GET", "/v1/batches", True),
        ({"support"}, "ingest", "GET", "/v1/maintenance", True),
        ({"dead-letters"}, "ingest", "GET", "/v1/maintenance", True),
        ({"rebuild"}, "ingest", "GET", "/v1/maintenance", True),
        ({"support"}, "ingest", "POST", "/v1/admin/maintenance/pause", False),
        ({"support"}, "challenges", "GET", "/v1/challenges/open-counts", True),
        ({"support"}, "validation", "POST", "/v1/learners/import", False),
        ({"maintenance"}, "ingest", "GET", "/v1/admin/maintenance", True),
        ({"maintenance"}, "ingest", "GET", "/v1/batches", False),
        ({"registry"}, "validation", "POST", "/v1/admin/reference/load", True),
        ({"accounts", "dead-letters"}, "notifier", "GET", "/v1/admin/dlq", True),
        ({"keys"}, "plr-projector", "GET", "/v1/admin/credential-keys", True),
    ],
)
async def test_a_scoped_operator_key_reaches_only_the_routes_of_its_scopes(
    system: SystemUnderTest, scopes: set[str], service: str, method: str, path: str, allowed: bool
) -> None:
    status = await _status(system, scopes, service, method, path)
    assert (status != 403) is allowed, status


async def test_an_operator_key_without_scopes_reaches_every_duty(system: SystemUnderTest) -> None:
    async with await _client(system, "plr-projector", Principal.parse("operator:unscoped-tests")) as client:
        for path in ("/v1/admin/dlq", "/v1/admin/rebuild", "/v1/admin/credential-keys", f"/v1/learners/{ULN}/plr"):
            assert (await client.get(path)).status_code != 403, path
