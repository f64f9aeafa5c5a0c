"""Who is linked to an erased learner (`GET /v1/learners/{uln}/providers`) is 410, said of links: the linked
provider asking learns that nobody is listed any more and what it can no longer do, not the PLR's sentence."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

import httpx
import pytest

from lrs_domain.reference import Learner
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from validation.api import router

ERASED = "4444599390"
LINKED = "10004567"


class ErasedRegistry:
    """A registry in which `ERASED` was erased; the link `LINKED` had outlives it (decision 0121)."""

    async def learners_for(self, ulns: Collection[str]) -> dict[str, Learner]:
        return {}  # erased learners are left out

    async def linked_providers(self, ulns: Collection[str]) -> frozenset[str]:
        return frozenset({LINKED}) if ERASED in ulns else frozenset()

    async def erasures(self, uln: str) -> list[object]:
        return [object()] if uln == ERASED else []

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the request reached the registry ({name})")


def _client(principal: str) -> httpx.AsyncClient:
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse(principal)
    app.state.learner_registry = ErasedRegistry()
    app.state.outbox_wake = asyncio.Event()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation")


@pytest.mark.parametrize("principal", [f"provider:{LINKED}", "operator:support"], ids=["linked provider", "operator"])
async def test_who_is_linked_to_an_erased_learner_is_410_said_of_links(principal: str) -> None:
    async with _client(principal) as client:
        answer = await client.get(f"/v1/learners/{ERASED}/providers")

    assert answer.status_code == 410, answer.text
    assert answer.json()["code"] == "LEARNER_ERASED"
    assert answer.json()["detail"] == (
        "This ULN's learner was erased: the providers linked to them are not listed any more, and none of them reads"
        " their PLR, reports centre achievements for them or changes their sharing."
    )
