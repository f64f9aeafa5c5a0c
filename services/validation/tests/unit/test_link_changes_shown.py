"""Who linked providers to a learner and who ended the links (migration 0136) is the operators' to read: every change,
paged, at `GET /v1/admin/learners/{uln}/link-changes` (an erased learner's too), and the latest 50 in the learner's
sharing answer to an operator (`lrs learners sharing ULN`). A learner, a provider and an awarding organisation read
none of it: the route is 403 to them before the registry is asked, and their sharing answer has none."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from lrs_domain.reference import Learner
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.paging import PagePosition
from validation.api import router
from validation.learner_registry import RecordedLinkChange

ULN, MERGED = "1000000043", "7770000016"
PROVIDER = "10004567"
AT = datetime(2026, 12, 1, 9, tzinfo=UTC)


class Registry:
    """A registry holding `ULN` (and `MERGED`, merged with it), whose providers' links changed `changes` times (change
    ids 1 up: odd ones linked, even ones unlinked). Answers `link_changes` as the store does (newest first, before
    `after`'s change, `limit` at most) and notes what it was asked; `erased`: the learner was erased."""

    def __init__(self, changes: int, *, erased: bool = False) -> None:
        self.changes = [
            RecordedLinkChange(
                MERGED if change_id == 1 else ULN,
                PROVIDER,
                "linked" if change_id % 2 else "unlinked",
                f"provider:{PROVIDER}" if change_id == 1 else "operator:alex",
                AT + timedelta(minutes=change_id),
                "the provider registered the learner" if change_id == 1 else None,
                change_id,
            )
            for change_id in range(changes, 0, -1)
        ]
        self.erased = erased
        self.asked: list[tuple[list[str], int, PagePosition | None]] = []

    async def learners_for(self, ulns: Collection[str]) -> dict[str, Learner]:
        if self.erased:
            return {}
        if ULN not in ulns and MERGED not in ulns:
            return {}
        # the learner's ULNs, as the store follows merges
        return {
            ULN: Learner(ULN, "Lily", "McCarthy", None, 2, 1),
            MERGED: Learner(MERGED, "Lily", "McCarthy", None, 2, 1, master_uln=ULN),
        }

    async def linked_providers(self, ulns: Collection[str]) -> frozenset[str]:
        return frozenset({PROVIDER})

    async def same_learner(self, uln: str) -> list[str]:
        return [MERGED] if uln == ULN else []

    async def erasures(self, uln: str) -> list[object]:
        return [object()] if self.erased and uln == ULN else []

    async def sharing_changes(self, ulns: Collection[str], limit: int = 50, *, after: object = None) -> list[object]:
        return []

    async def link_changes(
        self, ulns: Collection[str], limit: int = 100, *, after: PagePosition | None = None
    ) -> list[RecordedLinkChange]:
        self.asked.append((sorted(ulns), limit, after))
        older = [change for change in self.changes if after is None or change.change_id < after.id.int]
        return [change for change in older if change.uln in ulns][:limit]

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the request reached the registry ({name})")


def _client(principal: str, registry: Registry) -> httpx.AsyncClient:
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse(principal)
    app.state.learner_registry = registry
    app.state.outbox_wake = asyncio.Event()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation")


async def test_an_operator_reads_every_change_under_the_learners_ulns_newest_first_with_who_and_why() -> None:
    registry = Registry(3)
    async with _client("operator:support", registry) as client:
        answer = await client.get(f"/v1/admin/learners/{ULN}/link-changes")

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "uln": ULN,
        "ulns": [ULN, MERGED],
        "erased": False,
        "changes": [
            {"uln": ULN, "ukprn": PROVIDER, "change": "linked", "changed_by": "operator:alex",
             "changed_at": "2026-12-01T09:03:00Z", "reason": None},
            {"uln": ULN, "ukprn": PROVIDER, "change": "unlinked", "changed_by": "operator:alex",
             "changed_at": "2026-12-01T09:02:00Z", "reason": None},
            {"uln": MERGED, "ukprn": PROVIDER, "change": "linked", "changed_by": f"provider:{PROVIDER}",
             "changed_at": "2026-12-01T09:01:00Z", "reason": "the provider registered the learner"},
        ],
        "next": None,
    }  # fmt: skip
    assert registry.asked == [([ULN, MERGED], 101, None)]


async def test_the_operators_record_pages_by_after_and_answers_for_an_erased_learner() -> None:
    registry = Registry(7, erased=True)
    async with _client("operator:support", registry) as client:
        first = await client.get(f"/v1/admin/learners/{ULN}/link-changes", params={"limit": 4})
        rest = await client.get(
            f"/v1/admin/learners/{ULN}/link-changes", params={"limit": 4, "after": first.json()["next"]}
        )

    assert first.status_code == 200, first.text
    assert first.json()["erased"] is True
    shown = [change["changed_at"] for change in first.json()["changes"] + rest.json()["changes"]]
    assert shown == [change.changed_at.isoformat().replace("+00:00", "Z") for change in registry.changes]
    assert rest.json()["next"] is None
    assert registry.asked[1][2] == registry.changes[3].position


async def test_a_uln_the_registry_never_held_is_404() -> None:
    async with _client("operator:support", Registry(1)) as client:
        answer = await client.get("/v1/admin/learners/1026893096/link-changes")

    assert answer.status_code == 404, answer.text


@pytest.mark.parametrize("principal", [f"learner:{ULN}", f"provider:{PROVIDER}", "ao:RN5"])
async def test_no_one_but_an_operator_reads_the_link_changes(principal: str) -> None:
    registry = Registry(3)
    async with _client(principal, registry) as client:
        answer = await client.get(f"/v1/admin/learners/{ULN}/link-changes")

    assert answer.status_code == 403, answer.text
    assert registry.asked == []


async def test_an_operators_sharing_answer_gives_the_latest_50_link_changes_and_says_older_ones_are_kept() -> None:
    registry = Registry(53)
    async with _client("operator:support", registry) as client:
        answer = await client.get(f"/v1/learners/{ULN}/sharing")

    assert answer.status_code == 200, answer.text
    assert len(answer.json()["link_changes"]) == 50
    assert answer.json()["link_changes"][0]["change"] == "linked"
    assert answer.json()["more_link_changes"] is True
    assert registry.asked == [([ULN, MERGED], 51, None)]


@pytest.mark.parametrize("principal", [f"learner:{ULN}", f"provider:{PROVIDER}"])
async def test_the_learners_and_a_linked_providers_sharing_answer_has_no_link_changes(principal: str) -> None:
    registry = Registry(3)
    async with _client(principal, registry) as client:
        answer = await client.get(f"/v1/learners/{ULN}/sharing")

    assert answer.status_code == 200, answer.text
    assert answer.json()["link_changes"] is None
    assert answer.json()["more_link_changes"] is False
    assert registry.asked == []
