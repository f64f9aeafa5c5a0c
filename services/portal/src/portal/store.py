"""PostgreSQL (schema `portal`): accounts and sessions; and the service keys the sessions hold.

Service keys are issued, revoked and listed through lrs_platform's `CredentialStore`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lrs_contracts.environments import Environment
from lrs_platform.credential_store import (
    SESSION_KEY_LABEL,
    CredentialStore,
    IssuedKey,
    StoredKey,
    revoke_own_keys_in,
)
from lrs_platform.database import advisory_lock_key
from lrs_platform.identity import Principal, PrincipalKind
from portal.accounts import (
    Account,
    AccountChange,
    ChangeRecord,
    PasswordChangedMeanwhile,
    Role,
    SignInState,
    address_change,
    check_operator_power_stays,
    described,
    duties_text,
)
from portal.reset_links import CLIENTS_HOUR, ClientRequest, KeptRequest, judge_client_request

SCHEMA = "portal"
MIGRATIONS = "portal.migrations"


def _link_requests_lock(client_hash: str) -> int:
    """The advisory lock one client's forgotten-password requests take turns on."""
    return advisory_lock_key(f"link requests:{client_hash}")


# the changes of the audit that set an account's password
PASSWORD_SETTINGS = (
    AccountChange.PASSWORD_RESET,
    AccountChange.PASSWORD_CHANGED,
    AccountChange.PASSWORD_RESET_BY_LINK,
)


class AccountExists(Exception):
    pass


class AccountNotFound(Exception):
    pass


class AccountDisabled(Exception):
    """The account is disabled: what was asked needs it enabled first."""


class LinkRefusal(StrEnum):
    """Why no link to choose a password was kept for an account."""

    NO_ACCOUNT = "no_account"
    DISABLED = "disabled"
    NO_ADDRESS = "no_address"
    SHARE_USED = "share_used"


class LinkRefused(Exception):
    def __init__(self, why: LinkRefusal) -> None:
        super().__init__(why.value)
        self.why = why


@dataclass(frozen=True)
class FirstPasswordLink:
    """A new account's link to choose its first password (decision 0129): the hash of its token, when it stops
    working, and how it reaches the person (raising if it cannot)."""

    token_hash: str
    expires_at: datetime
    deliver: Callable[[], Awaitable[None]]


def _account(row: Mapping[str, Any]) -> Account:
    return Account(
        username=row["username"],
        display_name=row["display_name"],
        role=Role(row["role"]),
        ao_id=row["ao_id"],
        email=row["email"],
        sign_in=SignInState(row["failed_attempts"], row["locked_until"]),
        disabled_at=row["disabled_at"],
        scopes=frozenset(row["scopes"]),
        password_given=row["password_given"],
        password_set_at=row["password_set_at"],
    )


class AccountStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(
        self, account: Account, password_hash: str, *, by: str, first_link: FirstPasswordLink | None = None
    ) -> None:
        """Creates the account. With `first_link` (decision 0129) the link is kept with it and delivered
        before the commit: an account whose email could not go is not created (the error propagates), and
        its password, which nobody was shown, is not flagged as given."""
        try:
            async with self._pool.acquire() as connection, connection.transaction():
                password_set_at = await connection.fetchval(
                    "INSERT INTO portal.accounts (username, display_name, email, role, ao_id, password_hash, scopes,"
                    " password_given) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING password_set_at",
                    account.username,
                    account.display_name,
                    account.email,
                    account.role.value,
                    account.ao_id,
                    password_hash,
                    sorted(account.scopes),
                    first_link is None,
                )
                await self.record_change(connection, by, account.username, AccountChange.CREATED, described(account))
                if first_link is not None:
                    await connection.execute(
                        "INSERT INTO portal.password_reset_links (token_hash, username, password_set_at, expires_at)"
                        " VALUES ($1, $2, $3, $4)",
                        first_link.token_hash,
                        account.username,
                        password_set_at,
                        first_link.expires_at,
                    )
                    await self.record_change(
                        connection, by, account.username, AccountChange.FIRST_PASSWORD_LINK_SENT, f"to {account.email}"
                    )
                    await first_link.deliver()
        except asyncpg.UniqueViolationError as error:
            raise AccountExists(account.username) from error

    async def get(self, username: str) -> tuple[Account, str] | None:
        row = await self._pool.fetchrow("SELECT * FROM portal.accounts WHERE username = $1", username.strip().lower())
        return (_account(row), row["password_hash"]) if row else None

    async def listing(
        self,
        *,
        ao_id: str | None = None,
        role: Role | None = None,
        starting: str | None = None,
        after: str | None = None,
        limit: int = 500,
    ) -> list[Account]:
        """Accounts by username, the first `limit` after `after`: of one AO, of one role, whose username
        starts with `starting`, as given."""
        rows = await self._pool.fetch(
            "SELECT * FROM portal.accounts WHERE ($1::text IS NULL OR ao_id = $1) AND ($2::text IS NULL OR role = $2)"
            " AND ($3::text IS NULL OR starts_with(username, $3)) AND ($4::text IS NULL OR username > $4)"
            " ORDER BY username LIMIT $5",
            ao_id,
            role.value if role else None,
            starting,
            after,
            limit,
        )
        return [_account(row) for row in rows]

    async def enabled_operators(self) -> list[Account]:
        """Every enabled operator's account, by username."""
        rows = await self._pool.fetch(
            "SELECT * FROM portal.accounts WHERE role = 'operator' AND disabled_at IS NULL ORDER BY username"
        )
        return [_account(row) for row in rows]

    async def count_attempt(
        self, username: str, count: Callable[[Account], SignInState]
    ) -> tuple[Account, str, SignInState] | None:
        """The account as a sign-in attempt finds it, its password hash, and the state `count` gives it,
        stored before the answer under the account row's lock: attempts at once are counted one after
        another, and each finds the count the one before it left. None for no such account."""
        async with self._pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow("SELECT * FROM portal.accounts WHERE username = $1 FOR UPDATE", username)
            if row is None:
                return None
            account = _account(row)
            state = count(account)
            if state != account.sign_in:
                await connection.execute(
                    "UPDATE portal.accounts SET failed_attempts = $2, locked_until = $3 WHERE username = $1",
                    username,
                    state.failed_attempts,
                    state.locked_until,
                )
            return account, row["password_hash"], state

    async def record_sign_in(self, username: str, state: SignInState) -> None:
        await self._pool.execute(
            "UPDATE portal.accounts SET failed_attempts = $2, locked_until = $3 WHERE username = $1",
            username,
            state.failed_attempts,
            state.locked_until,
        )

    async def set_password(
        self, username: str, password_hash: str, *, by: str, password_set_at: datetime | None = None
    ) -> None:
        """An operator's reset: a password the operator was shown (`password_given`). A new password also
        lifts a lock-out and re-enables nothing: a disabled account stays disabled. `password_set_at`: when the
        password was set as the operator's confirmation found it; set again since (two operators' resets at once),
        nothing is set (compare-and-set under the row's lock) and PasswordChangedMeanwhile says who set it, when."""
        async with self._pool.acquire() as connection, connection.transaction():
            found = await connection.fetchrow(
                "SELECT disabled_at, password_set_at FROM portal.accounts WHERE username = $1 FOR UPDATE", username
            )
            disabled_at = found["disabled_at"] if found else None
            if found is not None and password_set_at is not None and found["password_set_at"] != password_set_at:
                last = await connection.fetchrow(
                    "SELECT change, changed_by, changed_at FROM portal.account_changes"
                    " WHERE subject = $1 AND change = ANY($2::text[]) ORDER BY change_id DESC LIMIT 1",
                    username,
                    [change.value for change in PASSWORD_SETTINGS],
                )
                raise PasswordChangedMeanwhile(
                    username,
                    AccountChange(last["change"]) if last else None,
                    last["changed_by"] if last else "",
                    last["changed_at"] if last else found["password_set_at"],
                )
            result = await connection.execute(
                "UPDATE portal.accounts SET password_hash = $2, password_set_at = now(), failed_attempts = 0,"
                " locked_until = NULL, password_given = true WHERE username = $1 AND disabled_at IS NULL",
                username,
                password_hash,
            )
            if result.endswith(" 0"):
                raise AccountDisabled(username) if disabled_at is not None else AccountNotFound(username)
            await self.record_change(connection, by, username, AccountChange.PASSWORD_RESET)

    async def change_own_password(self, account: Account, checked_hash: str, new_hash: str) -> EndedKeys | None:
        """The person's own new password, if the password is still the one they were checked against
        (`checked_hash`) and the account is not disabled, with every session of the account ended in the same
        transaction: the keys those sessions held, to revoke. None when an operator's reset, a disabling or
        another change came first."""
        async with self._pool.acquire() as connection, connection.transaction():
            result = await connection.execute(
                "UPDATE portal.accounts SET password_hash = $3, password_set_at = now(), password_given = false"
                " WHERE username = $1 AND password_hash = $2 AND disabled_at IS NULL",
                account.username,
                checked_hash,
                new_hash,
            )
            if result.endswith(" 0"):
                return None
            await self.record_change(connection, account.who, account.username, AccountChange.PASSWORD_CHANGED)
            rows = await connection.fetch(f"DELETE FROM portal.sessions WHERE username = $1 {_ENDED}", account.username)
            return EndedKeys.of(rows)

    async def keep_reset_link(
        self, username: str, token_hash: str, expires_at: datetime, *, most_per_hour: int, requested_by: str
    ) -> Account | LinkRefusal:
        """Keeps a forgotten-password link's hash for the account (decision 0128) and returns the account to
        send it to; or, keeping nothing, why not: no such account, a disabled one, one without an email address,
        or one sent `most_per_hour` links in the last hour. The count is taken under the account row's lock,
        so requests at once each count."""
        async with self._pool.acquire() as connection, connection.transaction():
            held = await self._hold_link(connection, username, token_hash, expires_at, most_per_hour)
            if not isinstance(held, Account):
                return held
            await self.record_change(connection, requested_by, username, AccountChange.RESET_LINK_REQUESTED)
            return held

    async def forget_reset_link(self, token_hash: str) -> None:
        """A forgotten-password link whose email did not go (for sure: the relay refused it or was away): it no
        longer counts towards the account's links of the hour, so asking while the relay is away uses none of them.
        Its request stays in the audit."""
        await self._pool.execute("DELETE FROM portal.password_reset_links WHERE token_hash = $1", token_hash)

    async def send_operator_link(
        self,
        username: str,
        token_hash: str,
        expires_at: datetime,
        *,
        most_per_hour: int,
        by: str,
        deliver: Callable[[Account], Awaitable[None]],
    ) -> Account:
        """An operator's link to choose a password (decision 0129), kept only if `deliver` sent it: held first
        as one that does not work yet (counted in the hourly share, under the row's lock, committed at once so
        the row is not locked while the relay answers), then made to work until `expires_at` with its audit
        entry, or forgotten if the email did not go (the error propagates). LinkRefused says why none went."""
        async with self._pool.acquire() as connection, connection.transaction():
            held = await self._hold_link(connection, username, token_hash, None, most_per_hour, by_operator=True)
        if not isinstance(held, Account):
            raise LinkRefused(held)
        try:
            await deliver(held)
        except Exception:
            await self._pool.execute("DELETE FROM portal.password_reset_links WHERE token_hash = $1", token_hash)
            raise
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(
                "UPDATE portal.password_reset_links SET expires_at = $2 WHERE token_hash = $1", token_hash, expires_at
            )
            await self.record_change(connection, by, username, AccountChange.PASSWORD_LINK_SENT, f"to {held.email}")
        return held

    @staticmethod
    async def _hold_link(
        connection: asyncpg.Connection,
        username: str,
        token_hash: str,
        expires_at: datetime | None,
        most_per_hour: int,
        *,
        by_operator: bool = False,
    ) -> Account | LinkRefusal:
        """Locks the account's row and keeps a link's hash for it, counted in its hourly share: until
        `expires_at`, or (None) not working yet. The account, or why no link was kept. Operators' links have a
        share of their own (the links they sent in the hour, from the audit): anyone may ask for links in a
        person's name, and theirs must not use up the share an operator helping the person needs."""
        row = await connection.fetchrow("SELECT * FROM portal.accounts WHERE username = $1 FOR UPDATE", username)
        if row is None:
            return LinkRefusal.NO_ACCOUNT
        if row["disabled_at"] is not None:
            return LinkRefusal.DISABLED
        if not row["email"]:
            return LinkRefusal.NO_ADDRESS
        recent = await connection.fetchval(
            "SELECT count(*) FROM portal.account_changes"
            " WHERE subject = $1 AND change = $2 AND changed_at > now() - interval '1 hour'"
            if by_operator
            else "SELECT count(*) FROM portal.password_reset_links"
            " WHERE username = $1 AND created_at > now() - interval '1 hour'",
            username,
            *([AccountChange.PASSWORD_LINK_SENT.value] if by_operator else []),
        )
        if recent >= most_per_hour:
            return LinkRefusal.SHARE_USED
        await connection.execute(
            "INSERT INTO portal.password_reset_links (token_hash, username, password_set_at, expires_at)"
            " VALUES ($1, $2, $3, coalesce($4, now()))",  # now(): already run out, until made to work
            token_hash,
            username,
            row["password_set_at"],
            expires_at,
        )
        return _account(row)

    async def reset_link_holder(self, token_hash: str) -> Account | None:
        """The account a link is for, while the link works: unused, unexpired, its account enabled and its
        password still the one the link was sent for."""
        row = await self._pool.fetchrow(f"SELECT a.* {_WORKING_LINK}", token_hash)
        return _account(row) if row else None

    async def reset_by_link(self, token_hash: str, new_hash: str) -> tuple[Account, EndedKeys] | None:
        """The new password chosen through a working link, in one transaction: the link used, a lock-out
        lifted, the change kept in the audit, every session of the account ended (the keys they held, to
        revoke). Every other link of the account stops working with it (its password changed). None when
        the link does not work (any more)."""
        async with self._pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(f"SELECT a.* {_WORKING_LINK} FOR UPDATE OF a, l", token_hash)
            if row is None:
                return None
            account = _account(row)
            await connection.execute(
                "UPDATE portal.accounts SET password_hash = $2, password_set_at = clock_timestamp(),"
                " failed_attempts = 0, locked_until = NULL, password_given = false WHERE username = $1",
                account.username,
                new_hash,
            )
            await connection.execute(
                "UPDATE portal.password_reset_links SET used_at = now() WHERE token_hash = $1", token_hash
            )
            await self.record_change(connection, account.who, account.username, AccountChange.PASSWORD_RESET_BY_LINK)
            rows = await connection.fetch(f"DELETE FROM portal.sessions WHERE username = $1 {_ENDED}", account.username)
            return account, EndedKeys.of(rows)

    async def forget_reset_links_before(self, moment: datetime) -> None:
        """Forgets links that stopped working before `moment` (they count towards no limit any more)."""
        await self._pool.execute("DELETE FROM portal.password_reset_links WHERE expires_at < $1", moment)

    async def count_link_request(self, client: str, *, most_per_hour: int) -> ClientRequest:
        """Judges a forgotten-password request of `client` by the client's requests of the 60 minutes before (decision
        0148), and keeps it when it is answered or the first beyond the share: only a hash of the client, and when.
        One client's requests take turns (a lock on the client for the transaction), so requests at once each
        count, on every replica."""
        client_hash = hashlib.sha256(client.encode()).hexdigest()
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", _link_requests_lock(client_hash))
            # the time now that it is this request's turn: the transaction's now() is when it started, maybe before
            # a request it waited for
            now: datetime = await connection.fetchval("SELECT clock_timestamp()")
            rows = await connection.fetch(
                "SELECT requested_at, answered FROM portal.link_requests_by_client"
                " WHERE client_hash = $1 AND requested_at > $2",
                client_hash,
                now - CLIENTS_HOUR,
            )
            judged = judge_client_request(
                [KeptRequest(row["requested_at"], row["answered"]) for row in rows], now, most_per_hour
            )
            if judged is not ClientRequest.BEYOND:
                await connection.execute(
                    "INSERT INTO portal.link_requests_by_client (client_hash, requested_at, answered)"
                    " VALUES ($1, $2, $3)",
                    client_hash,
                    now,
                    judged is ClientRequest.ANSWERED,
                )
            return judged

    async def forget_link_requests_before(self, moment: datetime) -> None:
        """Forgets the clients' requests made before `moment` (those an hour old judge no request any more)."""
        await self._pool.execute("DELETE FROM portal.link_requests_by_client WHERE requested_at < $1", moment)

    async def set_email(self, username: str, email: str | None, *, by: str) -> str | None:
        """The account's email address from now on (None: none); returns the one it had. Links sent to that
        one stop working (decision 0128); setting the address it has changes and records nothing."""
        async with self._pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(
                "SELECT email FROM portal.accounts WHERE username = $1 FOR UPDATE", username
            )
            if row is None:
                raise AccountNotFound(username)
            previous: str | None = row["email"]
            if previous == email:
                return previous
            await connection.execute("UPDATE portal.accounts SET email = $2 WHERE username = $1", username, email)
            await connection.execute(
                "UPDATE portal.password_reset_links SET used_at = now() WHERE username = $1 AND used_at IS NULL",
                username,
            )
            await self.record_change(
                connection, by, username, AccountChange.EMAIL_CHANGED, address_change(previous, email)
            )
            return previous

    @staticmethod
    async def _locked_with_the_operators(
        connection: asyncpg.Connection, username: str
    ) -> tuple[Account, list[Account]] | None:
        """The account and every other enabled operator, their rows locked in one order (by username): changes
        at once wait for each other, so that two cannot each leave the other as the last operator with a
        power (decisions 0140, 0147) and together leave none. None when there is no such account."""
        rows = await connection.fetch(
            "SELECT * FROM portal.accounts WHERE username = $1 OR (role = 'operator' AND disabled_at IS NULL)"
            " ORDER BY username FOR UPDATE",
            username,
        )
        accounts = {row["username"]: _account(row) for row in rows}
        account = accounts.pop(username, None)
        return None if account is None else (account, list(accounts.values()))

    async def set_scopes(self, username: str, scopes: frozenset[str], *, by: str) -> bool:
        """An operator's duties: False when they are these already, and nothing changes (a repeat); AccountNotFound
        for no operator of that name; LastOperatorWithPower when it would leave no enabled operator with every duty,
        or with the accounts duty."""
        async with self._pool.acquire() as connection, connection.transaction():
            locked = await self._locked_with_the_operators(connection, username)
            if locked is None or not locked[0].is_operator:
                raise AccountNotFound(username)
            account, operators = locked
            if account.scopes == scopes:
                return False
            check_operator_power_stays(account, replace(account, scopes=scopes), operators)
            await connection.execute(
                "UPDATE portal.accounts SET scopes = $2 WHERE username = $1", username, sorted(scopes)
            )
            await self.record_change(connection, by, username, AccountChange.DUTIES_CHANGED, duties_text(scopes))
        return True

    async def disable(
        self,
        username: str,
        *,
        by: str,
        reason: str = "",
        in_the_same_step: Callable[[asyncpg.Connection, Account], Awaitable[None]] | None = None,
    ) -> bool:
        """Disables the account (recorded once, with the operator's `reason`): False when it was disabled already,
        and nothing changes; LastOperatorWithPower when it would leave no enabled operator with every duty, or with
        the accounts duty. `in_the_same_step`: what else the disabling does (an operator's own API keys revoked),
        in its transaction, given the account as it was."""
        async with self._pool.acquire() as connection, connection.transaction():
            locked = await self._locked_with_the_operators(connection, username)
            if locked is None:
                raise AccountNotFound(username)
            account, operators = locked
            if account.disabled_at is not None:
                return False
            check_operator_power_stays(account, replace(account, disabled_at=datetime.now(UTC)), operators)
            await connection.execute("UPDATE portal.accounts SET disabled_at = now() WHERE username = $1", username)
            # an account is often disabled because it may be in the wrong hands: its links never work again,
            # not even once it is enabled
            await connection.execute(
                "UPDATE portal.password_reset_links SET used_at = now() WHERE username = $1 AND used_at IS NULL",
                username,
            )
            await self.record_change(connection, by, username, AccountChange.DISABLED, reason)
            if in_the_same_step is not None:
                await in_the_same_step(connection, account)
            return True

    async def enable(self, username: str, *, by: str) -> bool:
        """Enables a disabled account again, with its password as it was and no lock-out (recorded once).
        False when it was not disabled."""
        async with self._pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(
                "SELECT disabled_at FROM portal.accounts WHERE username = $1 FOR UPDATE", username
            )
            if row is None:
                raise AccountNotFound(username)
            if row["disabled_at"] is None:
                return False
            await connection.execute(
                "UPDATE portal.accounts SET disabled_at = NULL, failed_attempts = 0, locked_until = NULL"
                " WHERE username = $1",
                username,
            )
            await self.record_change(connection, by, username, AccountChange.ENABLED)
            return True

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A transaction for a change made elsewhere in this database (an AO key in the identity store) and
        its `record_change`, committed together."""
        async with self._pool.acquire() as connection, connection.transaction():
            yield connection

    @staticmethod
    async def record_change(
        connection: asyncpg.Connection, by: str, subject: str, change: AccountChange, detail: str = ""
    ) -> None:
        """Keeps a change in the audit (decision 0126), in `connection`'s transaction: the change's own."""
        await connection.execute(
            "INSERT INTO portal.account_changes (changed_by, subject, change, detail) VALUES ($1, $2, $3, $4)",
            by,
            subject,
            change.value,
            detail,
        )

    async def changes(self, *, limit: int, older_than: int | None = None) -> list[ChangeRecord]:
        """The newest `limit` changes (older than the change `older_than` if given), newest first."""
        rows = await self._pool.fetch(
            "SELECT * FROM portal.account_changes WHERE ($1::bigint IS NULL OR change_id < $1)"
            " ORDER BY change_id DESC LIMIT $2",
            older_than,
            limit,
        )
        return [
            ChangeRecord(
                row["change_id"],
                row["changed_at"],
                row["changed_by"],
                row["subject"],
                AccountChange(row["change"]),
                row["detail"],
            )
            for row in rows
        ]


@dataclass(frozen=True)
class StoredSession:
    token_hash: str
    account: Account
    csrf_token: str
    service_key_id: str
    sealed_service_key: bytes
    created_at: datetime
    expires_at: datetime
    sealed_sandpit_key: bytes | None = None


@dataclass(frozen=True)
class EndedKeys:
    """The keys of ended sessions, to revoke: live ones, and Sandpit ones in the Sandpit's store."""

    live: list[str]
    sandpit: list[str]

    @staticmethod
    def of(rows: list[Mapping[str, Any]]) -> EndedKeys:
        return EndedKeys(
            [row["service_key_id"] for row in rows], [row["sandpit_key_id"] for row in rows if row["sandpit_key_id"]]
        )


_ENDED = "RETURNING service_key_id, sandpit_key_id"
_WORKING_LINK = (
    "FROM portal.password_reset_links l JOIN portal.accounts a USING (username)"
    " WHERE l.token_hash = $1 AND l.used_at IS NULL AND l.expires_at > now()"
    " AND a.password_set_at = l.password_set_at AND a.disabled_at IS NULL"
)


class SessionStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(
        self,
        token_hash: str,
        username: str,
        csrf_token: str,
        service_key_id: str,
        sealed_service_key: bytes,
        expires_at: datetime,
        *,
        password_hash: str,
        scopes: frozenset[str] = frozenset(),
    ) -> bool:
        """Opens the session unless the account's password is no longer `password_hash`, the one the
        sign-in checked, its duties are no longer `scopes`, the ones the session's key was issued with, or
        the account is disabled: False then, and nothing is stored.

        FOR SHARE waits for a password or duties change or a disabling under way and then reads the row it
        left (READ COMMITTED), so either the change is seen here, or the session is committed before the
        change is, and then ended by the `end_all_of` that follows the change."""
        opened = await self._pool.fetchval(
            "INSERT INTO portal.sessions (token_hash, username, csrf_token, service_key_id, sealed_service_key,"
            " expires_at)"
            " SELECT $1, username, $3, $4, $5, $6 FROM portal.accounts"
            " WHERE username = $2 AND password_hash = $7 AND scopes @> $8 AND scopes <@ $8"
            " AND disabled_at IS NULL FOR SHARE RETURNING token_hash",
            token_hash,
            username,
            csrf_token,
            service_key_id,
            sealed_service_key,
            expires_at,
            password_hash,
            sorted(scopes),
        )
        return opened is not None

    async def get(self, token_hash: str) -> StoredSession | None:
        row = await self._pool.fetchrow(
            "SELECT s.token_hash, s.csrf_token, s.service_key_id, s.sealed_service_key, s.sealed_sandpit_key,"
            " s.created_at AS session_created, s.expires_at, a.* FROM portal.sessions s"
            " JOIN portal.accounts a USING (username)"
            " WHERE s.token_hash = $1",
            token_hash,
        )
        if row is None:
            return None
        return StoredSession(
            token_hash=row["token_hash"],
            account=_account(row),
            csrf_token=row["csrf_token"],
            service_key_id=row["service_key_id"],
            sealed_service_key=bytes(row["sealed_service_key"]),
            created_at=row["session_created"],
            expires_at=row["expires_at"],
            sealed_sandpit_key=bytes(row["sealed_sandpit_key"]) if row["sealed_sandpit_key"] else None,
        )

    async def keep_sandpit_key(self, token_hash: str, key_id: str, sealed: bytes) -> bool:
        """Stores the session's Sandpit key unless it has one already (two first pages at once): False then."""
        stored = await self._pool.fetchval(
            "UPDATE portal.sessions SET sandpit_key_id = $2, sealed_sandpit_key = $3"
            " WHERE token_hash = $1 AND sandpit_key_id IS NULL RETURNING token_hash",
            token_hash,
            key_id,
            sealed,
        )
        return stored is not None

    async def change_notices(self, token_hash: str, change: Callable[[bytes | None], bytes | None]) -> None:
        """Replaces the notices the session keeps for the pages it is sent to (sealed) with `change` of those it held,
        the session's row locked between: two actions of one session at once each keep theirs, and a notice is read
        by one request only."""
        async with self._pool.acquire() as connection, connection.transaction():
            held = await connection.fetchrow(
                "SELECT sealed_notices FROM portal.sessions WHERE token_hash = $1 FOR UPDATE", token_hash
            )
            if held is None:  # the session ended meanwhile: nothing to keep them for
                return
            sealed = held["sealed_notices"]
            await connection.execute(
                "UPDATE portal.sessions SET sealed_notices = $2 WHERE token_hash = $1",
                token_hash,
                change(bytes(sealed) if sealed is not None else None),
            )

    async def notices(self, token_hash: str) -> bytes | None:
        """The notices the session keeps, sealed; None when it keeps none."""
        sealed: bytes | None = await self._pool.fetchval(
            "SELECT sealed_notices FROM portal.sessions WHERE token_hash = $1", token_hash
        )
        return sealed

    async def change_look_ups(self, token_hash: str, change: Callable[[bytes | None], bytes]) -> None:
        """Replaces the learners the session looked up (sealed) with `change` of those it held, the session's row
        locked between: two requests of one session change them one after the other, neither losing the other's."""
        async with self._pool.acquire() as connection, connection.transaction():
            held = await connection.fetchrow(
                "SELECT sealed_look_ups FROM portal.sessions WHERE token_hash = $1 FOR UPDATE", token_hash
            )
            if held is None:  # the session ended meanwhile: nothing to keep them for
                return
            sealed = held["sealed_look_ups"]
            await connection.execute(
                "UPDATE portal.sessions SET sealed_look_ups = $2 WHERE token_hash = $1",
                token_hash,
                change(bytes(sealed) if sealed is not None else None),
            )

    async def look_ups(self, token_hash: str) -> bytes | None:
        """The learners the session looked up, sealed; None before its first look-up."""
        sealed: bytes | None = await self._pool.fetchval(
            "SELECT sealed_look_ups FROM portal.sessions WHERE token_hash = $1", token_hash
        )
        return sealed

    async def extend(self, token_hash: str, expires_at: datetime) -> None:
        await self._pool.execute(
            "UPDATE portal.sessions SET last_seen_at = now(), expires_at = $2 WHERE token_hash = $1",
            token_hash,
            expires_at,
        )

    async def end(self, token_hash: str) -> EndedKeys:
        """Deletes the session; returns its service keys, to revoke."""
        rows = await self._pool.fetch(f"DELETE FROM portal.sessions WHERE token_hash = $1 {_ENDED}", token_hash)
        return EndedKeys.of(rows)

    async def end_all_of(self, username: str) -> EndedKeys:
        rows = await self._pool.fetch(f"DELETE FROM portal.sessions WHERE username = $1 {_ENDED}", username)
        return EndedKeys.of(rows)

    async def end_expired(self, now: datetime) -> EndedKeys:
        rows = await self._pool.fetch(f"DELETE FROM portal.sessions WHERE expires_at <= $1 {_ENDED}", now)
        return EndedKeys.of(rows)


class ServiceKeys:
    def __init__(self, credentials: CredentialStore) -> None:
        self._credentials = credentials

    async def issue(
        self, principal: Principal, label: str, *, by: str, connection: asyncpg.Connection | None = None
    ) -> IssuedKey:
        """A key for `principal`, kept in the key store as made by `by` (`identity.key_changes`, where `lrs
        credentials list` reads who made each key); in `connection`'s transaction when given."""
        return await self._credentials.issue(principal, label, connection=connection, by=by)

    async def issue_for_session(self, principal: Principal, username: str) -> IssuedKey:
        return await self._credentials.issue_for_session(principal, username)

    async def revoke(self, key_ids: list[str]) -> None:
        await self._credentials.revoke(*key_ids)

    async def forget_revoked(self, key_ids: list[str]) -> None:
        """Keys revoked in a transaction now committed (`revoke_own_keys`): this process stops accepting them at once
        (the others within the key store's cache time)."""
        # Revoked already, so the UPDATE `revoke` runs changes no row (a harmless statement); what it does here is drop
        # them from this process's cache.
        await self._credentials.revoke(*key_ids)

    async def own_keys(self, principal: Principal) -> list[StoredKey]:
        """The live API keys of an operator's own principal (`operator:<username>`), not the portal's session keys:
        what disabling the operator's account revokes too, oldest first."""
        keys, _ = await self.listing(PrincipalKind.OPERATOR, principal=Principal(principal.kind, principal.id))
        return sorted(keys, key=lambda key: (key.created_at, key.key_id))

    async def revoke_own_keys(
        self, principal: Principal, *, by: str, connection: asyncpg.Connection
    ) -> list[StoredKey]:
        """Revokes `own_keys` in `connection`'s transaction, kept with who did (`by`): the keys revoked. Call
        `forget_revoked` with them once it commits."""
        return await revoke_own_keys_in(connection, Principal(principal.kind, principal.id), by=by)

    async def revoke_ao_key(
        self, key_id: str, *, by: str, connection: asyncpg.Connection | None = None
    ) -> Principal | None:
        """Revokes an AO's key as `listing` shows them (never an operator's, nor a session's), kept in the key store
        as revoked by `by`: the AO, or None when no such key was revoked."""
        return await self._credentials.revoke_listed(
            key_id, PrincipalKind.AO, label_not_starting=SESSION_KEY_LABEL, connection=connection, by=by
        )

    async def revoked_ao_key(self, key_id: str) -> StoredKey | None:
        """The AO's key `revoke_ao_key` would have revoked, when it is revoked already (None for any other key)."""
        return await self._credentials.revoked_listed(key_id, PrincipalKind.AO, label_not_starting=SESSION_KEY_LABEL)

    async def listing(
        self, kind: PrincipalKind = PrincipalKind.AO, *, principal: Principal | None = None, limit: int = 500
    ) -> tuple[list[StoredKey], int]:
        """The first `limit` keys people and systems use (of `principal` if given), and how many there are;
        the portal's own per-session keys are left out."""
        keys = await self._credentials.listing(
            kind, label_not_starting=SESSION_KEY_LABEL, principal=principal, limit=limit
        )
        if len(keys) < limit:
            return keys, len(keys)
        return keys, await self._credentials.count(kind, label_not_starting=SESSION_KEY_LABEL, principal=principal)


_NONCE_BYTES = 12
UPLOADS_WAITING_A_PERSON = 3  # checked files a person may have waiting to be submitted


@dataclass(frozen=True)
class PendingUpload:
    upload_id: uuid.UUID
    filename: str
    content_type: str | None
    content: bytes
    kept_at: datetime


@dataclass(frozen=True)
class KeptUpload:
    upload_id: uuid.UUID
    key: str = field(repr=False)  # opens the stored file: handed to the person's check page, never stored


class UploadStore:
    """Files between their check and their submission; each belongs to the person who uploaded it.

    A batch file holds learners' names and dates of birth, so it is stored sealed (AES-256-GCM) under a
    key of its own that only the person's check page holds, sent back with "Submit this batch": the
    table, and any backup of it, holds no readable file (decision 0080). A wrong or missing key reads as
    no upload at all.

    `forms`: the forms that act once (`SentForms`), kept as long as the uploads and swept with them.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.forms = SentForms(pool)

    async def keep(
        self,
        username: str,
        filename: str,
        content_type: str | None,
        content: bytes,
        *,
        environment: Environment = Environment.LIVE,
    ) -> KeptUpload:
        """Keeps the file, checked in `environment` and submitted only there; the person's checked files waiting
        beyond their newest `UPLOADS_WAITING_A_PERSON` go (their check pages then say to upload the file again): one
        person checking 6 MB files over and over filled the table by 86 MB in 7 s, kept two hours, and in the WAL's
        archive for a month."""
        upload_id = uuid.uuid4()
        key = AESGCM.generate_key(bit_length=256)
        nonce = secrets.token_bytes(_NONCE_BYTES)
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(
                "INSERT INTO portal.uploads (upload_id, username, filename, content_type, content, environment)"
                " VALUES ($1, $2, $3, $4, $5, $6)",
                upload_id,
                username,
                filename,
                content_type,
                nonce + AESGCM(key).encrypt(nonce, content, upload_id.bytes),
                environment.value,
            )
            await connection.execute(
                "DELETE FROM portal.uploads WHERE upload_id IN (SELECT upload_id FROM portal.uploads"
                " WHERE username = $1 AND content IS NOT NULL ORDER BY created_at DESC, upload_id OFFSET $2)",
                username,
                UPLOADS_WAITING_A_PERSON,
            )
        return KeptUpload(upload_id, base64.urlsafe_b64encode(key).decode())

    async def get(
        self, username: str, upload_id: uuid.UUID, key: str, *, environment: Environment = Environment.LIVE
    ) -> PendingUpload | None:
        """The person's file checked in `environment`, waiting to be submitted there; None for any other (one checked
        in the other environment included)."""
        row = await self._pool.fetchrow(
            "SELECT upload_id, filename, content_type, content, created_at FROM portal.uploads"
            " WHERE upload_id = $1 AND username = $2 AND environment = $3",
            upload_id,
            username,
            environment.value,
        )
        if row is None or row["content"] is None:  # unknown, or submitted already (`submitted_batch`)
            return None
        sealed = bytes(row["content"])
        try:
            content = AESGCM(base64.urlsafe_b64decode(key)).decrypt(
                sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], upload_id.bytes
            )
        except (ValueError, InvalidTag):
            return None
        return PendingUpload(row["upload_id"], row["filename"], row["content_type"], content, row["created_at"])

    async def forget(self, upload_id: uuid.UUID) -> None:
        await self._pool.execute("DELETE FROM portal.uploads WHERE upload_id = $1", upload_id)

    async def submitted(self, upload_id: uuid.UUID, batch_id: uuid.UUID) -> None:
        """The upload made `batch_id`: its file is dropped, the batch it made remembered until the upload expires."""
        await self._pool.execute(
            "UPDATE portal.uploads SET content = NULL, submitted_batch = $2 WHERE upload_id = $1", upload_id, batch_id
        )

    async def submitted_batch(
        self, username: str, upload_id: uuid.UUID, *, environment: Environment = Environment.LIVE
    ) -> uuid.UUID | None:
        """The batch the person's upload made in `environment`, if it was submitted."""
        batch_id: uuid.UUID | None = await self._pool.fetchval(
            "SELECT submitted_batch FROM portal.uploads WHERE upload_id = $1 AND username = $2 AND environment = $3",
            upload_id,
            username,
            environment.value,
        )
        return batch_id

    async def forget_older_than(self, moment: datetime) -> None:
        await self._pool.execute("DELETE FROM portal.uploads WHERE created_at < $1", moment)
        await self.forms.forget_older_than(moment)


@dataclass(frozen=True)
class SentForm:
    """A form sent before with the same one-time id: who sent it, which form, and what it did (None while the
    first send is still acting)."""

    username: str
    form: str
    outcome: dict[str, Any] | None


class SentForms:
    """Forms that act once ("Issue key", "Create an account"): each carries a one-time id made when its page is
    shown. The first POST with an id claims it and keeps what it did; any other POST with it (a double-click, the
    Back button) is answered with that, not acted on again.

    A direct entry's content is held here too while one send sends it (`hold`, `let_go`): two tabs, or two colleagues
    of one AO, sending the same entry at once send it once, the other send then finding its batch."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def claim(self, username: str, form_id: uuid.UUID, form: str) -> SentForm | None:
        """None when the id is this send's to act on; else the send that claimed it first."""
        async with self._pool.acquire() as connection:
            claimed = await connection.fetchval(
                "INSERT INTO portal.sent_forms (form_id, username, form) VALUES ($1, $2, $3)"
                " ON CONFLICT (form_id) DO NOTHING RETURNING form_id",
                form_id,
                username,
                form,
            )
            if claimed is not None:
                return None
            row = await connection.fetchrow(
                "SELECT username, form, outcome::text AS outcome FROM portal.sent_forms WHERE form_id = $1", form_id
            )
        if row is None:  # given back between the two statements: the next try claims it
            return SentForm(username, form, None)
        outcome = json.loads(row["outcome"]) if row["outcome"] is not None else None
        return SentForm(row["username"], row["form"], outcome)

    async def done(self, form_id: uuid.UUID, outcome: dict[str, Any]) -> None:
        """What the claiming send did, for the sends of the same form after it."""
        await self._pool.execute(
            "UPDATE portal.sent_forms SET outcome = $2::jsonb WHERE form_id = $1", form_id, json.dumps(outcome)
        )

    async def give_back(self, form_id: uuid.UUID) -> None:
        """The claiming send did nothing (refused, or failed): the form can be sent again."""
        await self._pool.execute("DELETE FROM portal.sent_forms WHERE form_id = $1 AND outcome IS NULL", form_id)

    async def hold(self, username: str, form_id: uuid.UUID, form: str, *, held_at_most: timedelta) -> SentForm | None:
        """For what is one by its content rather than by a form's id (a direct entry: `form_id` made of the entry, `form`
        naming the form that sends it), held only while one send acts on it, then let go (`let_go`): None when this
        send holds it now (one insert: of several at once exactly one holds it); else the send holding it (its
        outcome None). A hold older than `held_at_most` (its send stopped before letting go) is this send's now."""
        async with self._pool.acquire() as connection:
            held = await connection.fetchval(
                "INSERT INTO portal.sent_forms (form_id, username, form) VALUES ($1, $2, $3)"
                " ON CONFLICT (form_id) DO UPDATE SET username = EXCLUDED.username, form = EXCLUDED.form,"
                " sent_at = now(), outcome = NULL WHERE portal.sent_forms.sent_at < now() - $4::interval"
                " RETURNING form_id",
                form_id,
                username,
                form,
                held_at_most,
            )
            if held is not None:
                return None
            row = await connection.fetchrow("SELECT username, form FROM portal.sent_forms WHERE form_id = $1", form_id)
        if row is None:  # let go between the two statements: the next try holds it
            return SentForm(username, "", None)
        return SentForm(row["username"], row["form"], None)

    async def let_go(self, form_id: uuid.UUID, form: str) -> None:
        """The send that holds `form_id` (as `form`) is done: the next send of the same content may act. A hold another
        send has taken over since (`held_at_most`) stays its."""
        await self._pool.execute(
            "DELETE FROM portal.sent_forms WHERE form_id = $1 AND form = $2 AND outcome IS NULL", form_id, form
        )

    async def forget_older_than(self, moment: datetime) -> None:
        await self._pool.execute("DELETE FROM portal.sent_forms WHERE sent_at < $1", moment)
