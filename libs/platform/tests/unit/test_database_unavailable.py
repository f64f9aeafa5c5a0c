"""A request that meets PostgreSQL away is answered 503 with Retry-After by every service, not a 500."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from lrs_platform.http import build_app, noop_lifespan


def _client_raising(error: Exception) -> httpx.AsyncClient:
    app = build_app("reads", title="Reads", description="", lifespan=noop_lifespan)

    @app.get("/v1/things")
    async def things() -> None:
        raise error

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://reads")


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        asyncpg.CannotConnectNowError("the database system is shutting down"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.InterfaceError("cannot call Connection.fetch(): connection has been released back to the pool"),
    ],
)
async def test_postgresql_away_is_503_with_retry_after_and_a_code(error: Exception) -> None:
    async with _client_raising(error) as client:
        response = await client.get("/v1/things")

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["title"] == "The database is unavailable"
    assert problem["code"] == "SERVICE_UNAVAILABLE"


async def test_any_other_failure_is_still_a_500() -> None:
    async with _client_raising(RuntimeError("a bug")) as client:
        response = await client.get("/v1/things")

    assert response.status_code == 500
    assert response.json()["code"] == "INTERNAL_ERROR"


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (
            asyncpg.TooManyConnectionsError("sorry, too many clients already"),
            "PostgreSQL has no connection free (it has as many clients as it allows)",
        ),
        (
            asyncpg.CannotConnectNowError("the database system is starting up"),
            "PostgreSQL is not accepting connections now (it is starting up, shutting down or recovering)",
        ),
        (
            ConnectionRefusedError(111, "Connect call failed"),
            "The connection to PostgreSQL was refused (it is not running, or not at that address)",
        ),
        (
            asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
            "PostgreSQL did not answer",
        ),
        (TimeoutError(), "PostgreSQL did not answer"),
    ],
)
async def test_the_detail_says_whether_postgresql_refused_or_did_not_answer(error: Exception, said: str) -> None:
    async with _client_raising(error) as client:
        response = await client.get("/v1/things")

    assert response.status_code == 503
    assert response.json()["detail"] == f"{said}, so nothing was read or changed. Send the request again later."
