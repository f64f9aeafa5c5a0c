"""A learner's changes of sharing beyond the latest 50: the learner's answer says older ones are kept (`more`), and
the operators' record (`GET /v1/admin/learners/{uln}/sharing-changes`) pages through all of them by `after`."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from lrs_contracts.learner import AbilityToShare
from lrs_domain.reference import Learner
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.paging import PagePosition
from validation.api import router
from validation.learner_registry import RecordedSharingChange

ULN = "1000000043"
AT = datetime(2026, 12, 1, 9, tzinfo=UTC)


class Registry:
    """A registry holding `ULN`, whose choice was changed `changes` times (change ids 1 up, the latest shares).
    Answers `sharing_changes` as the store does (newest first, before `after`'s change, `limit` at most) and notes
    what it was asked."""

    def __init__(self, changes: int) -> None:
        self.changes = [
            RecordedSharingChange(
                ULN,
                AbilityToShare.SHARES if change_id % 2 == changes % 2 else AbilityToShare.UNABLE_TO_SHARE,
                f"learner:{ULN}",
                AT + timedelta(minutes=change_id),
                change_id,
            )
            for change_id in range(changes, 0, -1)
        ]
        self.asked: list[tuple[int, PagePosition | None]] = []

    async def learners_for(self, ulns: Collection[str]) -> dict[str, Learner]:
        return {ULN: Learner(ULN, "Lily", "McCarthy", None, 2, 1)} if ULN in ulns else {}

    async def linked_providers(self, ulns: Collection[str]) -> frozenset[str]:
        return frozenset()

    async def same_learner(self, uln: str) -> list[str]:
        return []

    async def erasures(self, uln: str) -> list[object]:
        return []

    async def sharing_changes(
        self, ulns: Collection[str], limit: int = 50, *, after: PagePosition | None = None
    ) -> list[RecordedSharingChange]:
        self.asked.append((limit, after))
        older = [change for change in self.changes if after is None or change.change_id < after.id.int]
        return older[:limit]

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the request reached the registry ({name})")


def _client(principal: str, registry: Registry) -> httpx.AsyncClient:
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse(principal)
    app.state.learner_registry = registry
    app.state.outbox_wake = asyncio.Event()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation")


@pytest.mark.parametrize(("changes", "more"), [(0, False), (50, False), (51, True), (59, True)])
async def test_the_learners_answer_shows_the_latest_50_and_says_whether_older_ones_are_kept(
    changes: int, more: bool
) -> None:
    registry = Registry(changes)
    async with _client(f"learner:{ULN}", registry) as client:
        answer = await client.get(f"/v1/learners/{ULN}/sharing")

    assert answer.status_code == 200, answer.text
    assert answer.json()["more"] is more
    assert len(answer.json()["changes"]) == min(changes, 50)
    assert registry.asked == [(51, None)]  # one beyond the 50, only to tell


async def test_the_operators_record_pages_through_every_change_by_after() -> None:
    registry = Registry(59)
    async with _client("operator:support", registry) as client:
        first = await client.get(f"/v1/admin/learners/{ULN}/sharing-changes", params={"limit": 50})
        rest = await client.get(
            f"/v1/admin/learners/{ULN}/sharing-changes", params={"limit": 50, "after": first.json()["next"]}
        )
        by_default = await client.get(f"/v1/admin/learners/{ULN}/sharing-changes")

    assert first.status_code == 200, first.text
    assert rest.status_code == 200, rest.text
    shown = [change["changed_at"] for change in first.json()["changes"] + rest.json()["changes"]]
    assert shown == [change.changed_at.isoformat().replace("+00:00", "Z") for change in registry.changes]
    assert (len(first.json()["changes"]), len(rest.json()["changes"])) == (50, 9)
    assert rest.json()["next"] is None
    assert registry.asked[1] == (51, registry.changes[49].position)  # after the first page's last change
    assert (len(by_default.json()["changes"]), by_default.json()["next"]) == (59, None)  # 100 at a time


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 1001}, {"after": "not-a-page"}])
async def test_a_page_out_of_bounds_or_a_made_up_after_is_422(query: dict[str, Any]) -> None:
    registry = Registry(3)
    async with _client("operator:support", registry) as client:
        answer = await client.get(f"/v1/admin/learners/{ULN}/sharing-changes", params=query)

    assert answer.status_code == 422, answer.text
    assert registry.asked == []
