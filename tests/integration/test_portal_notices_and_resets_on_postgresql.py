"""The portal's sessions and accounts on PostgreSQL, under one person's several tabs and two operators at once: a
session keeps a notice per page it is sent to (two actions at once each keep theirs, each read once, sealed), and an
operator's reset confirmed after the password was set again sets nothing and says who set it (a compare-and-set
under the account row's lock)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.support.portal_accounts import portal_stores

from lrs_platform.credential_store import CredentialStore
from portal.accounts import AccountChange, LockoutPolicy, PasswordChangedMeanwhile, Role
from portal.auth import Authentication

pytestmark = pytest.mark.integration


@pytest.fixture
async def stores(fresh_database_url: str) -> AsyncIterator[tuple[Authentication, CredentialStore, Any]]:
    async with portal_stores(fresh_database_url, LockoutPolicy()) as portal:
        yield portal.auth, portal.credentials, portal.pool


async def test_two_notices_of_one_session_at_once_are_each_kept_sealed_and_read_once(
    stores: tuple[Authentication, CredentialStore, Any],
) -> None:
    auth, _, pool = stores
    _, password = await auth.create_account("oncall", "Oncall", Role.OPERATOR, None, None, [], by="operator:tests")
    session = (await auth.sign_in("oncall", password)).session
    assert session is not None
    key = {"issued": {"what": "API key for ao:RN9093", "secret": "key-s3cr3t"}, "form_id": "a"}
    reset = {"issued": {"what": "New password for nia", "secret": "pw-s3cr3t"}, "form_id": "b"}

    await asyncio.gather(
        auth.keep_notice(session, "/ops/accounts?keys_of=RN9093", key),
        auth.keep_notice(session, "/ops/accounts", reset),
    )
    stored = await pool.fetchval("SELECT sealed_notices FROM portal.sessions WHERE sealed_notices IS NOT NULL")

    assert b"s3cr3t" not in stored
    assert await auth.take_notice(session, "/ops/accounts") == reset
    assert await auth.take_notice(session, "/ops/accounts?keys_of=RN9093") == key
    assert await auth.take_notice(session, "/ops/accounts") is None  # once
    assert await pool.fetchval("SELECT count(*) FROM portal.sessions WHERE sealed_notices IS NOT NULL") == 0


async def test_a_reset_confirmed_before_another_operators_reset_sets_nothing_and_says_who(
    stores: tuple[Authentication, CredentialStore, Any],
) -> None:
    auth, _, pool = stores
    await auth.create_account("nia", "Nia", Role.AO, "RN9037", None, by="operator:root")
    confirmed_at = (await auth.account("nia")).password_set_at  # what both confirmation pages found
    assert confirmed_at is not None

    first = await auth.reset_password("nia", by="operator:one", password_set_at=confirmed_at)
    hash_after_first = await pool.fetchval("SELECT password_hash FROM portal.accounts WHERE username = 'nia'")
    with pytest.raises(PasswordChangedMeanwhile) as meanwhile:
        await auth.reset_password("nia", by="operator:two", password_set_at=confirmed_at)

    assert meanwhile.value.change is AccountChange.PASSWORD_RESET and meanwhile.value.by == "operator:one"
    assert meanwhile.value.at is not None
    assert await pool.fetchval("SELECT password_hash FROM portal.accounts WHERE username = 'nia'") == hash_after_first
    assert (await auth.sign_in("nia", first)).session is not None  # the password shown first works
    changes = await pool.fetch("SELECT change FROM portal.account_changes WHERE subject = 'nia' ORDER BY change_id")
    assert [row["change"] for row in changes] == ["created", "password_reset"]


async def test_two_resets_confirmed_on_one_page_at_once_set_one_password(
    stores: tuple[Authentication, CredentialStore, Any],
) -> None:
    auth, _, _ = stores
    await auth.create_account("nia", "Nia", Role.AO, "RN9037", None, by="operator:root")
    confirmed_at = (await auth.account("nia")).password_set_at

    outcomes = await asyncio.gather(
        auth.reset_password("nia", by="operator:one", password_set_at=confirmed_at),
        auth.reset_password("nia", by="operator:two", password_set_at=confirmed_at),
        return_exceptions=True,
    )

    passwords = [outcome for outcome in outcomes if isinstance(outcome, str)]
    assert len(passwords) == 1 and sum(isinstance(o, PasswordChangedMeanwhile) for o in outcomes) == 1
    assert (await auth.sign_in("nia", passwords[0])).session is not None
