"""A plr-reader's `GET /v1/admin/projector` (`lrs projector status`) is refused as its other operator routes are
(the scale-out walk, finding 2). Its live projection does not run: it answered the positions it read at its own
start, a lag frozen since and "events handled: 0", read as a projector stuck while the writer was caught up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from plr_projector.api import admin_router
from plr_projector.endpoints import projector_of


class _Connection:
    async def __aenter__(self) -> _Connection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class _Model:
    async def parked_depth(self, connection: object) -> dict[str, int]:
        return {"error": 0, "blocked": 0}


def _projector(*, writes: bool) -> Any:
    """A projector whose live positions are those a reader read at its start: 12,698 on partition 5, 95 behind."""
    live = SimpleNamespace(
        positions={("lrs.plr.events.v1", 5): 12698},
        lag=lambda: {"lrs.plr.events.v1": {"events": 95, "seconds": 120.0}},
        stats=SimpleNamespace(events=0, batches=0, last_error=None),
    )
    return SimpleNamespace(
        takes_operator_actions=writes,
        pool=SimpleNamespace(acquire=_Connection),
        model=_Model(),
        live=live,
        topics=SimpleNamespace(physical=lambda topic: topic),
        rebuilds=SimpleNamespace(status=lambda: {"state": "idle"}),
    )


@pytest.fixture
async def status_of() -> AsyncIterator[Any]:
    clients: list[httpx.AsyncClient] = []

    async def status(projector: Any) -> httpx.Response:
        app = build_app("plr-projector", title="PLR", description="", lifespan=noop_lifespan)
        app.include_router(admin_router)
        app.dependency_overrides[current_principal] = lambda: Principal.parse("operator:ops")
        app.dependency_overrides[projector_of] = lambda: projector
        clients.append(httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://plr"))
        return await clients[-1].get("/v1/admin/projector")

    yield status
    for each in clients:
        await each.aclose()


async def test_a_reader_refuses_the_projectors_status_as_it_refuses_the_writers_actions(status_of: Any) -> None:
    answer = await status_of(_projector(writes=False))
    assert answer.status_code == 409, answer.text
    problem = answer.json()
    assert problem["title"] == "Not the projector that writes"
    assert problem["detail"].startswith("This projector only reads (PROJECTOR_RUN_CONSUMER=false): ask for the")
    assert "status" in problem["detail"] and "plr-projector Service, not plr-reader" in problem["detail"]
    assert "12698" not in answer.text


async def test_the_projector_that_writes_answers_its_status(status_of: Any) -> None:
    answer = await status_of(_projector(writes=True))
    assert answer.status_code == 200, answer.text
    assert answer.json()["offsets"] == {"lrs.plr.events.v1:5": 12698}
