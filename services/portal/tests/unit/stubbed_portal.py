"""The portal's web layer with its backends stubbed: accounts, sessions, keys and uploads in memory, and the
services answered by a function over httpx's MockTransport. Nothing is mocked inside the portal itself.

The in-memory stores refuse what PostgreSQL refuses (a NUL in text), so a page that lets one through
fails here as it would in production.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import html
import json
import re
import secrets
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import asyncpg
import httpx
import pytest
import structlog
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from lrs_contracts.environments import Environment
from lrs_domain.reference_files import load_catalogue, load_register
from lrs_platform.credential_store import IssuedKey, StoredKey
from lrs_platform.identity import Principal, PrincipalKind
from lrs_platform.mail import MailError
from portal import passwords
from portal.accounts import (
    Account,
    AccountChange,
    ChangeRecord,
    LockoutPolicy,
    PasswordChangedMeanwhile,
    Role,
    SignInState,
    address_change,
    check_operator_power_stays,
    described,
    duties_text,
)
from portal.auth import Authentication, SignedIn, utc_now
from portal.backend import Services
from portal.bootstrap import create_app
from portal.config import PortalSettings
from portal.csrf import FIELD
from portal.password_emails import PasswordEmails
from portal.reset_links import ClientRequest, KeptRequest, ResetLinkPolicy, judge_client_request
from portal.sessions import CookiePolicy, SessionPolicy
from portal.store import (
    AccountDisabled,
    AccountExists,
    AccountNotFound,
    EndedKeys,
    FirstPasswordLink,
    KeptUpload,
    LinkRefusal,
    LinkRefused,
    PendingUpload,
    SentForm,
    StoredSession,
)
from portal.web.common import Portal

# As Django advises for tests: argon2id at its lowest cost, so each of the hundreds of accounts these tests make and
# sign in with costs a millisecond, not 0.4 s of CPU. The portal itself keeps argon2-cffi's defaults. The decoy an
# unknown or locked name is checked against is made again with it: argon2 verifies at the cost written in the hash,
# so the portal's own decoy costs a full check each time (as tests/support/portal_accounts.py does).
passwords._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
passwords._DECOY_HASH = passwords._hasher.hash(secrets.token_urlsafe(16))

AO_ID = "RN9093"  # the samples' AO
TEST_REGISTER = {*load_register(), "RN5133"}  # the register, and the AO most tests use (not in it)
SERVICE_URLS = {
    "ingest": "http://ingest",
    "plr-projector": "http://plr-projector",
    "challenges": "http://challenges",
    "notifier": "http://notifier",
    "reporting": "http://reporting",
    "validation": "http://validation",
}


def stored(*values: object) -> None:
    """What PostgreSQL does with text holding NUL."""
    for value in values:
        if isinstance(value, str) and "\x00" in value:
            raise asyncpg.CharacterNotInRepertoireError('invalid byte sequence for encoding "UTF8": 0x00')


class MemoryAccounts:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[Account, str]] = {}
        self.changed: list[ChangeRecord] = []
        self.sessions: MemorySessions | None = None  # whose sessions a password change ends
        # forgotten-password links by their hash: the account, the password hash it was sent for, expiry, used
        self.reset_links: dict[str, dict[str, Any]] = {}
        self.link_requests: defaultdict[str, list[KeptRequest]] = defaultdict(list)  # by client, as PostgreSQL's

    async def _kept(self, by: str, subject: str, change: AccountChange, detail: str = "") -> None:
        self.changed.append(ChangeRecord(len(self.changed) + 1, utc_now(), by, subject, change, detail))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        yield None

    async def record_change(
        self, connection: None, by: str, subject: str, change: AccountChange, detail: str = ""
    ) -> None:
        await self._kept(by, subject, change, detail)

    async def changes(self, *, limit: int, older_than: int | None = None) -> list[ChangeRecord]:
        newest_first = [
            change for change in reversed(self.changed) if older_than is None or change.change_id < older_than
        ]
        return newest_first[:limit]

    async def create(
        self, account: Account, password_hash: str, *, by: str, first_link: FirstPasswordLink | None = None
    ) -> None:
        stored(*account.__dict__.values())
        if account.username in self.rows:
            raise AccountExists(account.username)
        if first_link is not None:
            await first_link.deliver()  # before anything is kept, as before PostgreSQL's commit
            self.reset_links[first_link.token_hash] = {
                "username": account.username,
                "password_hash": password_hash,
                "created_at": utc_now(),
                "expires_at": first_link.expires_at,
                "used": False,
            }
        self.rows[account.username] = (
            replace(account, password_given=first_link is None, password_set_at=utc_now()),
            password_hash,
        )
        await self._kept(by, account.username, AccountChange.CREATED, described(account))
        if first_link is not None:
            await self._kept(by, account.username, AccountChange.FIRST_PASSWORD_LINK_SENT, f"to {account.email}")

    async def get(self, username: str) -> tuple[Account, str] | None:
        stored(username)
        return self.rows.get(username.strip().lower())

    async def count_attempt(
        self, username: str, count: Callable[[Account], SignInState]
    ) -> tuple[Account, str, SignInState] | None:
        found = await self.get(username)
        if found is None:
            return None
        account, password_hash = found
        state = count(account)
        await self.record_sign_in(username, state)
        return account, password_hash, state

    async def listing(
        self,
        *,
        ao_id: str | None = None,
        role: Role | None = None,
        starting: str | None = None,
        after: str | None = None,
        limit: int = 500,
    ) -> list[Account]:
        found = sorted(
            (account for account, _ in self.rows.values()),
            key=lambda account: account.username,
        )
        return [
            account
            for account in found
            if (ao_id is None or account.ao_id == ao_id)
            and (role is None or account.role is role)
            and (starting is None or account.username.startswith(starting))
            and (after is None or account.username > after)
        ][:limit]

    async def enabled_operators(self) -> list[Account]:
        operators = (account for account, _ in self.rows.values() if account.is_operator and not account.disabled_at)
        return sorted(operators, key=lambda account: account.username)

    async def record_sign_in(self, username: str, state: SignInState) -> None:
        account, password_hash = self.rows[username]
        self.rows[username] = (replace(account, sign_in=state), password_hash)

    async def set_password(
        self, username: str, password_hash: str, *, by: str, password_set_at: datetime | None = None
    ) -> None:
        stored(username)
        if username not in self.rows:
            raise AccountNotFound(username)
        if self.rows[username][0].disabled_at is not None:
            raise AccountDisabled(username)
        if password_set_at is not None and password_set_at != self.rows[username][0].password_set_at:
            last = next(c for c in reversed(self.changed) if c.subject == username)
            raise PasswordChangedMeanwhile(username, last.change, last.changed_by, last.changed_at)
        self.rows[username] = (
            replace(self.rows[username][0], sign_in=SignInState(), password_given=True, password_set_at=utc_now()),
            password_hash,
        )
        await self._kept(by, username, AccountChange.PASSWORD_RESET)

    async def change_own_password(self, account: Account, checked_hash: str, new_hash: str) -> EndedKeys | None:
        current, password_hash = self.rows[account.username]
        if password_hash != checked_hash or current.disabled_at is not None:
            return None
        self.rows[account.username] = (replace(current, password_given=False), new_hash)
        await self._kept(account.who, account.username, AccountChange.PASSWORD_CHANGED)
        assert self.sessions is not None
        return await self.sessions.end_all_of(account.username)

    def _link_refused(self, username: str, most_per_hour: int) -> LinkRefusal | None:
        found = self.rows.get(username)
        if found is None:
            return LinkRefusal.NO_ACCOUNT
        if found[0].disabled_at is not None:
            return LinkRefusal.DISABLED
        if not found[0].email:
            return LinkRefusal.NO_ADDRESS
        hour_ago = utc_now() - timedelta(hours=1)
        recent = [link for link in self.reset_links.values() if link["username"] == username]
        if sum(link["created_at"] > hour_ago for link in recent) >= most_per_hour:
            return LinkRefusal.SHARE_USED
        return None

    def _keep_link(self, username: str, token_hash: str, expires_at: datetime) -> Account:
        account, password_hash = self.rows[username]
        self.reset_links[token_hash] = {
            "username": username,
            "password_hash": password_hash,  # stands for PostgreSQL's password_set_at: any change changes it
            "created_at": utc_now(),
            "expires_at": expires_at,
            "used": False,
        }
        return account

    async def count_link_request(self, client: str, *, most_per_hour: int) -> ClientRequest:
        now = utc_now()
        judged = judge_client_request(self.link_requests[client], now, most_per_hour)
        if judged is not ClientRequest.BEYOND:
            self.link_requests[client].append(KeptRequest(now, judged is ClientRequest.ANSWERED))
        return judged

    async def keep_reset_link(
        self, username: str, token_hash: str, expires_at: datetime, *, most_per_hour: int, requested_by: str
    ) -> Account | LinkRefusal:
        if refused := self._link_refused(username, most_per_hour):
            return refused
        await self._kept(requested_by, username, AccountChange.RESET_LINK_REQUESTED)
        return self._keep_link(username, token_hash, expires_at)

    async def forget_reset_link(self, token_hash: str) -> None:
        self.reset_links.pop(token_hash, None)

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
        if refused := self._link_refused(username, most_per_hour):
            raise LinkRefused(refused)
        await deliver(self.rows[username][0])  # a link that did not go is not kept
        account = self._keep_link(username, token_hash, expires_at)
        await self._kept(by, username, AccountChange.PASSWORD_LINK_SENT, f"to {account.email}")
        return account

    async def reset_link_holder(self, token_hash: str) -> Account | None:
        stored(token_hash)
        link = self.reset_links.get(token_hash)
        if link is None or link["used"] or link["expires_at"] <= utc_now():
            return None
        account, password_hash = self.rows[link["username"]]
        if password_hash != link["password_hash"] or account.disabled_at is not None:
            return None
        return account

    async def reset_by_link(self, token_hash: str, new_hash: str) -> tuple[Account, EndedKeys] | None:
        account = await self.reset_link_holder(token_hash)
        if account is None:
            return None
        self.reset_links[token_hash]["used"] = True
        self.rows[account.username] = (replace(account, sign_in=SignInState(), password_given=False), new_hash)
        await self._kept(account.who, account.username, AccountChange.PASSWORD_RESET_BY_LINK)
        assert self.sessions is not None
        return account, await self.sessions.end_all_of(account.username)

    async def set_email(self, username: str, email: str | None, *, by: str) -> str | None:
        stored(username, email)
        if username not in self.rows:
            raise AccountNotFound(username)
        account, password_hash = self.rows[username]
        if account.email == email:
            return email
        self.rows[username] = (replace(account, email=email), password_hash)
        for link in self.reset_links.values():
            if link["username"] == username:
                link["used"] = True
        await self._kept(by, username, AccountChange.EMAIL_CHANGED, address_change(account.email, email))
        return account.email

    async def set_scopes(self, username: str, scopes: frozenset[str], *, by: str) -> bool:
        stored(username)
        if username not in self.rows or not self.rows[username][0].is_operator:
            raise AccountNotFound(username)
        account, password_hash = self.rows[username]
        if account.scopes == scopes:
            return False
        check_operator_power_stays(account, replace(account, scopes=scopes), self._others(username))
        self.rows[username] = (replace(account, scopes=scopes), password_hash)
        await self._kept(by, username, AccountChange.DUTIES_CHANGED, duties_text(scopes))
        return True

    def _others(self, username: str) -> list[Account]:
        return [account for account, _ in self.rows.values() if account.username != username]

    async def enable(self, username: str, *, by: str) -> bool:
        if username not in self.rows:
            raise AccountNotFound(username)
        account, password_hash = self.rows[username]
        if account.disabled_at is None:
            return False
        self.rows[username] = (replace(account, disabled_at=None, sign_in=SignInState()), password_hash)
        await self._kept(by, username, AccountChange.ENABLED)
        return True

    async def disable(
        self,
        username: str,
        *,
        by: str,
        reason: str = "",
        in_the_same_step: Callable[[None, Account], Awaitable[None]] | None = None,
    ) -> bool:
        stored(username, reason)
        if username not in self.rows:
            raise AccountNotFound(username)
        account = self.rows[username][0]
        if account.disabled_at is not None:
            return False
        check_operator_power_stays(account, replace(account, disabled_at=utc_now()), self._others(username))
        self.rows[username] = (replace(account, disabled_at=utc_now()), self.rows[username][1])
        for link in self.reset_links.values():
            if link["username"] == username:
                link["used"] = True
        await self._kept(by, username, AccountChange.DISABLED, reason)
        if in_the_same_step is not None:
            await in_the_same_step(None, account)
        return True


class MemorySessions:
    def __init__(self, accounts: MemoryAccounts) -> None:
        self._accounts = accounts
        self.rows: dict[str, dict[str, Any]] = {}

    async def create(
        self,
        token_hash: str,
        username: str,
        csrf_token: str,
        service_key_id: str,
        sealed_service_key: bytes,
        expires_at: datetime,
        *,
        password_hash: str | None = None,
        scopes: frozenset[str] = frozenset(),
    ) -> bool:
        account, current_hash = self._accounts.rows[username]
        if password_hash not in (None, current_hash) or account.scopes != scopes or account.disabled_at is not None:
            return False
        self.rows[token_hash] = {
            "username": username,
            "csrf_token": csrf_token,
            "service_key_id": service_key_id,
            "sealed_service_key": sealed_service_key,
            "created_at": utc_now(),
            "expires_at": expires_at,
        }
        return True

    async def get(self, token_hash: str) -> StoredSession | None:
        row = self.rows.get(token_hash)
        if row is None:
            return None
        account = self._accounts.rows[row["username"]][0]
        return StoredSession(
            token_hash,
            account,
            row["csrf_token"],
            row["service_key_id"],
            row["sealed_service_key"],
            row["created_at"],
            row["expires_at"],
        )

    async def change_notices(self, token_hash: str, change: Callable[[bytes | None], bytes | None]) -> None:
        if token_hash in self.rows:
            self.rows[token_hash]["notices"] = change(self.rows[token_hash].get("notices"))

    async def notices(self, token_hash: str) -> bytes | None:
        sealed: bytes | None = self.rows.get(token_hash, {}).get("notices")
        return sealed

    async def change_look_ups(self, token_hash: str, change: Callable[[bytes | None], bytes]) -> None:
        if token_hash in self.rows:
            self.rows[token_hash]["look_ups"] = change(self.rows[token_hash].get("look_ups"))

    async def look_ups(self, token_hash: str) -> bytes | None:
        sealed: bytes | None = self.rows.get(token_hash, {}).get("look_ups")
        return sealed

    async def extend(self, token_hash: str, expires_at: datetime) -> None:
        self.rows[token_hash]["expires_at"] = expires_at

    async def end(self, token_hash: str) -> EndedKeys:
        row = self.rows.pop(token_hash, None)
        return EndedKeys([row["service_key_id"]] if row else [], [])

    async def end_all_of(self, username: str) -> EndedKeys:
        ended = [token for token, row in self.rows.items() if row["username"] == username]
        return EndedKeys([self.rows.pop(token)["service_key_id"] for token in ended], [])


class MemoryKeys:
    def __init__(self) -> None:
        self.live: dict[str, Principal] = {}
        self.labels: dict[str, str] = {}
        self.created: dict[str, datetime] = {}
        self.revoked: dict[str, tuple[Principal, datetime]] = {}
        self.revoked_by: dict[str, str] = {}  # who revoked the keys, where the portal said (the key store's own record)
        self.made_by: dict[str, str] = {}  # who made the keys, likewise

    async def issue(
        self, principal: Principal, label: str, *, by: str | None = None, connection: None = None
    ) -> IssuedKey:
        stored(label)
        key_id = secrets.token_hex(8)
        if by is not None:
            self.made_by[key_id] = by
        self.live[key_id] = principal
        self.labels[key_id] = label
        self.created[key_id] = utc_now()
        return IssuedKey(key_id, f"lrs_{key_id}_{secrets.token_urlsafe(8)}", principal)

    async def issue_for_session(self, principal: Principal, username: str) -> IssuedKey:
        return await self.issue(principal, f"portal session: {username}")

    async def revoke(self, key_ids: list[str]) -> None:
        stored(*key_ids)
        for key_id in key_ids:
            if (principal := self.live.pop(key_id, None)) is not None:
                self.revoked[key_id] = (principal, utc_now())

    async def forget_revoked(self, key_ids: list[str]) -> None:
        assert not set(key_ids) & set(self.live), "forgotten only once revoked"

    async def own_keys(self, principal: Principal) -> list[StoredKey]:
        return [
            StoredKey(key_id, live, self.labels[key_id], self.created[key_id], None)
            for key_id, live in sorted(self.live.items(), key=lambda item: (self.created[item[0]], item[0]))
            if (live.kind, live.id) == (principal.kind, principal.id)
            and not self.labels[key_id].startswith("portal session:")
        ]

    async def revoke_own_keys(self, principal: Principal, *, by: str, connection: None) -> list[StoredKey]:
        own = await self.own_keys(principal)
        await self.revoke([key.key_id for key in own])
        self.revoked_by.update({key.key_id: by for key in own})
        return own

    async def revoke_ao_key(self, key_id: str, *, by: str, connection: None = None) -> Principal | None:
        principal = self.live.get(key_id)
        if (
            principal is None
            or principal.kind is not PrincipalKind.AO
            or self.labels[key_id].startswith("portal session:")
        ):
            return None
        self.revoked[key_id] = (self.live.pop(key_id), utc_now())
        self.revoked_by[key_id] = by
        return principal

    async def revoked_ao_key(self, key_id: str) -> StoredKey | None:
        if key_id not in self.revoked or self.labels[key_id].startswith("portal session:"):
            return None
        principal, revoked_at = self.revoked[key_id]
        if principal.kind is not PrincipalKind.AO:
            return None
        return StoredKey(key_id, principal, self.labels[key_id], self.created[key_id], revoked_at)

    async def listing(
        self, kind: PrincipalKind = PrincipalKind.AO, *, principal: Principal | None = None, limit: int = 500
    ) -> tuple[list[StoredKey], int]:
        listed = [
            StoredKey(key_id, live, self.labels[key_id], self.created[key_id], None)
            for key_id, live in sorted(self.live.items())
            if live.kind is kind
            and (principal is None or live == principal)
            and not self.labels[key_id].startswith("portal session:")
        ]
        return listed[:limit], len(listed)


class MemoryMailer:
    """Keeps what the portal sends; `refusing` makes it fail as an unreachable relay does."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.refusing = False

    async def send(self, message: EmailMessage) -> None:
        if self.refusing:
            raise MailError("ConnectionRefusedError", permanent=False)
        self.sent.append(message)


class MemoryHolds:
    """portal.store.SentForms' holds of a direct entry's content in memory (`hold`, `let_go`)."""

    def __init__(self) -> None:
        self.held: dict[uuid.UUID, tuple[str, str, datetime]] = {}  # by key: who, which form's send, since
        self.held_already = asyncio.Event()  # a send found the entry held by another form's send

    async def hold(self, username: str, form_id: uuid.UUID, form: str, *, held_at_most: timedelta) -> SentForm | None:
        found = self.held.get(form_id)
        if found is None or found[2] < utc_now() - held_at_most:
            self.held[form_id] = (username, form, utc_now())
            return None
        if found[1] != form:
            self.held_already.set()
        return SentForm(found[0], found[1], None)

    async def let_go(self, form_id: uuid.UUID, form: str) -> None:
        if form_id in self.held and self.held[form_id][1] == form:
            del self.held[form_id]


class MemoryUploads:
    def __init__(self) -> None:
        self.forms: Any = MemoryHolds()  # a test of other forms puts its own sent-forms store here
        self.kept: dict[uuid.UUID, PendingUpload] = {}
        self.made: dict[uuid.UUID, uuid.UUID] = {}  # a submitted upload's batch
        self.environments: dict[uuid.UUID, Environment] = {}  # where each was checked (one put in `kept`: live)

    async def keep(
        self,
        username: str,
        filename: str,
        content_type: str | None,
        content: bytes,
        *,
        environment: Environment = Environment.LIVE,
    ) -> KeptUpload:
        stored(filename, content_type)
        upload_id = uuid.uuid4()
        self.kept[upload_id] = PendingUpload(upload_id, filename, content_type, content, utc_now())
        self.environments[upload_id] = environment
        return KeptUpload(upload_id, "key")

    def _of(self, upload_id: uuid.UUID, environment: Environment) -> bool:
        return self.environments.get(upload_id, Environment.LIVE) is environment

    async def get(
        self, username: str, upload_id: uuid.UUID, key: str, *, environment: Environment = Environment.LIVE
    ) -> PendingUpload | None:
        return self.kept.get(upload_id) if self._of(upload_id, environment) else None

    async def forget(self, upload_id: uuid.UUID) -> None:
        self.kept.pop(upload_id, None)

    async def submitted(self, upload_id: uuid.UUID, batch_id: uuid.UUID) -> None:
        self.kept.pop(upload_id, None)
        self.made[upload_id] = batch_id

    async def submitted_batch(
        self, username: str, upload_id: uuid.UUID, *, environment: Environment = Environment.LIVE
    ) -> uuid.UUID | None:
        return self.made.get(upload_id) if self._of(upload_id, environment) else None


Answer = Callable[[httpx.Request], httpx.Response]


class OperatorKey:
    """The services' key store, for the portal's admin API: every bearer key is `principal`'s."""

    environment = Environment.LIVE

    def __init__(self, principal: str = "operator:desk", scopes: frozenset[str] = frozenset()) -> None:
        self.principal = Principal.parse(principal, scopes)

    async def authenticate(self, token: str) -> Principal:
        return self.principal


def problem(status: int, detail: str, **fields: Any) -> httpx.Response:
    return httpx.Response(status, json={"title": "Conflict", "status": status, "detail": detail, **fields})


# --- the stubbed answers are the services' documented answers ----------------------------------------------------

OPENAPI = Path(__file__).resolve().parents[4] / "docs" / "openapi"
_JSON_TYPES = ("application/json", "application/problem+json")


@functools.cache
def _document(service: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((OPENAPI / f"{service}.json").read_text(encoding="utf-8"))
    return loaded


@functools.cache
def _components(service: str) -> dict[str, Any]:
    """The document's schemas with each model closed and nothing required: a stub may leave out what its test does
    not read, but every key it sends must be one the service documents, of the documented type."""
    closed: dict[str, Any] = _closed(_document(service)["components"])
    return closed


def _closed(node: Any) -> Any:
    if isinstance(node, list):
        return [_closed(each) for each in node]
    if not isinstance(node, dict):
        return node
    closed = {key: _closed(value) for key, value in node.items() if key != "required" or "properties" not in node}
    if "properties" in node and isinstance(node["properties"], dict) and "additionalProperties" not in node:
        closed["additionalProperties"] = False  # a model's; one open on purpose (a problem's) says so
    return closed


def _document_of(host: str) -> str:
    """The OpenAPI document of the service a stubbed host stands for (`SERVICE_URLS`, `with_a_sandpit`'s)."""
    service = host.removeprefix("sandpit-")
    if host != service and (OPENAPI / f"{service}-sandpit.json").exists():
        return f"{service}-sandpit"
    return service


@functools.cache
def _operations(service: str) -> list[tuple[re.Pattern[str], str]]:
    """Each documented path as a pattern of the paths it answers, the paths with fewest parameters first."""
    paths = sorted(_document(service)["paths"], key=lambda path: (path.count("{"), path))
    return [(re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(path)) + "$"), path) for path in paths]


@functools.cache
def _validator(service: str, path: str, method: str, status: str, media_type: str) -> Draft202012Validator | None:
    responses = _document(service)["paths"][path][method]["responses"]
    documented = responses.get(status) or responses.get(f"{status[0]}XX") or responses.get("default")
    if documented is None and status.startswith("5"):
        return None  # a service down or failing, as a gateway answers it whatever the route documents
    assert documented is not None, f"{service} does not document {status} on {method.upper()} {path}"
    schema = documented.get("content", {}).get(media_type, {}).get("schema")
    if schema is None:
        return None
    # the document's components beside the answer's schema: its `#/components/...` references resolve in it
    return Draft202012Validator({**_closed(schema), "components": _components(service)})


def undocumented(answer: httpx.Response) -> httpx.Response:
    """A stub's answer its service's document does not allow, sent so on purpose (a word a newer service may send,
    say): not checked by `as_documented`."""
    answer.extensions["undocumented"] = True
    return answer


def as_documented(request: httpx.Request, answer: httpx.Response) -> None:
    """Fails the test whose stub answers `request` with a JSON body its service's OpenAPI document
    (docs/openapi/<service>.json, `make openapi`) does not allow: a key renamed or dropped by the service then
    fails here too, not only in production."""
    media_type = answer.headers.get("content-type", "").split(";")[0].strip()
    if media_type not in _JSON_TYPES or not answer.content or answer.extensions.get("undocumented"):
        return
    service = _document_of(request.url.host)
    method = request.method.lower()
    path = next(
        (
            path
            for pattern, path in _operations(service)
            if pattern.match(request.url.path) and method in _document(service)["paths"][path]
        ),
        None,
    )
    assert path is not None, f"{service} has no {request.method} {request.url.path}"
    validator = _validator(service, path, method, str(answer.status_code), media_type)
    if validator is None:
        return
    errors = sorted(validator.iter_errors(answer.json()), key=lambda error: list(error.absolute_path))
    assert not errors, (
        f"the stubbed {answer.status_code} of {service} {request.method} {path} is not as documented: "
        + "; ".join(f"{'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}" for error in errors[:5])
    )


@dataclass
class StubbedPortal:
    """The app, its in-memory stores, and the requests it sent the services (answered by `answers`)."""

    app: FastAPI
    auth: Authentication
    accounts: MemoryAccounts
    sessions: MemorySessions
    keys: MemoryKeys
    uploads: MemoryUploads
    cookies: CookiePolicy
    mailer: MemoryMailer = field(default_factory=MemoryMailer)
    answers: dict[tuple[str, str], Answer] = field(default_factory=dict)
    sent: list[httpx.Request] = field(default_factory=list)

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        respond = self.answers.get((request.method, f"{request.url.host}{request.url.path}"))
        if respond is None:
            return httpx.Response(404, json={"title": "Not found"})
        answered = respond(request)
        if isinstance(answered, httpx.Response):
            as_documented(request, answered)
            return answered

        async def when_answered() -> httpx.Response:  # a slow service's stub: MockTransport awaits it
            answer: httpx.Response = await answered
            as_documented(request, answer)
            return answer

        # typed as `Answer`s are: MockTransport awaits what a slow stub's `respond` gives, as the test says it does
        return cast(httpx.Response, when_answered())

    def on(self, method: str, service_path: str, respond: Answer) -> None:
        """Answers `method` on `service_path` ("challenges/v1/challenges/...") with `respond`."""
        self.answers[(method, service_path)] = respond

    def sent_to(self, method: str, service_path: str) -> list[httpx.Request]:
        return [r for r in self.sent if r.method == method and f"{r.url.host}{r.url.path}" == service_path]

    def account(
        self, username: str, role: Role = Role.AO, scopes: frozenset[str] = frozenset(), email: str | None = None
    ) -> tuple[Account, str]:
        """A new account and its password."""
        return asyncio.run(
            self.auth.create_account(
                username, username.title(), role, AO_ID if role is Role.AO else None, email, scopes, by="operator:tests"
            )
        )

    def signed_in(self, role: Role = Role.AO, scopes: frozenset[str] = frozenset()) -> tuple[TestClient, SignedIn]:
        """A client with the session cookie of a new account's person (an operator: with `scopes` as their
        duties), and their session."""
        account, password = self.account(f"user.{secrets.token_hex(3)}", role, scopes)
        result = asyncio.run(self.auth.sign_in(account.username, password))
        assert result.session is not None
        client = TestClient(self.app, follow_redirects=False)
        client.cookies.set(self.cookies.session_cookie, result.session.token)
        return client, result.session

    def client(self) -> TestClient:
        return TestClient(self.app, follow_redirects=False)


RESET_LINKS = ResetLinkPolicy("https://portal.test", "portal@lrs.test")


def stubbed_portal(*, sends_reset_links: bool = False) -> StubbedPortal:
    """`sends_reset_links`: with a mail relay (`StubbedPortal.mailer`) for forgotten passwords, as RESET_LINKS says."""
    settings = PortalSettings(cookie_secure=False, log_json=False, log_level="warning")
    logging_before = structlog.get_config()
    app = create_app(settings)
    structlog.configure(**logging_before)  # the app's logging set up for a process, not for the tests after
    accounts = MemoryAccounts()
    sessions = MemorySessions(accounts)
    accounts.sessions = sessions
    keys = MemoryKeys()
    uploads = MemoryUploads()
    auth = Authentication(
        accounts,  # type: ignore[arg-type]
        sessions,  # type: ignore[arg-type]
        keys,  # type: ignore[arg-type]
        LockoutPolicy(),
        SessionPolicy(timedelta(minutes=30), timedelta(hours=12)),
        register=TEST_REGISTER,
    )
    cookies = CookiePolicy(secure=False)
    stub = StubbedPortal(app, auth, accounts, sessions, keys, uploads, cookies)
    client = httpx.AsyncClient(transport=httpx.MockTransport(stub.answer))
    app.state.portal = Portal(
        settings=settings,
        auth=auth,
        services=Services(SERVICE_URLS, client),
        uploads=uploads,  # type: ignore[arg-type]
        keys=keys,  # type: ignore[arg-type]
        catalogue=load_catalogue(),
        cookies=cookies,
        password_emails=PasswordEmails(accounts, stub.mailer, RESET_LINKS) if sends_reset_links else None,
    )
    return stub


def with_a_sandpit(portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch) -> StubbedPortal:
    """`portal` with a Sandpit whose services `portal.answer` answers too (their hosts `sandpit-<service>`): sign
    people in after, so that they are issued a Sandpit key."""
    sandpit_urls = {name: f"http://sandpit-{name}" for name in ("ingest", "plr-projector", "validation")}
    client = httpx.AsyncClient(transport=httpx.MockTransport(portal.answer))
    portal.app.state.portal = dataclasses.replace(portal.app.state.portal, sandpit=Services(sandpit_urls, client))
    keeping_sandpit_keys(portal, monkeypatch)
    return portal


def keeping_sandpit_keys(portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sandpit keys issued at sign-in kept in `portal.keys`, and their sealed copies taken without a database."""

    async def keep_sandpit_key(token_hash: str, key_id: str, sealed: bytes) -> bool:
        return True

    monkeypatch.setattr(portal.auth, "_sandpit_keys", portal.keys)
    monkeypatch.setattr(portal.sessions, "keep_sandpit_key", keep_sandpit_key, raising=False)


def confirmed_on(page: str) -> str:
    """What a skip's confirmation sends back of the messages it showed dropped, as a browser would."""
    found = re.search(r'name="confirmed" value="([^"]*)"', page)
    assert found is not None, "the confirmation sends back what it showed"
    return html.unescape(found.group(1))


def form(session: SignedIn, **values: str) -> dict[str, str]:
    return {FIELD: session.csrf_token, **values}


def shown_after(client: TestClient, answer: httpx.Response) -> httpx.Response:
    """The page an action sent the browser to (decision 0130), as the browser fetches it: once."""
    assert answer.status_code == 303, answer.text
    shown: httpx.Response = client.get(answer.headers["location"])
    return shown
