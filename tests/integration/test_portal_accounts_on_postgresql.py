"""The portal's accounts on PostgreSQL. Decision 0124: an operator's duties are stored with the account, the
key of each session carries them (the key the services authenticate is limited as a scoped operator key is),
and changing them revokes the keys of the sessions already open; the table refuses duties on an AO user's
account. Decision 0126: each change is kept with who made it, in the change's own transaction. Decisions 0140 and
0147: no change leaves no enabled operator with the accounts duty, or with every duty, not even two at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from tests.support.portal_accounts import portal_stores

from lrs_platform.credential_store import CredentialStore
from lrs_platform.identity import OperatorScope, Principal, PrincipalKind
from portal.accounts import (
    AccountListing,
    LastAccountsOperator,
    LastEveryDutyOperator,
    LockoutPolicy,
    PasswordChange,
    Role,
)
from portal.auth import Authentication, Disabled
from portal.sessions import token_hash
from portal.store import AccountDisabled, AccountExists, AccountNotFound, AccountStore

pytestmark = pytest.mark.integration


@pytest.fixture
async def stores(fresh_database_url: str) -> AsyncIterator[tuple[Authentication, CredentialStore, Any]]:
    async with portal_stores(fresh_database_url, LockoutPolicy()) as portal:
        yield portal.auth, portal.credentials, portal.pool


async def test_a_session_key_is_limited_to_the_account_duties_until_they_change(
    stores: tuple[Authentication, CredentialStore, Any],
) -> None:
    auth, credentials, _ = stores
    _, password = await auth.create_account(
        "oncall", "Oncall", Role.OPERATOR, None, None, ["dead-letters"], by="operator:tests"
    )

    first = (await auth.sign_in("oncall", password)).session
    assert first is not None
    principal = await credentials.authenticate(first.service_key)
    assert isinstance(principal, Principal) and principal.scopes == frozenset({"dead-letters"})
    assert principal.may_use([OperatorScope.DEAD_LETTERS]) and not principal.may_use([OperatorScope.ERASURE])

    changed = await auth.set_duties("oncall", ["erasure", "rebuild"], by="operator:tests")
    assert changed.scopes == frozenset({"erasure", "rebuild"})
    assert await auth.session_for(first.token) is None
    assert await credentials.authenticate(first.service_key) is None

    second = (await auth.sign_in("oncall", password)).session
    assert second is not None
    assert await credentials.authenticate(second.service_key) == Principal.parse(
        "operator:oncall", frozenset({"erasure", "rebuild"})
    )
    await auth.set_duties("oncall", [], by="operator:tests")
    third = (await auth.sign_in("oncall", password)).session
    assert third is not None
    assert await credentials.authenticate(third.service_key) == Principal.parse("operator:oncall")


async def test_the_table_keeps_duties_to_operators(stores: tuple[Authentication, CredentialStore, Any]) -> None:
    auth, _, pool = stores
    await auth.create_account("nia", "Nia", Role.AO, "RN5133", None, by="operator:tests")

    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute("UPDATE portal.accounts SET scopes = '{support}' WHERE username = 'nia'")
    assert (await auth.account("nia")).scopes == frozenset()


async def test_each_change_is_kept_in_its_own_transaction_with_who_made_it(
    stores: tuple[Authentication, CredentialStore, Any],
) -> None:
    auth, _, pool = stores
    await auth.create_account("keeper", "Keeper", Role.OPERATOR, None, None, by="operator:root")  # decision 0140
    await auth.create_account("oncall", "Oncall", Role.OPERATOR, None, None, ["rebuild"], by="operator:root")
    with pytest.raises(AccountExists):  # refused: nothing kept
        await auth.create_account("oncall", "Again", Role.AO, "RN5133", None, by="operator:root")
    await auth.set_duties("oncall", [], by="operator:root")
    await auth.reset_password("oncall", by="operator:desk")
    assert (await auth.disable_account("oncall", by="operator:desk")).done
    assert not (await auth.disable_account("oncall", by="operator:desk")).done  # already disabled: nothing changes
    with pytest.raises(AccountNotFound):
        await auth.set_duties("nobody", ["keys"], by="operator:root")
    issued = await auth.issue_ao_key("RN5133", "results system", by="operator:desk")
    assert await auth.revoke_ao_key("not-a-key", by="operator:desk") is None  # nothing revoked: nothing kept

    newest = await auth.changes(limit=3)
    older = await auth.changes(limit=10, older_than=newest[-1].change_id)

    assert [(c.changed_by, c.subject, c.change.value, c.detail) for c in newest + older] == [
        ("operator:desk", "ao:RN5133", "ao_key_issued", f"key {issued.key_id}"),
        ("operator:desk", "oncall", "disabled", ""),
        ("operator:desk", "oncall", "password_reset", ""),
        ("operator:root", "oncall", "duties_changed", "every duty"),
        ("operator:root", "oncall", "created", "operator with duties rebuild"),
        ("operator:root", "keeper", "created", "operator with every duty"),
    ]
    assert await pool.fetchval("SELECT count(*) FROM portal.account_changes") == 6


async def test_a_change_whose_record_fails_is_not_made(stores: tuple[Authentication, CredentialStore, Any]) -> None:
    """The record and its change commit together: a record refused takes its change back with it."""
    auth, credentials, pool = stores
    await auth.create_account("nia", "Nia", Role.AO, "RN5133", None, by="operator:root")
    await pool.execute("ALTER TABLE portal.account_changes ADD CHECK (changed_by <> 'operator:fail')")

    with pytest.raises(asyncpg.CheckViolationError):
        await auth.disable_account("nia", by="operator:fail")
    with pytest.raises(asyncpg.CheckViolationError):
        await auth.issue_ao_key("RN5133", "results system", by="operator:fail")

    assert (await auth.account("nia")).disabled_at is None
    assert await credentials.listing(PrincipalKind.AO) == []


async def test_an_own_password_change_loses_to_a_reset_made_meanwhile_and_is_kept_once_made(
    stores: tuple[Authentication, CredentialStore, Any],
) -> None:
    """Decision 0127 on PostgreSQL: the change is made only if the password is still the one checked."""
    auth, _, pool = stores
    await auth.create_account("nia", "Nia", Role.AO, "RN5133", None, by="operator:root")
    assert (await auth.account("nia")).password_given

    store = AccountStore(pool)
    account = await auth.account("nia")
    checked_hash = await pool.fetchval("SELECT password_hash FROM portal.accounts WHERE username = 'nia'")
    reset = await auth.reset_password("nia", by="operator:root")  # after the check, before the change
    assert not await store.change_own_password(account, checked_hash, "a hash")
    assert (await auth.sign_in("nia", reset)).session is not None

    assert await auth.change_own_password("nia", reset, "my own words, four of them") is PasswordChange.CHANGED
    assert not (await auth.account("nia")).password_given
    assert (await auth.sign_in("nia", reset)).session is None
    assert (await auth.sign_in("nia", "my own words, four of them")).session is not None
    assert [(change.changed_by, change.change.value) for change in await auth.changes(limit=2)] == [
        ("nia (ao:RN5133)", "password_changed"),
        ("operator:root", "password_reset"),
    ]


async def test_accounts_are_listed_by_username_a_page_at_a_time_as_asked(
    stores: tuple[Authentication, CredentialStore, Any],
) -> None:
    auth, _, _ = stores
    for username, ao_id in (("b_ann", "RN5133"), ("bxann", "RN5133"), ("bea", "RN9093"), ("cy", "RN5133")):
        await auth.create_account(username, "Staff", Role.AO, ao_id, None, by="operator:tests")
    await auth.create_account("boss", "Boss", Role.OPERATOR, None, None, ["rebuild"], by="operator:tests")

    first, after = await auth.accounts(AccountListing(limit=2))
    rest, last = await auth.accounts(AccountListing(after=after, limit=10))
    of_ao, _ = await auth.accounts(AccountListing(ao_id="RN5133", starting="b"))
    operators, _ = await auth.accounts(AccountListing(role=Role.OPERATOR))
    literal, _ = await auth.accounts(AccountListing(starting="b_"))  # `_` is no wildcard here

    assert [a.username for a in first] == ["b_ann", "bea"] and after == "bea"
    assert [a.username for a in rest] == ["boss", "bxann", "cy"] and last is None
    assert [a.username for a in of_ao] == ["b_ann", "bxann"]
    assert [a.username for a in operators] == ["boss"]
    assert [a.username for a in literal] == ["b_ann"]


async def test_a_page_notice_is_kept_sealed_for_its_page_and_read_once(
    stores: tuple[Authentication, CredentialStore, Any],
) -> None:
    """Decision 0130: what an action did waits in its session for the page the browser is sent to."""
    auth, _, pool = stores
    _, password = await auth.create_account("oncall", "Oncall", Role.OPERATOR, None, None, [], by="operator:tests")
    session = (await auth.sign_in("oncall", password)).session
    other = (await auth.sign_in("oncall", password)).session
    assert session is not None and other is not None

    await auth.keep_notice(session, "/ops/accounts", {"issued": {"what": "Password for nia", "secret": "s3cr3t-pw"}})
    stored = await pool.fetchval("SELECT sealed_notices FROM portal.sessions WHERE sealed_notices IS NOT NULL")

    assert b"s3cr3t-pw" not in stored
    assert await auth.take_notice(other, "/ops/accounts") is None  # another session's page
    assert await auth.take_notice(session, "/ops/keyring") is None  # another page
    assert await auth.take_notice(session, "/ops/accounts") == {
        "issued": {"what": "Password for nia", "secret": "s3cr3t-pw"}
    }
    assert await auth.take_notice(session, "/ops/accounts") is None  # once
    assert await pool.fetchval("SELECT count(*) FROM portal.sessions WHERE sealed_notices IS NOT NULL") == 0


async def test_a_disabled_account_is_enabled_again_once_and_its_password_is_not_reset_meanwhile(
    stores: tuple[Authentication, CredentialStore, Any],
) -> None:
    auth, _, pool = stores
    _, password = await auth.create_account("nia", "Nia", Role.AO, "RN9037", None, by="operator:root")
    await auth.disable_account("nia", by="operator:root")

    with pytest.raises(AccountDisabled):
        await auth.reset_password("nia", by="operator:root")
    assert await auth.enable("nia", by="operator:root") is True
    assert await auth.enable("nia", by="operator:root") is False  # not disabled: nothing kept
    signed_in = await auth.sign_in("nia", password)

    assert signed_in.session is not None  # the password as it was
    changes = await pool.fetch("SELECT change FROM portal.account_changes WHERE subject = 'nia' ORDER BY change_id")
    assert [row["change"] for row in changes] == ["created", "disabled", "enabled"]
    with pytest.raises(AccountNotFound):
        await auth.enable("nobody", by="operator:root")


async def test_a_link_sent_before_an_account_was_disabled_never_works_again(
    stores: tuple[Authentication, CredentialStore, Any],
) -> None:
    """Decision 0128: "a disabled account's links stop working too" — for good: it worked again once the account
    was enabled, and an account is often disabled because someone else may hold what was sent to it."""
    auth, _, pool = stores
    await auth.create_account("nia", "Nia", Role.AO, "RN9037", "nia@ao.example", by="operator:root")
    token = "a" * 43
    await pool.execute(
        "INSERT INTO portal.password_reset_links (token_hash, username, password_set_at, expires_at)"
        " SELECT $1, username, password_set_at, now() + interval '1 hour' FROM portal.accounts WHERE username = 'nia'",
        token_hash(token),
    )
    assert await auth.reset_link_holder(token) is not None

    await auth.disable_account("nia", by="operator:root")
    await auth.enable("nia", by="operator:root")

    assert await auth.reset_link_holder(token) is None


async def test_two_changes_at_once_leave_an_enabled_operator_with_every_duty(
    stores: tuple[Authentication, CredentialStore, Any],
) -> None:
    auth, _, pool = stores
    for username in ("root", "root2"):
        await auth.create_account(username, username, Role.OPERATOR, None, None, by="operator:tests")
    await auth.create_account("desk", "Desk", Role.OPERATOR, None, None, ["accounts"], by="operator:tests")

    outcomes = await asyncio.gather(
        auth.disable_account("root", by="operator:root2"),
        auth.set_duties("root2", ["accounts"], by="operator:root"),
        return_exceptions=True,
    )

    assert sum(isinstance(outcome, LastEveryDutyOperator) for outcome in outcomes) == 1, outcomes
    roots = [await auth.account(username) for username in ("root", "root2")]
    (stays,) = [root.username for root in roots if root.disabled_at is None and not root.scopes]
    with pytest.raises(LastEveryDutyOperator, match=f"{stays} is the last enabled operator with every duty"):
        await auth.disable_account(stays, by="operator:desk")
    with pytest.raises(LastEveryDutyOperator):
        await auth.set_duties(stays, ["accounts", "support"], by="operator:tests")
    assert await pool.fetchval("SELECT count(*) FROM portal.account_changes WHERE change <> 'created'") == 1


async def test_two_changes_at_once_leave_an_enabled_operator_with_the_accounts_duty(
    stores: tuple[Authentication, CredentialStore, Any],
) -> None:
    """Accounts made before decision 0147: none with every duty, two with the accounts duty."""
    auth, _, _ = stores
    for username in ("desk", "desk2"):
        await auth.create_account(username, username, Role.OPERATOR, None, None, ["accounts"], by="operator:tests")

    outcomes = await asyncio.gather(
        auth.disable_account("desk", by="operator:desk2"),
        auth.disable_account("desk2", by="operator:desk"),
        return_exceptions=True,
    )

    assert sum(isinstance(outcome, Disabled) and outcome.done for outcome in outcomes) == 1, outcomes
    assert sum(isinstance(outcome, LastAccountsOperator) for outcome in outcomes) == 1, outcomes


async def test_duties_saved_as_they_are_change_nothing_and_keep_the_sessions(
    stores: tuple[Authentication, CredentialStore, Any],
) -> None:
    auth, _, pool = stores
    _, password = await auth.create_account(
        "steady", "Steady", Role.OPERATOR, None, None, ["dead-letters", "support"], by="operator:tests"
    )
    session = (await auth.sign_in("steady", password)).session
    assert session is not None

    _, changed = await auth.change_duties("steady", ["support", "dead-letters"], by="operator:tests")

    assert changed is False
    assert await auth.session_for(session.token) is not None
    kept = await pool.fetchval(
        "SELECT count(*) FROM portal.account_changes WHERE subject = 'steady' AND change = 'duties_changed'"
    )
    assert kept == 0
