"""Disabling an operator's portal account on PostgreSQL revokes the API keys made under their name
(`operator:<username>`) in the disabling's own transaction, kept as revoked by whoever disabled it; not their
sessions' keys by that path (the sessions end as before), nor anyone else's; a disabling refused revokes none."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.support.portal_accounts import portal_stores

from lrs_platform.credential_store import CredentialStore
from lrs_platform.identity import Principal, PrincipalKind
from portal.accounts import LastOperatorWithPower, LockoutPolicy, Role
from portal.auth import Authentication

pytestmark = pytest.mark.integration


@pytest.fixture
async def stores(fresh_database_url: str) -> AsyncIterator[tuple[Authentication, CredentialStore, Any]]:
    async with portal_stores(fresh_database_url, LockoutPolicy()) as portal:
        yield portal.auth, portal.credentials, portal.pool


async def test_an_operators_own_keys_are_revoked_with_their_account_and_nobody_elses(
    stores: tuple[Authentication, CredentialStore, Any],
) -> None:
    auth, credentials, pool = stores
    await auth.create_account("ops.lead", "Lead", Role.OPERATOR, None, None, by="operator:root")
    _, password = await auth.create_account(
        "ops2", "Ops Two", Role.OPERATOR, None, None, ["support"], by="operator:root"
    )
    laptop = await credentials.issue(Principal(PrincipalKind.OPERATOR, "ops2"), "ops2 laptop", by="me@host")
    scoped = await credentials.issue(
        Principal(PrincipalKind.OPERATOR, "ops2", frozenset({"dead-letters"})), "ops2 on-call"
    )
    job = await credentials.issue(Principal(PrincipalKind.OPERATOR, "ops2.job"), "a job named like them")
    session = (await auth.sign_in("ops2", password)).session
    assert session is not None
    assert await credentials.authenticate(laptop.token) is not None  # cached by this process, as a request does

    assert [key.key_id for key in await auth.own_keys(await auth.account("ops2"))] == [laptop.key_id, scoped.key_id]
    disabled = await auth.disable_account("ops2", by="operator:desk (API key)", reason="has left")

    assert disabled.done
    assert [key.key_id for key in disabled.keys_revoked] == [laptop.key_id, scoped.key_id]
    assert [key.label for key in disabled.keys_revoked] == ["ops2 laptop", "ops2 on-call"]
    assert await credentials.authenticate(laptop.token) is None  # at once in this process
    assert await credentials.authenticate(scoped.token) is None
    assert await credentials.authenticate(session.service_key) is None  # the session ended, as before
    assert await credentials.authenticate(job.token) is not None
    revoked_by = dict(await pool.fetch("SELECT key_id, changed_by FROM identity.key_changes WHERE change = 'revoked'"))
    assert revoked_by[laptop.key_id] == "operator:desk (API key), disabling the portal account ops2"
    assert revoked_by[scoped.key_id] == "operator:desk (API key), disabling the portal account ops2"
    assert session.service_key.split("_")[1] not in revoked_by  # a session's key is ended with its session
    assert await auth.own_keys(await auth.account("ops2")) == []


async def test_a_disabling_refused_revokes_no_key(stores: tuple[Authentication, CredentialStore, Any]) -> None:
    auth, credentials, _ = stores
    await auth.create_account("ops.lead", "Lead", Role.OPERATOR, None, None, by="operator:root")
    laptop = await credentials.issue(Principal(PrincipalKind.OPERATOR, "ops.lead"), "lead laptop")

    with pytest.raises(LastOperatorWithPower):
        await auth.disable_account("ops.lead", by="operator:desk (API key)", reason="testing")

    assert await credentials.authenticate(laptop.token) is not None


async def test_an_ao_users_disabling_leaves_the_aos_keys(stores: tuple[Authentication, CredentialStore, Any]) -> None:
    auth, credentials, _ = stores
    await auth.create_account("sam.hire", "Sam Hire", Role.AO, "RN5133", None, by="operator:root")
    aos = await auth.issue_ao_key("RN5133", "exams office script", by="operator:desk")

    disabled = await auth.disable_account("sam.hire", by="operator:desk", reason="has left")

    assert disabled.done and disabled.keys_revoked == ()
    assert await credentials.authenticate(aos.token) is not None
