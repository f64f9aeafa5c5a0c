"""A key works only in the environment that issued it, and a key sent to the other one is told so."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from lrs_contracts.environments import ENVIRONMENT_HEADER, Environment
from lrs_platform.authentication import CurrentPrincipal
from lrs_platform.credential_store import CredentialStore, token_environment
from lrs_platform.http import build_app, noop_lifespan

KEY_ID = "0123456789abcdef"
SECRET = "s3cret"


class OneKeyPool:
    """The credentials table of one environment, holding one key of ao:RN5133."""

    async def fetchrow(self, _query: str, key_id: str) -> dict[str, Any] | None:
        if key_id != KEY_ID:
            return None
        return {"principal": "ao:RN5133", "scopes": [], "secret_hash": hashlib.sha256(SECRET.encode()).hexdigest()}


def _client(environment: Environment) -> httpx.AsyncClient:
    app = build_app("test", title="Test", description="", lifespan=noop_lifespan, environment=environment)
    app.state.credentials = CredentialStore(OneKeyPool(), environment=environment)

    @app.get("/whoami")
    async def whoami(principal: CurrentPrincipal) -> dict[str, str]:
        return {"principal": str(principal)}

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def test_the_prefix_names_the_environment() -> None:
    assert token_environment(f"lrs_{KEY_ID}_{SECRET}") is Environment.LIVE
    assert token_environment(f"lrs_sbx_{KEY_ID}_{SECRET}") is Environment.SANDPIT
    assert token_environment("Basic abc") is None


@pytest.mark.parametrize(
    ("environment", "token"),
    [(Environment.LIVE, f"lrs_{KEY_ID}_{SECRET}"), (Environment.SANDPIT, f"lrs_sbx_{KEY_ID}_{SECRET}")],
)
async def test_a_key_of_the_environment_authenticates(environment: Environment, token: str) -> None:
    async with _client(environment) as client:
        response = await client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert response.json() == {"principal": "ao:RN5133"}
    assert response.headers[ENVIRONMENT_HEADER] == environment.value


@pytest.mark.parametrize(
    ("environment", "token", "told"),
    [
        (Environment.LIVE, f"lrs_sbx_{KEY_ID}_{SECRET}", "This is a Sandpit key; send it to the Sandpit services"),
        (Environment.SANDPIT, f"lrs_{KEY_ID}_{SECRET}", "This is a Live key; send it to the Live services"),
    ],
)
async def test_a_key_of_the_other_environment_is_refused_with_a_reason(
    environment: Environment, token: str, told: str
) -> None:
    async with _client(environment) as client:
        response = await client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"].startswith(told)


async def test_the_store_itself_never_accepts_a_key_of_the_other_environment() -> None:
    store = CredentialStore(OneKeyPool(), environment=Environment.LIVE)
    assert await store.authenticate(f"lrs_sbx_{KEY_ID}_{SECRET}") is None


async def test_a_sandpit_openapi_title_says_sandpit() -> None:
    async with _client(Environment.SANDPIT) as client:
        spec = (await client.get("/openapi.json")).json()
    assert spec["info"]["title"] == "Test (Sandpit)"
