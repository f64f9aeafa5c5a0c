"""A ULN merged into itself is refused before the registry is asked: 422 `INVALID_REQUEST` saying so, not the
registry's 404 `LEARNER_NOT_REGISTERED`, which would send a program to register a learner who is registered."""

from __future__ import annotations

import asyncio

import httpx

from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from validation.api import router
from validation.learner_registry import UnknownLearnerError

MASTER = "1000000043"


class Registry:
    """The registry as the route reaches it, refusing a merge of a ULN into itself as the real one does."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    async def merge(self, master_uln: str, merged_uln: str, merged_by: str | None = None) -> bool:
        self.asked.append((master_uln, merged_uln))
        raise UnknownLearnerError(f"both learners must be registered and different: {merged_uln[-4:]}")


def _client(registry: Registry, outbox_wake: asyncio.Event) -> httpx.AsyncClient:
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse("operator:ops")
    app.state.learner_registry = registry
    app.state.outbox_wake = outbox_wake
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation")


async def test_a_uln_merged_into_itself_is_422_invalid_request_before_the_registry_is_asked() -> None:
    registry, outbox_wake = Registry(), asyncio.Event()
    async with _client(registry, outbox_wake) as client:
        refused = await client.post(f"/v1/learners/{MASTER}/merge", json={"merged_uln": MASTER})

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["code"] == "INVALID_REQUEST"
    assert problem["title"] == "Merged into itself"
    assert "not merged into itself" in problem["detail"]
    assert registry.asked == []
    assert not outbox_wake.is_set()


async def test_an_unregistered_uln_is_still_404_learner_not_registered() -> None:
    async with _client(Registry(), asyncio.Event()) as client:
        refused = await client.post(f"/v1/learners/{MASTER}/merge", json={"merged_uln": "6936002314"})

    assert refused.status_code == 404, refused.text
    assert refused.json()["code"] == "LEARNER_NOT_REGISTERED"
