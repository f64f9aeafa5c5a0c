"""Use cases for people: sign in, find the session a cookie names, sign out, manage accounts."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import Collection, Container, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from time import monotonic
from typing import Any, Protocol

import asyncpg

from lrs_contracts.environments import Environment
from lrs_platform.credential_store import IssuedKey, StoredKey
from lrs_platform.identity import Principal, PrincipalKind
from lrs_platform.logging import get_logger
from lrs_platform.mail import MailError
from portal import passwords
from portal.accounts import (
    Account,
    AccountChange,
    AccountListing,
    AddressChange,
    ChangeRecord,
    InvalidAccount,
    LastOperatorWithPower,
    LockoutPolicy,
    NotInRegister,
    PasswordByLink,
    PasswordChange,
    PasswordOwner,
    Role,
    SignInOutcome,
    account_errors,
    after_success,
    before_check,
    check_new_password,
    checked_duties,
    checked_email,
    decide_sign_in,
    is_locked,
    new_account,
    one_address,
    operators_kept,
    username_from,
)
from portal.csrf import new_csrf_token
from portal.reset_links import is_token, requesting_client
from portal.sessions import (
    LOOK_UPS_CONTEXT,
    SANDPIT_SEAL_CONTEXT,
    SessionPolicy,
    new_token,
    open_notice,
    seal,
    seal_notice,
    token_hash,
    unseal,
)
from portal.store import (
    AccountNotFound,
    AccountStore,
    EndedKeys,
    FirstPasswordLink,
    LinkRefusal,
    LinkRefused,
    ServiceKeys,
    SessionStore,
)

_log = get_logger("portal.auth")
# New accounts whose link to choose a first password is under way at once (decision 0129): each holds a
# connection of the portal's pool (5) until the relay has taken the email.
FIRST_LINKS_AT_ONCE = 2
# Passwords hashed or checked at once; the others wait their turn. argon2id takes 64 MiB a hash (argon2-cffi's
# defaults): three at once overran the portal's memory limit (256 MiB) and the kernel killed it, whoever sent them
# (an unknown username is checked against a decoy, at the same cost). Two at once peak at ~220 MB.
PASSWORD_HASHES_AT_ONCE = 2
# Sign-ins of one client (its address; an IPv6 one's /64) checked at once in a replica; more are refused at once,
# not queued: one client sending sign-ins together could otherwise hold every turn at the hashes and make everyone's
# sign-in wait (a flood of 300 kept a real one waiting 25 s). A person signs in once at a time.
SIGN_INS_AT_ONCE_PER_CLIENT = 2
# A forgotten-password link's form sent twice (a double-click: the browser shows the answer to the second) finds the
# link used by the first. For this long after the first, a second sent to the same replica whose password is the one
# the first set, still the account's, is answered as the first was: the password is set, not "this link does not work".
LINK_USE_REMEMBERED_SECONDS = 120.0
# Notices a session keeps waiting for their pages at most (each read once; one never read, its tab closed, is dropped
# when newer ones pass this many).
NOTICES_KEPT = 20


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SignedIn:
    """A live session: who, the CSRF token of its forms, and the key the services know them by."""

    token: str
    account: Account
    csrf_token: str
    service_key: str
    expires_at: datetime
    sandpit_key: str | None = None  # issued the first time the person opens the Sandpit


@dataclass(frozen=True)
class Disabled:
    """What disabling an account did: `done`, False when it was disabled already (nothing changed); `keys_revoked`, an
    operator's own API keys (`operator:<username>`, not its sessions') revoked in the same step."""

    done: bool
    keys_revoked: tuple[StoredKey, ...] = ()


def in_the_portal(by: str) -> str:
    """Who issued or revoked an AO's key in the portal, as the key store keeps it beside those `lrs credentials` made
    (`operator:alex, the portal`; `alex@laptop, lrs credentials revoke`): `lrs credentials list` then names both."""
    return f"{by}, the portal"


def reaches_beyond(key: StoredKey, duties: Collection[str]) -> bool:
    """Whether an operator key does more than `duties` (none: every duty) allow: a key without scopes does
    everything."""
    if not duties:
        return False
    return not key.principal.scopes or not key.principal.scopes <= set(duties)


class SessionEnded(Exception):
    """The session ended while a request of it was under way."""


class LinkNotSent(Exception):
    """A link to choose a password could not be emailed: nothing was kept (a new account was not created).
    `about_address`: the relay refused the address for good (worth checking it), not a relay away or slow."""

    def __init__(self, detail: str, *, about_address: bool) -> None:
        super().__init__(detail)
        self.about_address = about_address


class LinkShareUsed(Exception):
    """The account has had its hourly share of links to choose a password: none sent."""


class NoSandpit(Exception):
    """A Sandpit key was asked of a portal without a Sandpit (no PORTAL_SANDPIT_DATABASE_URL and services)."""


class SandpitUnreachable(Exception):
    """The Sandpit's database did not answer: its keys cannot be listed just now (live's still can)."""


# what a database that is away raises through asyncpg
_DATABASE_AWAY = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class PasswordLinks(Protocol):
    """Links to choose a password that an operator's action sends (`password_emails.PasswordEmails`)."""

    def first_password_link(self, account: Account) -> FirstPasswordLink: ...

    async def send_operators_link(self, username: str, *, by: str) -> tuple[Account, datetime]: ...


@dataclass(frozen=True)
class _CheckedPassword:
    outcome: SignInOutcome
    account: Account | None = None  # with its password hash, when the password was right
    password_hash: str = ""
    locked_until: datetime | None = None


@dataclass(frozen=True)
class _LinkUse:
    """A forgotten-password link used in this replica: for whom, the hash of the password it set, when (monotonic)."""

    username: str
    password_hash: str
    at: float


@dataclass(frozen=True)
class SignInResult:
    outcome: SignInOutcome
    session: SignedIn | None = None
    locked_until: datetime | None = None


class Authentication:
    def __init__(
        self,
        accounts: AccountStore,
        sessions: SessionStore,
        keys: ServiceKeys,
        lockout: LockoutPolicy,
        session_policy: SessionPolicy,
        sandpit_keys: ServiceKeys | None = None,
        *,
        register: Container[str],
    ) -> None:
        """`register`: the AO ids of the awarding organisations' register (`lrs_domain.reference_files`),
        the only AOs an AO user's account or an AO key may be made for."""
        self._accounts = accounts
        self._register = register
        self._sessions = sessions
        self._keys = keys
        self._sandpit_keys = sandpit_keys
        self._lockout = lockout
        self._session_policy = session_policy
        self._first_links_at_once = asyncio.Semaphore(FIRST_LINKS_AT_ONCE)
        self._password_hashes_at_once = asyncio.Semaphore(PASSWORD_HASHES_AT_ONCE)
        self._sign_ins_checking: Counter[str] = Counter()  # by client
        self._links_used: dict[str, _LinkUse] = {}  # by the link's hash, for LINK_USE_REMEMBERED_SECONDS

    async def _verified(self, password_hash: str | None, password: str) -> bool:
        """argon2 takes tens of milliseconds of CPU: in a thread, so other requests go on meanwhile, and no more
        than `PASSWORD_HASHES_AT_ONCE` at once."""
        async with self._password_hashes_at_once:
            return await asyncio.to_thread(passwords.verify_password, password_hash, password)

    async def _hashed(self, password: str) -> str:
        async with self._password_hashes_at_once:
            return await asyncio.to_thread(passwords.hash_password, password)

    @contextlib.contextmanager
    def client_turn(self, address: str) -> Iterator[bool]:
        """Whether a sign-in from `address` may be checked now: not while `SIGN_INS_AT_ONCE_PER_CLIENT` of the same
        client's are (then it is refused, not queued); its turn lasts the `with`."""
        client = requesting_client(address)
        if self._sign_ins_checking[client] >= SIGN_INS_AT_ONCE_PER_CLIENT:
            _log.info("sign_in_refused", reason="client_busy")
            yield False
            return
        self._sign_ins_checking[client] += 1
        try:
            yield True
        finally:
            self._sign_ins_checking[client] -= 1
            if not self._sign_ins_checking[client]:
                del self._sign_ins_checking[client]

    async def sign_in(self, username: str, password: str, held: SignedIn | None = None) -> SignInResult:
        """`held`: the live session the browser holds already. Signed in as its account again (a second tab's
        sign-in form, a link from an email that arrived without the cookie), that session is the answer: no second
        session is opened, and the one the browser's other tabs use goes on. The password is checked all the same."""
        now = utc_now()
        checked_username = username_from(username)
        if checked_username is None:  # no account has it: nothing to look up
            _log.info("sign_in_refused", reason="malformed_username")
            return SignInResult(SignInOutcome.WRONG_CREDENTIALS)
        checked = await self._check_password(checked_username, password, now)
        if checked.outcome is SignInOutcome.LOCKED:
            _log.info("sign_in_refused", reason="locked")
            return SignInResult(checked.outcome, locked_until=checked.locked_until)
        if checked.outcome is SignInOutcome.WRONG_CREDENTIALS or checked.account is None:
            _log.info("sign_in_refused", reason="wrong_credentials")
            return SignInResult(SignInOutcome.WRONG_CREDENTIALS)
        account, password_hash = checked.account, checked.password_hash
        # the same account's live session is kept, unless its 12-hour limit is near (the warning of it says to sign
        # in again): `held` was just pushed `idle` ahead, so an end nearer than half of that is the absolute one
        if (
            held is not None
            and held.account.username == account.username
            and held.expires_at > now + self._session_policy.idle / 2
        ):
            _log.info("signed_in_again", role=account.role.value, ao_id=account.ao_id)
            return SignInResult(SignInOutcome.SIGNED_IN, held)
        session = await self._open_session(account, password_hash, now)
        if session is None:
            _log.info("sign_in_refused", reason="account_changed_meanwhile")
            return SignInResult(SignInOutcome.WRONG_CREDENTIALS)
        _log.info("signed_in", role=account.role.value, ao_id=account.ao_id)
        return SignInResult(SignInOutcome.SIGNED_IN, session)

    async def _check_password(self, username: str, password: str, now: datetime) -> _CheckedPassword:
        """The account's password checked as every sign-in checks it. The attempt is counted first, under
        the account row's lock, so attempts sent at once each count; a locked account is not even checked,
        so a lock cannot be used to test guesses, yet answers as slowly as a check (an answer quicker than an
        unknown name's would tell a real name from one); an unknown name takes as long as a wrong password; a
        disabled account answers as a wrong password does, whatever is given."""
        found = await self._accounts.count_attempt(username, lambda account: before_check(account, now, self._lockout))
        if found is None:
            await self._verified(None, password)
            return _CheckedPassword(SignInOutcome.WRONG_CREDENTIALS)
        account, password_hash, counted = found
        if is_locked(account.sign_in, now):
            # the guess is not tested, but takes as long as if it were: a quick answer would say the name is real
            await self._verified(None, password)
            password_matches = False
        else:
            password_matches = await self._verified(password_hash, password)
        outcome = decide_sign_in(account, password_matches, now)
        if outcome is SignInOutcome.LOCKED:
            return _CheckedPassword(outcome, locked_until=account.sign_in.locked_until)
        if outcome is SignInOutcome.WRONG_CREDENTIALS:
            if account.disabled_at is None and is_locked(counted, now):
                _log.warning("account_locked", role=account.role.value, ao_id=account.ao_id)
                return _CheckedPassword(SignInOutcome.LOCKED, locked_until=counted.locked_until)
            return _CheckedPassword(outcome)
        await self._accounts.record_sign_in(account.username, after_success())
        return _CheckedPassword(outcome, account, password_hash)

    async def _open_session(self, account: Account, password_hash: str, now: datetime) -> SignedIn | None:
        """The new session, or None (its key revoked) when the password checked, or the duties its key was
        issued with, are no longer the account's."""
        token = new_token()
        issued = await self._keys.issue_for_session(account.principal, account.username)
        csrf_token = new_csrf_token()
        expires_at = self._session_policy.expiry(now, now)
        opened = await self._sessions.create(
            token_hash(token),
            account.username,
            csrf_token,
            issued.key_id,
            seal(token, issued.token),
            expires_at,
            password_hash=password_hash,
            scopes=account.scopes,
        )
        if not opened:
            await self._keys.revoke([issued.key_id])
            return None
        return SignedIn(token, account, csrf_token, issued.token, expires_at)

    async def session_for(self, token: str | None, *, extend: bool = True) -> SignedIn | None:
        """The live session the cookie names, its expiry pushed forward; None when absent or over. `extend=False`:
        read as it is, for a request that is not the person's doing (a sign-in page that says the session ended, a
        batch page's polling), so that it never keeps an idle session."""
        if not token:
            return None
        stored = await self._sessions.get(token_hash(token))
        if stored is None:
            return None
        now = utc_now()
        if stored.expires_at <= now or stored.account.disabled_at is not None:
            await self._end(stored.token_hash)
            return None
        expires_at = stored.expires_at
        if extend:
            expires_at = self._session_policy.expiry(stored.created_at, now)
            await self._sessions.extend(stored.token_hash, expires_at)
        sealed_sandpit = stored.sealed_sandpit_key
        return SignedIn(
            token,
            stored.account,
            stored.csrf_token,
            unseal(token, stored.sealed_service_key),
            expires_at,
            unseal(token, sealed_sandpit, SANDPIT_SEAL_CONTEXT) if sealed_sandpit else None,
        )

    async def with_sandpit_key(self, session: SignedIn) -> SignedIn:
        """The session with its Sandpit key, issued now in the Sandpit's identity store if it has none yet."""
        if session.sandpit_key or self._sandpit_keys is None:
            return session
        issued = await self._sandpit_keys.issue_for_session(session.account.principal, session.account.username)
        sealed = seal(session.token, issued.token, SANDPIT_SEAL_CONTEXT)
        if await self._sessions.keep_sandpit_key(token_hash(session.token), issued.key_id, sealed):
            return replace(session, sandpit_key=issued.token)
        await self._sandpit_keys.revoke([issued.key_id])  # another request of the session was first
        found = await self.session_for(session.token)
        if found is None or found.sandpit_key is None:
            raise SessionEnded
        return found

    async def keep_notice(self, session: SignedIn, page: str, notice: dict[str, Any]) -> None:
        """Keeps what an action did (JSON values: a password shown once too) for `page`, the one the browser is
        sent to after it (its full address), so that reloading that page repeats nothing (decision 0130). A notice
        is kept by its page and, for a form that acts once (decision 0190), the form's one-time id: beside the others
        waiting (two tabs acting at once), the newest `NOTICES_KEPT`. Only a notice of the same page and form (none)
        replaces one unread: a form sent twice, whose second answer is the page the browser shows."""

        def with_it(sealed: bytes | None) -> bytes:
            form_id = notice.get("form_id")
            held = [
                kept
                for kept in self._opened_notices(session, sealed)
                if kept["page"] != page or kept["notice"].get("form_id") != form_id
            ]
            held.append({"page": page, "notice": notice})
            return seal_notice(session.token, json.dumps(held[-NOTICES_KEPT:]).encode())

        await self._sessions.change_notices(token_hash(session.token), with_it)

    async def take_notice(self, session: SignedIn, page: str, form_id: str | None = None) -> dict[str, Any] | None:
        """The notice kept for `page` (the oldest, when two are), once; with `form_id`, only the notice of that
        form (`_told_once`)."""

        def kept_here(held: list[dict[str, Any]]) -> int | None:
            return next(
                (
                    at
                    for at, kept in enumerate(held)
                    if kept["page"] == page and (form_id is None or kept["notice"].get("form_id") == form_id)
                ),
                None,
            )

        hashed = token_hash(session.token)
        if kept_here(self._opened_notices(session, await self._sessions.notices(hashed))) is None:
            return None  # nothing for this page: the session's row is not locked, nor written
        taken: dict[str, Any] | None = None

        def without_it(sealed: bytes | None) -> bytes | None:
            nonlocal taken
            held = self._opened_notices(session, sealed)
            at = kept_here(held)
            if at is not None:
                taken = held.pop(at)["notice"]
            return seal_notice(session.token, json.dumps(held).encode()) if held else None

        await self._sessions.change_notices(hashed, without_it)
        return taken

    @staticmethod
    def _opened_notices(session: SignedIn, sealed: bytes | None) -> list[dict[str, Any]]:
        if not sealed:
            return []
        held: list[dict[str, Any]] = json.loads(open_notice(session.token, bytes(sealed)))
        return held

    async def add_look_up(self, session: SignedIn, look_up_id: str, look_up: dict[str, Any], keep: int) -> None:
        """Adds a learner the session looked up (JSON values) to the newest `keep` it holds: sealed with the
        session's token, read only by its own requests, and ended with it. Two tabs looking up at once each keep
        theirs: the session's row is locked from the read to the write."""

        def with_it(sealed: bytes | None) -> bytes:
            held = json.loads(open_notice(session.token, sealed, LOOK_UPS_CONTEXT)) if sealed else {}
            held[look_up_id] = look_up
            newest = dict(list(held.items())[-keep:])
            return seal_notice(session.token, json.dumps(newest).encode(), LOOK_UPS_CONTEXT)

        await self._sessions.change_look_ups(token_hash(session.token), with_it)

    async def look_ups(self, session: SignedIn) -> dict[str, Any]:
        """The learners the session looked up, as last kept; empty before its first look-up."""
        sealed = await self._sessions.look_ups(token_hash(session.token))
        return json.loads(open_notice(session.token, bytes(sealed), LOOK_UPS_CONTEXT)) if sealed else {}

    async def sign_out(self, token: str) -> None:
        await self._end(token_hash(token))

    async def _end(self, hashed: str) -> None:
        await self._revoke(await self._sessions.end(hashed))

    async def _revoke(self, ended: EndedKeys) -> None:
        await self._keys.revoke(ended.live)
        if self._sandpit_keys is not None and ended.sandpit:
            await self._sandpit_keys.revoke(ended.sandpit)

    async def end_expired_sessions(self) -> int:
        ended = await self._sessions.end_expired(utc_now())
        await self._revoke(ended)
        return len(ended.live)

    # --- accounts ------------------------------------------------------------------------------

    async def create_account(
        self,
        username: str,
        display_name: str,
        role: Role,
        ao_id: str | None,
        email: str | None,
        scopes: Collection[str] = (),
        *,
        by: str,
    ) -> tuple[Account, str]:
        """Creates the account with a generated password, returned once to give to the person. `by` (a
        principal) is who did it, kept in the audit of account changes, as for every change below."""
        account = self._new_account(username, display_name, role, ao_id, email, scopes)
        password = passwords.generate_password()
        await self._accounts.create(account, await self._hashed(password), by=by)
        _log.info("account_created", role=role.value, ao_id=ao_id, scopes=sorted(account.scopes))
        return account, password

    def _new_account(
        self,
        username: str,
        display_name: str,
        role: Role,
        ao_id: str | None,
        email: str | None,
        scopes: Collection[str],
    ) -> Account:
        account = new_account(username, display_name, role, ao_id, email, scopes)
        if account.ao_id is not None:
            self._require_registered(account.ao_id)
        return account

    def new_account_errors(
        self,
        username: str,
        display_name: str,
        role: Role | None,
        ao_id: str | None,
        email: str | None,
        scopes: Collection[str] = (),
    ) -> dict[str, str]:
        """Every rule the details of a new account break (`account_errors`), the register's included, by field."""
        errors = account_errors(username, display_name, role, ao_id, email, scopes)
        if role is Role.AO and "ao_id" not in errors and ao_id:
            try:
                self._require_registered(ao_id.strip().upper())
            except NotInRegister as error:
                errors["ao_id"] = str(error)
        return errors

    def _require_registered(self, ao_id: str) -> None:
        if ao_id not in self._register:
            raise NotInRegister(ao_id)

    async def create_account_with_link(
        self,
        username: str,
        display_name: str,
        role: Role,
        ao_id: str | None,
        email: str | None,
        scopes: Collection[str] = (),
        *,
        by: str,
        links: PasswordLinks,
    ) -> Account:
        """Creates the account and emails the person a link to choose their own password (decision 0129):
        nobody is shown one, and until they choose it nobody can sign in (its generated password is never
        shown). The account needs an email address (InvalidAccount); when the email cannot go, the account
        is not created (LinkNotSent)."""
        account = self._new_account(username, display_name, role, ao_id, email, scopes)
        if one_address(account.email or "") is None:
            raise InvalidAccount("Enter the email address to send the link to.", "email")
        unknown = await self._hashed(passwords.generate_password())
        try:
            # the account's transaction holds a database connection while the relay takes the email: a few at
            # once, so creations during a relay's outage cannot take every connection of the pool
            async with self._first_links_at_once:
                await self._accounts.create(account, unknown, by=by, first_link=links.first_password_link(account))
        except MailError as error:
            _log.warning(
                "first_password_link_not_sent",
                role=role.value,
                ao_id=ao_id,
                error=str(error),
                permanent=error.permanent,
            )
            raise LinkNotSent(str(error), about_address=error.permanent and error.about_recipient) from error
        _log.info("account_created", role=role.value, ao_id=ao_id, scopes=sorted(account.scopes), first_link=True)
        return account

    async def set_duties(self, username: str, scopes: Collection[str], *, by: str) -> Account:
        """`change_duties`' account."""
        return (await self.change_duties(username, scopes, by=by))[0]

    async def change_duties(self, username: str, scopes: Collection[str], *, by: str) -> tuple[Account, bool]:
        """Limits an operator to `scopes` (none: every duty) and ends their sessions: each session's key
        carries the duties it was issued with, so the next sign-in gets a key with the new ones. The account, and
        False when its duties were these already: then nothing is recorded and its sessions go on (a repeat).
        LastOperatorWithPower when it would leave no enabled operator with every duty, or with the accounts duty."""
        duties = checked_duties(Role.OPERATOR, scopes)
        if not await self._accounts.set_scopes(username, duties, by=by):
            return await self.account(username), False
        await self._revoke(await self._sessions.end_all_of(username))
        _log.info("account_duties_changed", scopes=sorted(duties))
        return await self.account(username), True

    async def reset_password(
        self, username: str, password: str | None = None, *, by: str, password_set_at: datetime | None = None
    ) -> str:
        """Sets a new password (generated unless given), lifts a lock-out and ends the account's sessions;
        AccountDisabled for a disabled account (enable it first). `password_set_at`: when its password was set as
        the operator's confirmation found it: PasswordChangedMeanwhile, nothing set, when it was set again since."""
        new_password = password or passwords.generate_password()
        check_new_password(new_password)
        hashed = await self._hashed(new_password)
        await self._accounts.set_password(username, hashed, by=by, password_set_at=password_set_at)
        await self._revoke(await self._sessions.end_all_of(username))
        return new_password

    async def email_password_link(self, username: str, *, by: str, links: PasswordLinks) -> tuple[Account, datetime]:
        """An operator (`by`) emails the account's person a link to choose a password (decision 0129): after a
        new account's link ran out, or for someone locked out. Their password stays until they use it. The
        account and when the link stops working; AccountNotFound; InvalidAccount for a disabled account or one
        without an address; LinkShareUsed over the hourly share; LinkNotSent when the email cannot go (nothing
        kept)."""
        try:
            return await links.send_operators_link(username, by=by)  # no connection held while the relay answers
        except LinkRefused as refused:
            if refused.why is LinkRefusal.NO_ACCOUNT:
                raise AccountNotFound(username) from refused
            if refused.why is LinkRefusal.SHARE_USED:
                raise LinkShareUsed(username) from refused
            why = "is disabled" if refused.why is LinkRefusal.DISABLED else "has no email address: set one first"
            raise InvalidAccount(f"The account {why}.", "email") from refused
        except MailError as error:
            _log.warning("operator_link_not_sent", error=str(error), permanent=error.permanent)
            raise LinkNotSent(str(error), about_address=error.permanent and error.about_recipient) from error

    async def change_own_password(self, username: str, current: str, new: str) -> PasswordChange:
        """The signed-in person's own new password, given their current one, checked as a sign-in checks it
        (a wrong one counts towards the lock-out: a session left open cannot be used to guess it); the new
        one must follow the rules (InvalidAccount). Once changed, every session of the account ends."""
        checked = await self._check_password(username, current, utc_now())
        if checked.outcome is SignInOutcome.LOCKED:
            return PasswordChange.LOCKED
        if checked.account is None:
            return PasswordChange.WRONG_PASSWORD  # a wrong password, or an account disabled meanwhile
        check_new_password(new, is_current=new == current, owner=self._password_owner(checked.account))
        new_hash = await self._hashed(new)
        ended = await self._accounts.change_own_password(checked.account, checked.password_hash, new_hash)
        if ended is None:
            if await self._changed_to(username, new, since=checked.password_hash):
                # the form sent twice (a double-click): the change that came first was this very one, and it ended
                # every session of the account already
                _log.info("password_change_repeated", role=checked.account.role.value, ao_id=checked.account.ao_id)
                return PasswordChange.CHANGED_ALREADY
            return PasswordChange.CHANGED_MEANWHILE
        await self._revoke(ended)
        _log.info("password_changed", role=checked.account.role.value, ao_id=checked.account.ao_id)
        return PasswordChange.CHANGED

    async def _changed_to(self, username: str, password: str, *, since: str) -> Account | None:
        """The enabled account, when its password was changed from the one hashed `since` and is now `password`:
        the change that came "meanwhile" was one asked with the same new password (a form sent twice). Asked only
        for a request that proved the password it replaces (or held a link to choose one), so it tests no guess
        of anyone else's; a check costs as much as a sign-in's."""
        found = await self._accounts.get(username)
        if found is None or found[0].disabled_at is not None or found[1] == since:
            return None
        return found[0] if await self._verified(found[1], password) else None

    async def set_email(self, username: str, email: str | None, *, by: str) -> AddressChange:
        """An operator sets the account's email address (None: none; InvalidAccount for one that cannot be)."""
        previous = await self._accounts.set_email(username, checked_email(email), by=by)
        change = AddressChange(await self.account(username), previous, by_operator=True)
        if change.changed:
            _log.info("account_email_changed")
        return change

    async def change_own_email(
        self, username: str, current: str, email: str | None
    ) -> tuple[PasswordChange, AddressChange | None]:
        """The signed-in person's own email address, given their password, checked as a sign-in checks it:
        the address is where a link to choose a new password goes, so a session left open must not be enough
        to change it. CHANGED (and the change), WRONG_PASSWORD or LOCKED (InvalidAccount for an address that
        cannot be)."""
        address = checked_email(email)
        checked = await self._check_password(username, current, utc_now())
        if checked.outcome is SignInOutcome.LOCKED:
            return PasswordChange.LOCKED, None
        if checked.account is None:
            return PasswordChange.WRONG_PASSWORD, None
        previous = await self._accounts.set_email(username, address, by=checked.account.who)
        _log.info("own_email_changed", role=checked.account.role.value, ao_id=checked.account.ao_id)
        return PasswordChange.CHANGED, AddressChange(await self.account(username), previous, by_operator=False)

    async def reset_link_holder(self, token: str) -> Account | None:
        """The account a forgotten-password link is for while it works (decision 0128); None otherwise."""
        if not is_token(token):
            return None
        return await self._accounts.reset_link_holder(token_hash(token))

    async def reset_password_by_link(self, token: str, new: str) -> Account | None:
        """The person's new password, chosen through a working link (the rules as for any new password, and
        not the one an operator was shown: InvalidAccount); a lock-out is lifted and every session of the account
        ends. None when the link does not work (any more), unless it was used meanwhile to set this very password
        (the form sent twice): then the account, as the first time."""
        return (await self.set_password_by_link(token, new)).account

    async def set_password_by_link(self, token: str, new: str) -> PasswordByLink:
        """`reset_password_by_link`, saying also whether this was the form sent twice (`repeated`): the person is
        told of a new password once."""
        if not is_token(token):
            return PasswordByLink(None)
        link_hash = token_hash(token)
        holder = await self._link_holder(link_hash)
        check_new_password(
            new,
            is_current=await self._is_the_given_password(holder, new),
            owner=self._password_owner(holder[0]) if holder else None,
        )
        new_hash = await self._hashed(new)
        reset = await self._accounts.reset_by_link(link_hash, new_hash)
        if reset is None:
            if holder is not None and (same := await self._changed_to(holder[0].username, new, since=holder[1])):
                # used meanwhile by the same form sent again, perhaps to another replica
                _log.info("password_reset_by_link_repeated", role=same.role.value, ao_id=same.ao_id)
                return PasswordByLink(same, repeated=True)
            used = await self.link_used_for(token, new)
            return PasswordByLink(used, repeated=used is not None)
        account, ended = reset
        self._forget_old_link_uses()
        self._links_used[link_hash] = _LinkUse(account.username, new_hash, monotonic())
        await self._revoke(ended)
        _log.info("password_reset_by_link", role=account.role.value, ao_id=account.ao_id)
        return PasswordByLink(account)

    async def link_used_for(self, token: str, new: str) -> Account | None:
        """The account a forgotten-password link was used for in this replica within LINK_USE_REMEMBERED_SECONDS,
        when `new` is the password it set then and the account's password is still that one: the link's form sent
        twice, answered as the first time. None otherwise, as for any link that does not work. Only the holder
        of the link can ask, only about the password chosen through it, for a short while, at a sign-in's cost."""
        if not is_token(token):
            return None
        self._forget_old_link_uses()
        use = self._links_used.get(token_hash(token))
        if use is None:
            return None
        found = await self._accounts.get(use.username)
        if found is None or found[0].disabled_at is not None or found[1] != use.password_hash:
            return None  # changed again since, or disabled: the link does not work, as for anyone
        if not await self._verified(found[1], new):
            return None
        _log.info("password_reset_by_link_repeated", role=found[0].role.value, ao_id=found[0].ao_id)
        return found[0]

    def _forget_old_link_uses(self) -> None:
        now = monotonic()
        for link_hash, use in list(self._links_used.items()):
            if now - use.at > LINK_USE_REMEMBERED_SECONDS:
                del self._links_used[link_hash]

    def _password_owner(self, account: Account) -> PasswordOwner:
        """Whose new password is checked (`check_new_password`): the AO's name from the register, when it has it."""
        register = self._register
        organisation = register.get(account.ao_id) if account.ao_id and isinstance(register, Mapping) else None
        return PasswordOwner.of(account, getattr(organisation, "name", None))

    async def _link_holder(self, link_hash: str) -> tuple[Account, str] | None:
        """The account a working link is for, with its password hash."""
        holder = await self._accounts.reset_link_holder(link_hash)
        return None if holder is None else await self._accounts.get(holder.username)

    async def _is_the_given_password(self, holder: tuple[Account, str] | None, password: str) -> bool:
        """Whether `password` is the one an operator was shown for the account the link is for (`holder`). Only a
        given password is compared: a link must not let anyone test guesses at one the person chose, perhaps used
        elsewhere too. A password changed meanwhile stops the link working, so checking first is enough."""
        if holder is None or not holder[0].password_given:
            return False
        return await self._verified(holder[1], password)

    async def enable(self, username: str, *, by: str) -> bool:
        """Enables a disabled account again (its password as it was): False when it was not disabled."""
        enabled = await self._accounts.enable(username, by=by)
        if enabled:
            _log.info("account_enabled")
        return enabled

    async def disable_account(self, username: str, *, by: str, reason: str = "") -> Disabled:
        """Disables the account and ends its sessions, `reason` kept in the audit; an operator's own API keys (made
        under their name, `operator:<username>`) are revoked in the same transaction, kept as revoked by `by`: the
        person has left, or may not be who signs in. Not done when it was disabled already; LastOperatorWithPower
        when it would leave no enabled operator with every duty, or with the accounts duty."""
        revoked: list[StoredKey] = []

        async def revoke_own_keys(connection: asyncpg.Connection, account: Account) -> None:
            if account.is_operator:
                kept_as = f"{by}, disabling the portal account {account.username}"
                revoked.extend(await self._keys.revoke_own_keys(account.principal, by=kept_as, connection=connection))

        done = await self._accounts.disable(username, by=by, reason=reason, in_the_same_step=revoke_own_keys)
        if revoked:
            await self._keys.forget_revoked([key.key_id for key in revoked])
            _log.info("operator_keys_revoked_with_account", key_ids=[key.key_id for key in revoked])
        await self._revoke(await self._sessions.end_all_of(username))
        return Disabled(done, tuple(revoked))

    async def own_keys(self, account: Account) -> list[StoredKey]:
        """An operator's own live API keys (`operator:<username>`, not the portal's session keys), oldest first: what
        disabling the account revokes too; none for an AO user (its AO's keys are the AO's)."""
        return await self._keys.own_keys(account.principal) if account.is_operator else []

    async def keys_beyond_duties(self, account: Account) -> list[StoredKey]:
        """The operator's own live API keys that do more than the account's duties (`reaches_beyond`): a change of
        duties leaves them as they are."""
        return [key for key in await self.own_keys(account) if reaches_beyond(key, account.scopes)]

    async def account(self, username: str) -> Account:
        found = await self._accounts.get(username)
        if found is None:
            raise AccountNotFound(username)
        return found[0]

    async def accounts(self, listed: AccountListing = AccountListing()) -> tuple[list[Account], str | None]:
        """A page of accounts as `listed` asks, by username, and the `after` of the next page (None: the last)."""
        page = await self._accounts.listing(
            ao_id=listed.ao_id, role=listed.role, starting=listed.starting, after=listed.after, limit=listed.limit + 1
        )
        more = len(page) > listed.limit
        return page[: listed.limit], page[listed.limit - 1].username if more else None

    async def operators_kept(self) -> dict[str, LastOperatorWithPower]:
        """The enabled operators who cannot be disabled now, by username, and the refusal it would meet (decisions
        0140, 0147): what the pages do not offer. `disable` and `set_duties` still refuse, under their locks."""
        return operators_kept(await self._accounts.enabled_operators())

    @property
    def has_sandpit(self) -> bool:
        """Whether this portal issues keys in the Sandpit's identity store (decision 0060)."""
        return self._sandpit_keys is not None

    def _keys_of(self, environment: Environment) -> ServiceKeys:
        """The identity store of `environment`: live's, or the Sandpit's (NoSandpit when the portal has none)."""
        if environment is Environment.LIVE:
            return self._keys
        if self._sandpit_keys is None:
            raise NoSandpit
        return self._sandpit_keys

    async def ao_keys(
        self, principal: Principal | None = None, *, environment: Environment = Environment.LIVE
    ) -> tuple[list[StoredKey], int]:
        """The AO API keys of `environment` (of `principal` if given) as operators see them, and how many
        there are: never a portal session's. SandpitUnreachable when the Sandpit's database does not answer."""
        keys = self._keys_of(environment)
        try:
            return await keys.listing(PrincipalKind.AO, principal=principal)
        except _DATABASE_AWAY as error:
            if environment is Environment.LIVE:
                raise
            _log.warning("sandpit_unreachable", doing="listing keys", error=type(error).__name__)
            raise SandpitUnreachable from error

    async def issue_ao_key(
        self, ao_id: str, label: str, *, by: str, environment: Environment = Environment.LIVE
    ) -> IssuedKey:
        """A new API key for the AO (NotInRegister unless it is in the register), kept in the audit of account
        changes and, as made by `by` in the portal (`in_the_portal`), in the key store's own. A live key is issued in the same transaction as its audit; a Sandpit key (`lrs_sbx_…`) in
        the Sandpit's own database (decision 0060), so it is revoked again when its audit cannot be kept
        (SandpitUnreachable when that database does not answer: no key)."""
        self._require_registered(ao_id)
        principal = Principal(PrincipalKind.AO, ao_id)
        keys = self._keys_of(environment)
        if environment is Environment.LIVE:
            async with self._accounts.transaction() as connection:
                issued = await keys.issue(principal, label, by=in_the_portal(by), connection=connection)
                await self._accounts.record_change(
                    connection, by, str(issued.principal), AccountChange.AO_KEY_ISSUED, f"key {issued.key_id}"
                )
        else:
            try:
                issued = await keys.issue(principal, label, by=in_the_portal(by))
            except _DATABASE_AWAY as error:
                _log.warning("sandpit_unreachable", doing="issuing a key", error=type(error).__name__)
                raise SandpitUnreachable from error
            try:
                async with self._accounts.transaction() as connection:
                    await self._accounts.record_change(
                        connection,
                        by,
                        str(issued.principal),
                        AccountChange.AO_KEY_ISSUED,
                        f"Sandpit key {issued.key_id}",
                    )
            except BaseException:
                try:
                    await keys.revoke([issued.key_id])  # no key without its audit
                except _DATABASE_AWAY as error:
                    _log.error("sandpit_key_not_audited", ao_id=ao_id, key_id=issued.key_id, error=type(error).__name__)
                raise
        _log.info("ao_key_issued", ao_id=ao_id, key_id=issued.key_id, environment=environment.value)
        return issued

    async def revoke_ao_key(
        self, key_id: str, *, by: str, environment: Environment = Environment.LIVE
    ) -> Principal | None:
        """Revokes an AO's API key of `environment` (only those the portal lists), kept in the key store as revoked
        by `by` in the portal (`in_the_portal`) and in the audit of account changes (a live key's in the same
        transaction; a Sandpit key's just after its revocation in the Sandpit's database, never
        before it); the AO, or None when there was no such key to revoke. SandpitUnreachable when the Sandpit's
        database does not answer."""
        keys = self._keys_of(environment)
        if environment is Environment.LIVE:
            async with self._accounts.transaction() as connection:
                ao = await keys.revoke_ao_key(key_id, by=in_the_portal(by), connection=connection)
                if ao is not None:
                    await self._accounts.record_change(
                        connection, by, str(ao), AccountChange.AO_KEY_REVOKED, f"key {key_id}"
                    )
        else:
            try:
                ao = await keys.revoke_ao_key(key_id, by=in_the_portal(by))
            except _DATABASE_AWAY as error:
                _log.warning("sandpit_unreachable", doing="revoking a key", error=type(error).__name__)
                raise SandpitUnreachable from error
            if ao is not None:
                async with self._accounts.transaction() as connection:
                    await self._accounts.record_change(
                        connection, by, str(ao), AccountChange.AO_KEY_REVOKED, f"Sandpit key {key_id}"
                    )
        if ao is not None:
            _log.info("ao_key_revoked", ao_id=ao.id, key_id=key_id, environment=environment.value)
        return ao

    async def revoked_ao_key(self, key_id: str, *, environment: Environment = Environment.LIVE) -> StoredKey | None:
        """The AO's API key of `environment` that `revoke_ao_key` would have revoked, when it is revoked already (a
        Revoke sent twice); None for a key never issued, or not an AO's as the portal lists them. SandpitUnreachable
        when the Sandpit's database does not answer."""
        try:
            return await self._keys_of(environment).revoked_ao_key(key_id)
        except _DATABASE_AWAY as error:
            if environment is Environment.LIVE:
                raise
            _log.warning("sandpit_unreachable", doing="reading a revoked key", error=type(error).__name__)
            raise SandpitUnreachable from error

    async def changes(self, *, limit: int, older_than: int | None = None) -> list[ChangeRecord]:
        """The audit of account changes, newest first."""
        return await self._accounts.changes(limit=limit, older_than=older_than)
