"""A request that meets PostgreSQL going away is answered 503 with Retry-After, whatever asyncpg raises."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from ingest.api import install


def app_raising(error: Exception) -> FastAPI:
    app = FastAPI()
    install(app)

    @app.post("/raises")
    async def raises() -> None:
        raise error

    return app


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        asyncpg.CannotConnectNowError("the database system is shutting down"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        # the server dropped the connection during a submission's claim, and the pool took it back
        asyncpg.InterfaceError("cannot call Connection.execute(): connection has been released back to the pool"),
    ],
)
async def test_postgresql_going_away_is_503_with_retry_after(error: Exception) -> None:
    transport = httpx.ASGITransport(app=app_raising(error), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        response = await client.post("/raises")

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["title"] == "The batch store is unavailable"


async def test_postgresql_out_of_connections_is_said_so_not_that_it_did_not_answer() -> None:
    transport = httpx.ASGITransport(
        app=app_raising(asyncpg.TooManyConnectionsError("sorry, too many clients already")),
        raise_app_exceptions=False,
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        response = await client.post("/raises")

    assert response.status_code == 503
    assert response.json()["detail"].startswith("PostgreSQL has no connection free")
    assert "so nothing was accepted or changed" in response.json()["detail"]
