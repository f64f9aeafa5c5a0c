"""Portal sign-ins racing each other and a password reset, on PostgreSQL: guesses sent at once are each
counted and no more than the lock-out allows are checked; a reset ends a sign-in already under way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from tests.support.portal_accounts import PortalStores, portal_stores

from portal import passwords
from portal.accounts import LockoutPolicy, Role, SignInOutcome
from portal.store import SessionStore

LOCKOUT = LockoutPolicy(failures=5, lock_for=timedelta(minutes=15))
WITHIN = 30.0


@pytest.fixture
async def portal(fresh_database_url: str) -> AsyncIterator[PortalStores]:
    async with portal_stores(fresh_database_url, LOCKOUT) as stores:
        yield stores


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Every password hash checked (None: the decoy of an unknown name)."""
    hashes: list[str | None] = []
    verify = passwords.verify_password

    def counted(password_hash: str | None, password: str) -> bool:
        hashes.append(password_hash)
        return verify(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", counted)
    return hashes


async def test_wrong_passwords_sent_at_once_are_each_counted_and_lock_after_the_threshold_checks(
    portal: PortalStores, checked: list[str | None]
) -> None:
    _, password = await portal.auth.create_account("victim", "Vic Tim", Role.AO, "RN5133", None, by="operator:tests")

    results = await asyncio.wait_for(
        asyncio.gather(*(portal.auth.sign_in("victim", f"wrong-{n}") for n in range(20))), WITHIN
    )

    row = await portal.pool.fetchrow(
        "SELECT failed_attempts, locked_until FROM portal.accounts WHERE username = $1", "victim"
    )
    assert row["locked_until"] is not None
    # the account's hash is checked at most `failures` times; a locked attempt checks only the decoy (None), so that
    # it answers as slowly as a check would
    assert len([stored for stored in checked if stored is not None]) <= LOCKOUT.failures
    outcomes = [result.outcome for result in results]
    assert outcomes.count(SignInOutcome.WRONG_CREDENTIALS) == LOCKOUT.failures - 1
    assert outcomes.count(SignInOutcome.LOCKED) == 20 - (LOCKOUT.failures - 1)

    checked.clear()
    assert (await portal.auth.sign_in("victim", password)).outcome is SignInOutcome.LOCKED
    assert checked == [None], "a locked account's password is not checked, not even the right one: the decoy is"


class HeldAfterTheCheck(SessionStore):
    """Holds each session's creation, which comes after the password check, until `release` is set."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool)
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    async def create(self, *args: Any, **kwargs: Any) -> Any:
        self.reached.set()
        await self.release.wait()
        return await super().create(*args, **kwargs)


async def test_a_password_reset_ends_a_sign_in_already_past_its_password_check(portal: PortalStores) -> None:
    _, old_password = await portal.auth.create_account(
        "victim", "Vic Tim", Role.AO, "RN5133", None, by="operator:tests"
    )
    held = HeldAfterTheCheck(portal.pool)
    signing_in = asyncio.create_task(portal.with_sessions(held).sign_in("victim", old_password))
    await asyncio.wait_for(held.reached.wait(), WITHIN)

    await portal.auth.reset_password("victim", by="operator:tests")
    held.release.set()
    result = await asyncio.wait_for(signing_in, WITHIN)

    assert result.session is None or await portal.auth.session_for(result.session.token) is None
    assert await portal.live_sessions_of("victim") == 0
    assert await portal.live_session_keys_of("victim") == 0
    assert result.outcome is SignInOutcome.WRONG_CREDENTIALS


async def test_a_duties_change_ends_a_sign_in_already_past_its_password_check(portal: PortalStores) -> None:
    """Decision 0124: the session's key carries the duties the sign-in read; narrowed meanwhile, no session
    with the wider key is left open."""
    await portal.auth.create_account(
        "keeper", "Kee Per", Role.OPERATOR, None, None, by="operator:tests"
    )  # decision 0140
    _, password = await portal.auth.create_account(
        "suspect", "Sus Pect", Role.OPERATOR, None, None, by="operator:tests"
    )
    held = HeldAfterTheCheck(portal.pool)
    signing_in = asyncio.create_task(portal.with_sessions(held).sign_in("suspect", password))
    await asyncio.wait_for(held.reached.wait(), WITHIN)

    await portal.auth.set_duties("suspect", ["dead-letters"], by="operator:tests")
    held.release.set()
    result = await asyncio.wait_for(signing_in, WITHIN)

    assert result.session is None or await portal.auth.session_for(result.session.token) is None
    assert await portal.live_sessions_of("suspect") == 0
    assert await portal.live_session_keys_of("suspect") == 0
    again = await portal.auth.sign_in("suspect", password)
    assert again.session is not None
    principal = await portal.credentials.authenticate(again.session.service_key)
    assert principal is not None and principal.scopes == frozenset({"dead-letters"})


async def test_a_sign_in_with_the_current_password_opens_a_live_session(portal: PortalStores) -> None:
    _, password = await portal.auth.create_account("person", "Per Son", Role.AO, "RN5133", None, by="operator:tests")

    result = await portal.auth.sign_in("person", password)

    assert result.session is not None
    assert await portal.auth.session_for(result.session.token) is not None
    assert await portal.credentials.authenticate(result.session.service_key) is not None
    assert await portal.live_sessions_of("person") == 1
