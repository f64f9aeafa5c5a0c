"""The learners a portal session looked up, on PostgreSQL: kept sealed with the session's token (the table reads no
ULN), read by that session alone, and gone with the session when the person signs out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.support.portal_accounts import portal_stores

from portal.accounts import LockoutPolicy, Role
from portal.auth import Authentication
from portal.sessions import token_hash

pytestmark = pytest.mark.integration

ULN = "1000000043"


@pytest.fixture
async def stores(fresh_database_url: str) -> AsyncIterator[tuple[Authentication, Any]]:
    async with portal_stores(fresh_database_url, LockoutPolicy()) as portal:
        yield portal.auth, portal.pool


async def test_a_look_up_is_kept_sealed_for_its_own_session_and_ends_with_it(
    stores: tuple[Authentication, Any],
) -> None:
    auth, pool = stores
    _, password = await auth.create_account("ao.finder", "Finder", Role.AO, "RN5133", None, [], by="operator:tests")
    session = (await auth.sign_in("ao.finder", password)).session
    other = (await auth.sign_in("ao.finder", password)).session  # the same person, in another browser
    assert session is not None and other is not None
    look_up = {"base": "", "uln": ULN, "names": {"given_name": "Ann", "family_name": ""}, "after_batch": None}
    look_ups = {"k3y": look_up}

    before = await auth.look_ups(session)
    await auth.add_look_up(session, "k3y", look_up, keep=20)
    stored = await pool.fetchval(
        "SELECT sealed_look_ups FROM portal.sessions WHERE token_hash = $1", token_hash(session.token)
    )

    assert before == {}
    assert ULN.encode() not in stored and b"Ann" not in stored
    assert await auth.look_ups(session) == look_ups
    assert await auth.look_ups(other) == {}
    await auth.sign_out(session.token)
    assert await pool.fetchval("SELECT count(*) FROM portal.sessions WHERE sealed_look_ups IS NOT NULL") == 0


async def test_look_ups_made_at_once_in_two_tabs_are_both_kept_and_only_the_newest_are(
    stores: tuple[Authentication, Any],
) -> None:
    auth, _ = stores
    _, password = await auth.create_account("ao.tabs", "Tabs", Role.AO, "RN5133", None, [], by="operator:tests")
    session = (await auth.sign_in("ao.tabs", password)).session
    assert session is not None

    def look_up(number: int) -> dict[str, Any]:
        return {"base": "", "uln": ULN, "names": {"given_name": f"Tab{number}", "family_name": ""}, "after_batch": None}

    await asyncio.gather(*(auth.add_look_up(session, f"id{number}", look_up(number), keep=20) for number in range(12)))
    assert set(await auth.look_ups(session)) == {f"id{number}" for number in range(12)}

    await auth.add_look_up(session, "newest", look_up(99), keep=3)
    assert len(kept := await auth.look_ups(session)) == 3 and list(kept)[-1] == "newest"
