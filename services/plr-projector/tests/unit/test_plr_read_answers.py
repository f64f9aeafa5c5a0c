"""What a PLR read answers beyond its document: no cache may keep it (it is a learner's personal data), and a
provider asking for what providers never see (withdrawn achievements, history; decision 0012) is told so, 403,
rather than answered without them as though the learner had none."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from plr_projector.api import plr_router
from plr_projector.consumer import Topics
from plr_projector.endpoints import projector_of
from plr_projector.projection import AchievementRow
from plr_projector.views import LearnerGroup

from .test_views import LINKED_PROVIDER, ULN, achievement

PROVIDER = f"provider:{LINKED_PROVIDER}"


class ReadOnlyProjector:
    """A projector holding one learner, shared with the linked provider, with one achievement."""

    def __init__(self) -> None:
        self.pool = self
        self.model = self
        self.topics = Topics()
        self.reads = 0

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[ReadOnlyProjector]:
        self.reads += 1
        yield self

    @asynccontextmanager
    async def transaction(self, **_: Any) -> AsyncIterator[None]:
        yield

    async def learner_group(self, connection: Any, uln: str, *, with_links: bool = False) -> LearnerGroup:
        return LearnerGroup(ULN, ULN, (ULN,), True, 1, linked_providers=frozenset({LINKED_PROVIDER}))

    async def any_erased(self, connection: Any, ulns: Sequence[str]) -> bool:
        return False

    async def achievements(self, connection: Any, ulns: Sequence[str]) -> list[AchievementRow]:
        return [achievement()]

    async def parked_count_of_learner(self, connection: Any, ulns: Sequence[str], ids: Iterable[Any]) -> int:
        return 0

    async def centre(self, connection: Any, ulns: Sequence[str]) -> list[Any]:
        return []

    async def challenged(self, connection: Any, achievement_ids: Sequence[Any]) -> set[Any]:
        return set()

    async def history(self, connection: Any, ulns: Sequence[str], ao_id: str | None = None) -> dict[Any, Any]:
        return {}


def _client(principal: str, projector: ReadOnlyProjector) -> httpx.AsyncClient:
    app = build_app("plr-projector", title="PLR", description="", lifespan=noop_lifespan)
    app.include_router(plr_router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse(principal)
    app.dependency_overrides[projector_of] = lambda: projector
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://plr")


@pytest.mark.parametrize("principal", [f"learner:{ULN}", PROVIDER, "operator:ops"])
async def test_no_cache_may_keep_a_plr(principal: str) -> None:
    async with _client(principal, ReadOnlyProjector()) as client:
        answer = await client.get(f"/v1/learners/{ULN}/plr")
    assert answer.status_code == 200, answer.text
    assert answer.json()["learning_events"]
    assert answer.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"include_withdrawn": "true"}, "include_withdrawn"),
        ({"include_history": "true"}, "include_history"),
        ({"include_withdrawn": "true", "include_history": "true"}, "include_withdrawn or include_history"),
    ],
)
async def test_a_provider_asking_for_withdrawn_achievements_or_history_is_told_it_never_sees_them(
    params: dict[str, str], named: str
) -> None:
    projector = ReadOnlyProjector()
    async with _client(PROVIDER, projector) as client:
        answer = await client.get(f"/v1/learners/{ULN}/plr", params=params)
    assert answer.status_code == 403, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["cache-control"] == "no-store"
    problem = answer.json()
    assert problem["title"] == "Not shown to providers"
    assert "current achievements only" in problem["detail"]
    assert f"Ask again without {named}" in problem["detail"]
    assert projector.reads == 0  # nothing was read


async def test_a_provider_asking_plainly_or_saying_false_is_answered() -> None:
    async with _client(PROVIDER, ReadOnlyProjector()) as client:
        plain = await client.get(f"/v1/learners/{ULN}/plr")
        said_false = await client.get(
            f"/v1/learners/{ULN}/plr", params={"include_withdrawn": "false", "include_history": "false"}
        )
    assert (plain.status_code, said_false.status_code) == (200, 200), said_false.text
    assert plain.json() == said_false.json()


@pytest.mark.parametrize("principal", [f"learner:{ULN}", "operator:ops", "ao:RN5133"])
async def test_everyone_else_may_ask_for_withdrawn_achievements_and_history(principal: str) -> None:
    async with _client(principal, ReadOnlyProjector()) as client:
        answer = await client.get(
            f"/v1/learners/{ULN}/plr", params={"include_withdrawn": "true", "include_history": "true"}
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["learning_events"][0]["history"] == []
