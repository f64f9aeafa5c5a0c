"""A learner's changes of sharing beyond the latest 50, on PostgreSQL: the operators' record
(`GET /v1/admin/learners/{uln}/sharing-changes`, all that is left of an erased learner's choice) pages through every
one of them by `after`, and the learner's own answer, still the latest 50, says older ones are kept (`more`)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime

import asyncpg
import httpx
import pytest
from tests.support.databases import prepare_validation_database

from lrs_contracts.learner import AbilityToShare
from lrs_domain.reference import Learner
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.keyring import Keyring, KeyringKey
from lrs_platform.paging import PagePosition
from validation.api import router
from validation.learner_registry import LearnerRegistry

pytestmark = pytest.mark.integration

ULN = "1000000043"
CHANGES = 59


def _client(store: LearnerRegistry, principal: str) -> httpx.AsyncClient:
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse(principal)
    app.state.learner_registry = store
    app.state.outbox_wake = asyncio.Event()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation")


async def test_59_changes_page_as_50_then_9_by_after_and_the_learner_is_told_of_older_ones(pool: asyncpg.Pool) -> None:
    await prepare_validation_database(pool)
    store = LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))
    assert await store.register_learner(
        Learner(ULN, "Amelia", "Realperson", date(2004, 3, 2), 2, AbilityToShare.SHARES), registered_by_provider=None
    )
    # the learner opting out and in again, each a change (the same choice again would record nothing)
    for change in range(CHANGES):
        ability = AbilityToShare.UNABLE_TO_SHARE if change % 2 == 0 else AbilityToShare.SHARES
        await store.change_sharing(ULN, ability, f"learner:{ULN}")
    every = await store.sharing_changes([ULN], limit=1000)
    assert len(every) == CHANGES

    async with _client(store, "operator:support") as operator:
        first = await operator.get(f"/v1/admin/learners/{ULN}/sharing-changes", params={"limit": 50})
        assert first.status_code == 200, first.text
        rest = await operator.get(
            f"/v1/admin/learners/{ULN}/sharing-changes", params={"limit": 50, "after": first.json()["next"]}
        )
        assert rest.status_code == 200, rest.text
    async with _client(store, f"learner:{ULN}") as themself:
        own = await themself.get(f"/v1/learners/{ULN}/sharing")
        assert own.status_code == 200, own.text

    assert (len(first.json()["changes"]), len(rest.json()["changes"])) == (50, 9)
    assert rest.json()["next"] is None
    paged = [
        (change["ability_to_share"], datetime.fromisoformat(change["changed_at"]))
        for change in first.json()["changes"] + rest.json()["changes"]
    ]
    # every change once, newest first as recorded: the latest the learner's last choice, the oldest their first opt-out
    assert paged == [(int(change.ability_to_share), change.changed_at) for change in every]
    assert paged[0][0] == paged[-1][0] == AbilityToShare.UNABLE_TO_SHARE

    assert len(own.json()["changes"]) == 50
    assert own.json()["more"] is True

    # a position made up by hand beyond every change id PostgreSQL holds pages from the latest, as no `after` does
    made_up = PagePosition(every[0].changed_at, uuid.UUID(int=2**128 - 1))
    assert await store.sharing_changes([ULN], limit=3, after=made_up) == every[:3]
