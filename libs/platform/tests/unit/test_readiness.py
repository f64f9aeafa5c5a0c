"""/readyz answers within a probe's timeout whatever its dependencies do: a frozen one (PostgreSQL stopped with
SIGSTOP, a broker that takes connections and never answers) is reported unavailable, and the others are asked
at the same time."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from lrs_platform import http
from lrs_platform.http import build_app, noop_lifespan


async def _frozen() -> str | None:
    await asyncio.sleep(3600)
    return None


async def _refused() -> str | None:
    raise ConnectionRefusedError(111, "Connect call failed")


async def _timing_out_itself() -> str | None:
    raise TimeoutError  # e.g. asyncpg's connect timeout: the dependency's own word, not the probe's wait


async def _fine() -> str | None:
    return None


async def test_a_frozen_dependency_is_unavailable_within_the_bound_and_the_others_still_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(http, "READINESS_CHECK_SECONDS", 0.2)
    app = build_app("reads", title="Reads", description="", lifespan=noop_lifespan)
    app.state.readiness_checks = {
        "database": _frozen,
        "kafka": _refused,
        "registry": _timing_out_itself,
        "keyring": _fine,
        "broker": _frozen,
    }
    transport = httpx.ASGITransport(app=app)
    started = time.monotonic()
    async with httpx.AsyncClient(transport=transport, base_url="http://reads") as client:
        response = await client.get("/readyz")

    assert time.monotonic() - started < 2.0  # both frozen checks waited for at once, each for the bound
    assert response.status_code == 503
    assert response.json() == {
        "ready": False,
        "checks": {
            "database": "unavailable: no answer within 0.2 s",
            "kafka": "unavailable: ConnectionRefusedError",
            "registry": "unavailable: TimeoutError",
            "keyring": "ok",
            "broker": "unavailable: no answer within 0.2 s",
        },
    }


async def test_every_dependency_answering_is_ready() -> None:
    app = build_app("reads", title="Reads", description="", lifespan=noop_lifespan)
    app.state.readiness_checks = {"database": _fine}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reads") as client:
        response = await client.get("/readyz")

    assert (response.status_code, response.json()) == (200, {"ready": True, "checks": {"database": "ok"}})
