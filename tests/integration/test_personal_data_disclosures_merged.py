"""The audit of disclosures listed by ULN (`GET /v1/admin/learners/personal-data/disclosures?uln=`, `lrs learners
disclosures --uln`) follows the learner's merges as their own personal-data answer does (decision 0191): a ULN names
one person, and the answers asked under any ULN of theirs (merged either way, along chains) are listed, newest first,
a page at a time; another learner's are not."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from tests.support.learners import new_learner

from lrs_domain.reference import Learner
from lrs_platform.credential_store import CredentialStore
from lrs_platform.database import apply_migrations
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.keyring import KEYRING_KEY_VARIABLE, Keyring, keyring_key_from, migrate
from validation.api import router
from validation.disclosures import Disclosures
from validation.learner_registry import LearnerRegistry

pytestmark = pytest.mark.integration

DPO = "operator:dpo"


@dataclass
class Validation:
    """Validation's routes in-process, on a database of their own, behind the real identity store."""

    registry: LearnerRegistry
    client: httpx.AsyncClient
    headers: dict[str, str]

    async def registered(self) -> str:
        uln = new_learner()["uln"]
        await self.registry.register_learners([Learner(uln, "Quenivere", "Zdravkowitzka", None, 0, 1)], imported_by=DPO)
        return uln

    async def export(self, uln: str, reason: str) -> str:
        answer = await self.client.get(
            f"/v1/admin/learners/{uln}/personal-data", params={"reason": reason}, headers=self.headers
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["disclosure"]["disclosure_id"])

    async def listed(self, **params: Any) -> dict[str, Any]:
        answer = await self.client.get(
            "/v1/admin/learners/personal-data/disclosures", params=params, headers=self.headers
        )
        assert answer.status_code == 200, answer.text
        listed: dict[str, Any] = answer.json()
        return listed


@pytest.fixture
async def validation(fresh_database_url: str) -> AsyncIterator[Validation]:
    pool = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=4)
    assert pool is not None
    async with pool.acquire() as connection:
        await apply_migrations(connection, "validation", "validation.migrations")
    await migrate(pool)
    credentials = CredentialStore(pool)
    await credentials.migrate()
    registry = LearnerRegistry(pool, Keyring(pool, keyring_key_from(os.environ[KEYRING_KEY_VARIABLE])))
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.state.learner_registry = registry
    app.state.disclosures = Disclosures(pool)
    app.state.credentials = credentials
    app.state.outbox_wake = asyncio.Event()
    issued = await credentials.issue(Principal.parse(DPO, frozenset({"erasure"})), label="tests")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation") as client:
        yield Validation(registry, client, {"Authorization": f"Bearer {issued.token}"})
    await pool.close()


async def test_the_disclosures_of_a_uln_are_those_under_every_uln_of_the_learner(validation: Validation) -> None:
    first, master, last, stranger = [await validation.registered() for _ in range(4)]
    await validation.registry.merge(master, first)  # first -> master -> last: one person along the chain
    await validation.registry.merge(last, master)
    under_first = await validation.export(first, "SAR 1")
    under_master = await validation.export(master, "SAR 2")
    under_last = await validation.export(last, "SAR 3")
    await validation.export(stranger, "SAR 4")

    for uln in (first, master, last):
        listed = await validation.listed(uln=uln)
        assert [each["disclosure_id"] for each in listed["disclosures"]] == [under_last, under_master, under_first]
        assert listed["next"] is None

    page = await validation.listed(uln=first, limit=2)
    assert [each["disclosure_id"] for each in page["disclosures"]] == [under_last, under_master]
    following = await validation.listed(uln=first, limit=2, after=page["next"])
    assert ([each["disclosure_id"] for each in following["disclosures"]], following["next"]) == ([under_first], None)
    assert [each["uln"] for each in (await validation.listed(uln=stranger))["disclosures"]] == [stranger]


async def test_the_disclosures_of_an_erased_merged_learner_are_listed_under_any_of_their_ulns(
    validation: Validation,
) -> None:
    master, merged = await validation.registered(), await validation.registered()
    await validation.registry.merge(master, merged)
    under_merged = await validation.export(merged, "SAR 1")
    await validation.registry.erase(master, DPO, "asked by the learner")

    listed = await validation.listed(uln=master)

    assert [(each["disclosure_id"], each["reason"]) for each in listed["disclosures"]] == [(under_merged, None)]
