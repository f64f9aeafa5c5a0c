"""The audit of disclosures (decision 0191), on real PostgreSQL with real keys: every answer of
`GET /v1/admin/learners/{uln}/personal-data` leaves a row (who, when, under which ULN, why) written before it is sent;
`GET /v1/admin/learners/personal-data/disclosures` lists them, newest first and a page at a time, to the operators who
may read a learner's data and to no one else; a learner's next answer lists the earlier ones; and an erasure keeps who
read their data and when but empties the reasons, which may name them, even an erasure under way while one is written."""

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
from tests.support.waiting import eventually

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
GIVEN, FAMILY = "Quenivere", "Zdravkowitzka"
NAMING_REASON = f"SAR from {GIVEN} {FAMILY}, ref 2026-117"


@dataclass
class Validation:
    """Validation's routes in-process, on a database of their own, behind the real identity store."""

    pool: asyncpg.Pool
    registry: LearnerRegistry
    credentials: CredentialStore
    client: httpx.AsyncClient

    async def key(self, principal: str, *scopes: str) -> dict[str, str]:
        issued = await self.credentials.issue(Principal.parse(principal, frozenset(scopes)), label="tests")
        return {"Authorization": f"Bearer {issued.token}"}

    async def registered(self) -> str:
        uln = new_learner()["uln"]
        await self.registry.register_learners([Learner(uln, GIVEN, FAMILY, None, 0, 1)], imported_by=DPO)
        return uln

    async def export(self, uln: str, headers: dict[str, str], reason: str | None = None) -> httpx.Response:
        params = {"reason": reason} if reason is not None else None
        return await self.client.get(f"/v1/admin/learners/{uln}/personal-data", params=params, headers=headers)

    async def disclosures(self, headers: dict[str, str], **params: Any) -> httpx.Response:
        return await self.client.get("/v1/admin/learners/personal-data/disclosures", params=params, headers=headers)

    async def rows(self, uln: str) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self.pool.fetch(
            "SELECT uln, read_by, reason, reason_erased FROM validation.disclosures WHERE uln = $1 ORDER BY read_at",
            uln,
        )
        return rows


@pytest.fixture
async def validation(fresh_database_url: str) -> AsyncIterator[Validation]:
    pool = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=6)
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
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation") as client:
        yield Validation(pool, registry, credentials, client)
    await pool.close()


async def test_an_export_leaves_a_disclosure_listed_to_the_operator_and_the_next_export_lists_it(
    validation: Validation,
) -> None:
    uln = await validation.registered()
    dpo = await validation.key(DPO, "erasure", "support")

    first = await validation.export(uln, dpo, reason=" SAR 2026-117 ")

    assert first.status_code == 200, first.text
    assert [tuple(row) for row in await validation.rows(uln)] == [(uln, DPO, "SAR 2026-117", False)]
    recorded = first.json()["disclosure"]
    assert (recorded["uln"], recorded["read_by"], recorded["reason"]) == (uln, DPO, "SAR 2026-117")
    assert first.json()["earlier_disclosures"] == []

    listed = await validation.disclosures(dpo, uln=uln)
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"disclosures": [recorded], "next": None}

    second = await validation.export(uln, await validation.key("operator:desk"))  # no reason, a key without scopes

    assert second.status_code == 200, second.text
    assert second.json()["earlier_disclosures"] == [recorded]
    assert second.json()["disclosure"]["reason"] is None
    newest_first = (await validation.disclosures(dpo, uln=uln)).json()["disclosures"]
    assert [each["read_by"] for each in newest_first] == ["operator:desk", DPO]
    page = (await validation.disclosures(dpo, uln=uln, limit=1)).json()
    assert [each["read_by"] for each in page["disclosures"]] == ["operator:desk"]
    following = (await validation.disclosures(dpo, uln=uln, limit=1, after=page["next"])).json()
    assert (following["disclosures"], following["next"]) == ([recorded], None)
    everyone = (await validation.disclosures(dpo)).json()["disclosures"]
    assert {each["disclosure_id"] for each in everyone} >= {recorded["disclosure_id"]}


async def test_a_merged_learners_answer_lists_the_disclosures_under_each_of_their_ulns(validation: Validation) -> None:
    master, merged = await validation.registered(), await validation.registered()
    await validation.registry.merge(master, merged)
    dpo = await validation.key(DPO)

    under_the_master = await validation.export(master, dpo, reason="SAR 1")
    under_the_merged = await validation.export(merged, dpo, reason="SAR 2")

    assert under_the_merged.status_code == 200, under_the_merged.text
    assert under_the_merged.json()["earlier_disclosures"] == [under_the_master.json()["disclosure"]]


async def test_the_audit_and_the_export_are_refused_to_anyone_but_an_operator_with_the_erasure_scope(
    validation: Validation,
) -> None:
    uln = await validation.registered()
    assert (await validation.export(uln, await validation.key(DPO, "erasure"))).status_code == 200

    for principal, scopes, status in (
        ("ao:RN5133", (), 403),
        (f"learner:{uln}", (), 403),
        ("provider:10004567", (), 403),
        ("operator:desk", ("support", "registry"), 403),
    ):
        headers = await validation.key(principal, *scopes)
        listing = await validation.disclosures(headers, uln=uln)
        assert listing.status_code == status, (principal, listing.text)
        assert DPO not in listing.text
        assert (await validation.export(uln, headers, reason="curious")).status_code == status
    assert (await validation.disclosures({})).status_code == 401
    assert [row["read_by"] for row in await validation.rows(uln)] == [DPO]  # a refused export discloses nothing


async def test_a_reason_with_a_line_break_is_refused_and_nothing_is_disclosed(validation: Validation) -> None:
    uln = await validation.registered()

    refused = await validation.export(uln, await validation.key(DPO), reason="SAR\r\nX-Injected: yes")

    assert refused.status_code == 422, refused.text
    assert GIVEN not in refused.text
    assert await validation.rows(uln) == []


async def test_an_erasure_keeps_who_read_the_learners_data_and_when_but_not_why(validation: Validation) -> None:
    uln = await validation.registered()
    dpo = await validation.key(DPO)
    before = (await validation.export(uln, dpo, reason=NAMING_REASON)).json()["disclosure"]

    await validation.registry.erase(uln, DPO, "asked by the learner")

    [kept] = (await validation.disclosures(dpo, uln=uln)).json()["disclosures"]
    assert kept == {**before, "reason": None, "reason_erased": True}
    after = await validation.export(uln, dpo, reason=NAMING_REASON)  # the erased learner's own request, say
    assert after.status_code == 200, after.text
    assert (after.json()["disclosure"]["reason"], after.json()["disclosure"]["reason_erased"]) == (None, True)
    assert after.json()["earlier_disclosures"] == [kept]
    held = await validation.pool.fetch("SELECT * FROM validation.disclosures WHERE uln = $1", uln)
    assert len(held) == 2
    assert not [row for row in held if GIVEN in str(dict(row))]


async def test_a_disclosure_written_while_an_erasure_is_under_way_keeps_no_reason(validation: Validation) -> None:
    uln = await validation.registered()
    dpo = await validation.key(DPO)
    async with validation.pool.acquire() as erasing, erasing.transaction():
        # the erasure's change of the registry row (LearnerRegistry._erase_one), not yet committed
        await erasing.execute(
            "UPDATE validation.learners SET given_name = NULL, family_name = NULL, date_of_birth = NULL,"
            " gender = NULL, erased_at = now() WHERE uln = $1",
            uln,
        )
        export = asyncio.create_task(validation.export(uln, dpo, reason=NAMING_REASON))

        async def waiting_for_the_erasure() -> bool:
            return bool(
                await validation.pool.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND query LIKE '%FROM validation.learners WHERE uln = $1 FOR SHARE%'"
                )
            )

        await eventually(waiting_for_the_erasure, within=30, what="the disclosure waiting for the erasure")
    answer = await export

    assert answer.status_code == 200, answer.text
    assert GIVEN not in answer.text  # read after the erasure it waited for: nothing of the details is left
    assert [tuple(row) for row in await validation.rows(uln)] == [(uln, DPO, None, True)]
