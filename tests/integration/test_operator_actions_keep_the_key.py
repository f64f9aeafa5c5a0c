"""Operator audit rows keep the API key the operator acted with, beside their principal (regulator walk, finding 5):
a principal such as `operator:alex` is whatever a key's maker chose (`lrs credentials create --principal
operator:alex`), so a portal user's action and another key's with the same principal read alike without it. Ingest's
maintenance windows and pauses (scheduled, cancelled, paused, resumed), validation's erasures and every service's
dead-letter actions (the PLR projector's too) keep `*_with_key`, their admin API answers give it, and `lrs maintenance
list`, `lrs learners erasures` and `lrs dlq history` show it.

Maintenance and the services' dead letters are driven through their routes with real keys on a database of their
own (no schedule is announced: no decider is held); erasures through the running system and the `lrs` command."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from tests.integration.conftest import SystemUnderTest
from tests.integration.test_cli_against_services import OK, _lrs, _register
from tests.support.learners import new_learner

from ingest.maintenance import MaintenanceStore
from ingest.maintenance_api import router as maintenance_router
from lrs_cli.dlq_commands import actions_table
from lrs_cli.maintenance_commands import history_text
from lrs_contracts.envelope import utc_now
from lrs_platform.credential_store import CredentialStore, key_id_of
from lrs_platform.database import apply_migrations, create_pool
from lrs_platform.identity import Principal
from lrs_platform.parking import DeadLetterOffice, ParkedMessages, Parking
from lrs_platform.parking_api import router as dead_letter_router
from plr_projector.store import OPS_SCHEMA, ProjectorDeadLetterAction, dead_letter_actions, record_dead_letter_action

pytestmark = pytest.mark.integration

ALEX = Principal.parse("operator:alex")
PARKED = "ingest_parked"
CONSUMER = "ingest.keyid-tests"


@pytest.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(fresh_database_url, max_size=4)
    try:
        await CredentialStore(pool).migrate()
        async with pool.acquire() as connection:
            await apply_migrations(connection, "ingest", "ingest.migrations")
            await apply_migrations(connection, OPS_SCHEMA, "plr_projector.ops_migrations")
        await ParkedMessages(pool, PARKED).migrate()
        yield pool
    finally:
        await pool.close()


class _Announced:
    async def announce(self) -> bool:
        return True


async def _two_keys(pool: asyncpg.Pool) -> tuple[str, str]:
    """Alex's portal session key, and another key made with Alex's principal by someone else."""
    store = CredentialStore(pool)
    portal = await store.issue_for_session(ALEX, "alex")
    other = await store.issue(ALEX, "not the portal user", by="operator:someone-else")
    return portal.token, other.token


def _client(app: FastAPI, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test", headers={"Authorization": f"Bearer {token}"}
    )


async def test_maintenance_keeps_the_key_of_each_schedule_cancel_pause_and_resume(pool: asyncpg.Pool) -> None:
    portal, other = await _two_keys(pool)
    portal_key, other_key = key_id_of(portal), key_id_of(other)
    assert portal_key and other_key
    app = FastAPI()
    app.include_router(maintenance_router)
    app.state.credentials = CredentialStore(pool)
    app.state.maintenance = MaintenanceStore(pool)
    app.state.maintenance_announcer = _Announced()
    now = utc_now()
    window = {
        "starts_at": (now + timedelta(days=2)).isoformat(),
        "ends_at": (now + timedelta(days=2, hours=1)).isoformat(),
        "reason": "database upgrade",
    }
    async with _client(app, portal) as by_portal, _client(app, other) as by_other:
        scheduled = await by_portal.post("/v1/admin/maintenance/windows", json=window)
        assert scheduled.status_code == 201, scheduled.text
        window_id = scheduled.json()["window"]["window"]["window_id"]
        cancelled = await by_other.delete(f"/v1/admin/maintenance/windows/{window_id}")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["window"]["cancelled_with_key"] == other_key
        paused = await by_other.post("/v1/admin/maintenance/pause", json={"reason": "impersonation probe"})
        assert paused.status_code == 201, paused.text
        assert paused.json()["pause"]["paused_with_key"] == other_key
        resumed = await by_portal.post("/v1/admin/maintenance/resume")
        assert resumed.status_code == 200, resumed.text
        history = (await by_portal.get("/v1/admin/maintenance")).json()

    (record,) = history["windows"]
    assert (record["scheduled_by"], record["scheduled_with_key"]) == ("operator:alex", portal_key)
    assert (record["cancelled_by"], record["cancelled_with_key"]) == ("operator:alex", other_key)
    (pause,) = history["pauses"]
    assert (pause["paused_by"], pause["paused_with_key"]) == ("operator:alex", other_key)
    assert (pause["resumed_by"], pause["resumed_with_key"]) == ("operator:alex", portal_key)
    listed = history_text(history)
    assert f"scheduled by operator:alex (key {portal_key[:8]}…) at" in listed
    assert f"cancelled by operator:alex (key {other_key[:8]}…) at" in listed
    assert f"paused by operator:alex (key {other_key[:8]}…); resumed by operator:alex (key {portal_key[:8]}…)" in listed


async def test_a_window_or_pause_from_before_keys_were_kept_reads_without_a_key(pool: asyncpg.Pool) -> None:
    store = MaintenanceStore(pool)
    now = utc_now()
    record, _ = await store.add_window(now + timedelta(hours=2), now + timedelta(hours=3), "upgrade", "operator:jo")
    await store.cancel_window(record.window.window_id, "operator:jo")
    await store.pause("incident", "operator:jo")
    await store.resume("operator:jo")
    windows, pauses = await store.history(10)
    assert (windows[0].scheduled_with_key, windows[0].cancelled_with_key) == (None, None)
    assert (pauses[0].paused_with_key, pauses[0].resumed_with_key) == (None, None)
    listed = history_text({"windows": [w.model_dump(mode="json") for w in windows], "pauses": []})
    assert "(scheduled by operator:jo at" in listed and "; cancelled by operator:jo at" in listed


async def test_a_services_dead_letter_skip_keeps_the_key(pool: asyncpg.Pool) -> None:
    _, other = await _two_keys(pool)
    other_key = key_id_of(other)
    assert other_key
    parked = ParkedMessages(pool, PARKED)
    await parked.park([Parking(CONSUMER, "lrs.keyid.v1", 0, 5, b"k", b"{}", 0, "error", None)], dlq_pending=False)
    (row,) = await parked.listing([CONSUMER])

    async def publish(*_: Any, **__: Any) -> None:
        return None

    office = DeadLetterOffice(parked, publish)
    office.register(CONSUMER)
    app = FastAPI()
    app.include_router(dead_letter_router)
    app.state.credentials = CredentialStore(pool)
    app.state.dead_letter_office = office
    async with _client(app, other) as client:
        skipped = await client.post(f"/v1/admin/dlq/{row.id}/skip", json={"reason": "a poison of the tests"})
        assert skipped.status_code == 200, skipped.text
        actions = (await client.get("/v1/admin/dlq/actions")).json()["actions"]
    (action,) = actions
    assert (action["operator"], action["acted_with_key"]) == ("operator:alex", other_key)
    assert f"operator:alex            {other_key[:8]}… skip" in actions_table(actions)


async def test_the_projectors_dead_letter_action_keeps_the_key(pool: asyncpg.Pool) -> None:
    action = ProjectorDeadLetterAction(
        action="skip",
        operator="operator:alex",
        reason="poison",
        replaced=False,
        consumer="plr-projector",
        topic="lrs.plr.events.v1",
        partition=0,
        offset=7,
        event_id=None,
        event_type=None,
        applied=0,
        skipped=1,
        still_parked=0,
        acted_with_key="27ef900d06a208d0",
        batch_id=str(uuid.uuid4()),
    )
    async with pool.acquire() as connection, connection.transaction():
        await record_dead_letter_action(connection, action)
    async with pool.acquire() as connection:
        (kept,) = await dead_letter_actions(connection, 10)
    assert (kept.operator, kept.acted_with_key) == ("operator:alex", "27ef900d06a208d0")
    assert "27ef900d… skip" in actions_table([kept.view()])


async def test_an_erasure_keeps_the_key_and_lrs_learners_erasures_shows_it(
    system: SystemUnderTest, tmp_path: Path
) -> None:
    learner = new_learner()
    uln = learner["uln"]
    await _register(system, tmp_path, [learner])
    principal = "operator:keyid-erasure"
    erased = await _lrs(system, principal, "learners", "erase", uln, "--reason", "a test learner", "--yes", "--json")
    assert erased.returncode == OK, erased.stderr
    key = key_id_of(system.keys[principal])
    assert key
    assert json.loads(erased.stdout)["erased_with_key"] == key
    listed = await _lrs(system, principal, "learners", "erasures", "--uln", uln, "--json")
    assert listed.returncode == OK, listed.stderr
    (audited,) = json.loads(listed.stdout)
    assert (audited["erased_by"], audited["erased_with_key"]) == (principal, key)
    table = await _lrs(system, principal, "learners", "erasures", "--uln", uln)
    assert table.returncode == OK, table.stderr
    assert f"{key[:8]}…" in table.stdout
