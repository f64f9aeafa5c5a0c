"""Literal walk, finding 7: the choice a learner has, sent again by whoever made it, records and publishes nothing,
yet was answered 204 as a change, so `lrs learners sharing ULN unable` said "is now 2 … once the PLR service has
applied the change" the second time too. A repeat is answered 200 with `changed: false`; a change stays 204."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

import httpx

from lrs_contracts.learner import AbilityToShare
from lrs_domain.reference import Learner
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from validation.api import router
from validation.learner_registry import SharingChosen

ULN = "1000000043"


class Registry:
    """A registry holding `ULN`, whose change of sharing records something or not (`changed`)."""

    def __init__(self, changed: bool) -> None:
        self.changed = changed
        self.asked: list[tuple[str, AbilityToShare, str]] = []

    async def learners_for(self, ulns: Collection[str]) -> dict[str, Learner]:
        return {ULN: Learner(ULN, "Lily", "McCarthy", None, 2, 1)} if ULN in ulns else {}

    async def linked_providers(self, ulns: Collection[str]) -> frozenset[str]:
        return frozenset()

    async def change_sharing(
        self, uln: str, ability: AbilityToShare, changed_by: str, provider_ukprn: str | None = None
    ) -> SharingChosen:
        self.asked.append((uln, ability, changed_by))
        return SharingChosen(uln, changed=self.changed)

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the request reached the registry ({name})")


async def _post(registry: Registry) -> tuple[httpx.Response, bool]:
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse(f"learner:{ULN}")
    app.state.learner_registry = registry
    app.state.outbox_wake = woken = asyncio.Event()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation") as client:
        answer = await client.post(f"/v1/learners/{ULN}/sharing", json={"ability_to_share": 2})
    return answer, woken.is_set()


async def test_a_change_recorded_is_204_with_no_body() -> None:
    answer, woken = await _post(Registry(changed=True))

    assert (answer.status_code, answer.content, woken) == (204, b"", True)


async def test_the_same_choice_again_is_200_saying_nothing_changed() -> None:
    registry = Registry(changed=False)

    answer, woken = await _post(registry)

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"uln": ULN, "ability_to_share": 2, "changed": False}
    assert not woken  # nothing was queued for the learner log
    assert registry.asked == [(ULN, AbilityToShare.UNABLE_TO_SHARE, f"learner:{ULN}")]
