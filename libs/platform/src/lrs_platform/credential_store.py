"""API keys, stored hashed: one identity mechanism for every service.

A key looks like `lrs_<key id>_<secret>`; a Sandpit key `lrs_sbx_<key id>_<secret>` (decision 0060):
each environment keeps its keys in its own database, and the prefix lets a service tell a caller who
sent a key to the wrong environment what happened. Only SHA-256 of the secret is stored: the secret is 32
random bytes, so a slow password hash would add nothing. Operators create, rotate and revoke keys with
`lrs credentials ...`.

Who made and who revoked a key is kept beside it (`identity.key_changes`) where the caller says who: `lrs
credentials` names the operator's login and host, as no service stands between it and these tables; the portal names
the operator who issued or revoked an AO's key there.

Each process caches a key it has seen for one second, so a request costs no query while a revocation
(made by another process: the `lrs` command) takes effect everywhere within that second; in the
process that revokes it, at once. Unknown and revoked keys are not cached: each attempt with one is
looked up.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

import asyncpg

from lrs_contracts.environments import Environment
from lrs_contracts.identifiers import UKPRN_PATTERN
from lrs_contracts.text import refused_character
from lrs_domain.identifiers import is_valid_uln
from lrs_platform.database import advisory_lock_key, apply_migrations
from lrs_platform.identity import Principal, PrincipalKind, parse_scopes

IDENTITY_SCHEMA = "identity"
CACHE_SECONDS = 1.0


def _check_issuable(principal: Principal) -> None:
    """What a key may be issued for: a provider by its UKPRN (its links travel on the log by it), scopes
    on operator keys only, and known ones."""
    if principal.kind is PrincipalKind.PROVIDER and not re.fullmatch(UKPRN_PATTERN, principal.id):
        raise ValueError(f"a provider key names its UKPRN, 8 digits: {principal.id!r} is not one")
    if principal.kind is PrincipalKind.LEARNER and not is_valid_uln(principal.id):
        raise ValueError(
            f"a learner key names the learner's ULN, 10 digits ending in its check digit (not 9999999999):"
            f" {principal.id!r} is not one"
        )
    if principal.scopes and not principal.is_operator:
        raise ValueError("scopes limit operator keys only")
    parse_scopes(principal.scopes)


class NoKeyToRotateError(ValueError):
    """A rotation of an operator with no key to replace and no scopes given: the new key would keep the scopes
    of none, and an operator key without scopes does everything (decision 0122)."""


class NoSuchKeyError(LookupError):
    """`CredentialStore.revoke_key` of a key id no key of the store has: nothing was revoked."""


class KeyRevokedAlreadyError(ValueError):
    """`CredentialStore.revoke_key` of a key revoked before: nothing changed. `key` says when, and by whom."""

    def __init__(self, key: StoredKey) -> None:
        super().__init__(f"key {key.key_id} of {key.principal} is revoked already")
        self.key = key


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    token: str
    principal: Principal


@dataclass(frozen=True)
class StoredKey:
    """A key as operators see it: who it stands for and its history, never its secret."""

    key_id: str
    principal: Principal
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    created_by: str | None = None  # who made it, where its maker said (`identity.key_changes`)
    revoked_by: str | None = None  # who revoked it, likewise


@dataclass(frozen=True)
class RotatedKey(IssuedKey):
    """The key a rotation made, and the keys it revoked (`replaced`, oldest first): what an operator is told it ended,
    as other systems using them stop at once."""

    replaced: tuple[StoredKey, ...] = ()


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _rotation_lock_key(principal: Principal) -> int:
    return advisory_lock_key(f"rotate:{principal}")


_TOKEN_PREFIXES = {Environment.LIVE: "lrs_", Environment.SANDPIT: "lrs_sbx_"}
ENVIRONMENT_NAMES = {Environment.LIVE: "Live", Environment.SANDPIT: "Sandpit"}


def token_environment(token: str) -> Environment | None:
    """The environment a key was issued in, from its prefix alone (None: not a key of ours)."""
    if token.startswith(_TOKEN_PREFIXES[Environment.SANDPIT]):
        return Environment.SANDPIT
    if token.startswith(_TOKEN_PREFIXES[Environment.LIVE]):
        return Environment.LIVE
    return None


KEY_ID = re.compile(r"[0-9a-f]{16}")  # `issue` makes them so


def key_id_of(token: str) -> str | None:
    """The key id a token names, its part that is no secret (`lrs_<key id>_<secret>`), when it is shaped as ours
    are: what a log line may say of a key, sent right or wrong."""
    environment = token_environment(token)
    if environment is None:
        return None
    key_id = token.removeprefix(_TOKEN_PREFIXES[environment]).partition("_")[0]
    return key_id if KEY_ID.fullmatch(key_id) else None


def _split_token(token: str, environment: Environment) -> tuple[str, str] | None:
    if token_environment(token) is not environment:
        return None
    key_id, _, secret = token.removeprefix(_TOKEN_PREFIXES[environment]).partition("_")
    if not key_id or not secret:
        return None
    return key_id, secret


# The keys `CredentialStore.listing` and `count` show: of a kind ($1), revoked too ($2), not labelled as a
# system's own ($3), of one principal ($4); each filter only when given. The table holds a key per person
# and system (thousands), so one statement serves every combination.
_KEYS_WHERE = (
    " WHERE ($1::text IS NULL OR starts_with(principal, $1 || ':')) AND ($2 OR revoked_at IS NULL)"
    " AND ($3::text IS NULL OR NOT starts_with(coalesce(label, ''), $3)) AND ($4::text IS NULL OR principal = $4)"
)


# Who made and who revoked the key (`identity.key_changes`), where its maker and revoker said.
_KEY_CHANGES = (
    "(SELECT changed_by FROM identity.key_changes AS changes WHERE changes.key_id = credentials.key_id"
    " AND changes.change = 'created') AS created_by,"
    " (SELECT changed_by FROM identity.key_changes AS changes WHERE changes.key_id = credentials.key_id"
    " AND changes.change = 'revoked') AS revoked_by"
)
_STORED_KEY_COLUMNS = f"key_id, principal, scopes, label, created_at, revoked_at, {_KEY_CHANGES}"
# Who made the key, for a statement that revokes it (its revoker is the statement's own `by`).
_CREATED_BY = (
    "(SELECT changed_by FROM identity.key_changes AS changes WHERE changes.key_id = credentials.key_id"
    " AND changes.change = 'created') AS created_by"
)
_RECORD_CHANGES = (
    "INSERT INTO identity.key_changes (key_id, change, changed_by) SELECT unnest($1::text[]), $2, $3"
    " ON CONFLICT DO NOTHING"
)


# Identity migration 0003 makes its triggers as the owner of both tables. Where the database owner made `key_changes`
# (`lrs credentials` before any service had migrated 0002) and a service `credentials`, no role but the superuser owns
# both: every service and `lrs credentials` are refused by 0003 naming one table's owner, which cannot run it either.
# Said instead with both owners and the superuser's step that gives them one (report "review5" finding 2).
_ONE_OWNER_OF_THE_KEY_STORE = """
DO $$
DECLARE
    credentials_owner text := (SELECT pg_catalog.pg_get_userbyid(c.relowner) FROM pg_catalog.pg_class c
                               WHERE c.oid = pg_catalog.to_regclass('identity.credentials'));
    key_changes_owner text := (SELECT pg_catalog.pg_get_userbyid(c.relowner) FROM pg_catalog.pg_class c
                               WHERE c.oid = pg_catalog.to_regclass('identity.key_changes'));
BEGIN
    -- nested: the tables are named only where they are (NULL, a table not made yet, does not cut `AND` short)
    IF credentials_owner <> key_changes_owner THEN
        IF NOT (pg_catalog.has_table_privilege('identity.credentials', 'TRIGGER')
                AND pg_catalog.has_table_privilege('identity.key_changes', 'TRIGGER'))
           AND NOT EXISTS (SELECT FROM identity.schema_migrations WHERE version = 3) THEN
            RAISE EXCEPTION USING
                ERRCODE = 'insufficient_privilege',
                MESSAGE = pg_catalog.format(
                    'identity migration 0003 must be run by the owner of both identity.credentials (role %s) and'
                    ' identity.key_changes (role %s), and no role owns both: as the superuser, run'
                    ' "ALTER TABLE identity.key_changes OWNER TO %s", then start the service whose role that is',
                    credentials_owner, key_changes_owner, pg_catalog.quote_ident(credentials_owner)),
                HINT = 'docs/deploy.md, the release of session 63''s fixes; decision 0200.';
        END IF;
    END IF;
END
$$
"""


async def _record_changes(connection: asyncpg.Connection, key_ids: Collection[str], change: str, by: str) -> None:
    """Keeps who made (`created`) or revoked (`revoked`) the keys, in `connection`'s transaction: the change's own."""
    if key_ids:
        await connection.execute(_RECORD_CHANGES, list(key_ids), change, by)


def _stored_key(row: asyncpg.Record) -> StoredKey:
    return StoredKey(
        row["key_id"],
        Principal.stored(row["principal"], frozenset(row["scopes"])),
        row["label"],
        row["created_at"],
        row["revoked_at"],
        row.get("created_by"),
        row.get("revoked_by"),
    )


def _oldest_first(keys: Iterable[StoredKey]) -> list[StoredKey]:
    return sorted(keys, key=lambda key: (key.created_at, key.key_id))


def _keys_where_arguments(
    kind: PrincipalKind | None, include_revoked: bool, label_not_starting: str | None, principal: Principal | None
) -> tuple[object, ...]:
    return (kind.value if kind else None, include_revoked, label_not_starting, str(principal) if principal else None)


SESSION_KEY_LABEL = "portal session:"
"""The label's start of a key the Organisation Portal holds for a person's session, issued at sign-in and
revoked when the session ends: the person's, not the principal's own key, so a rotation spares it."""


def reserved_label_refusal(label: str | None) -> str | None:
    """Why a key may not carry `label` (None: it may). A label starting `SESSION_KEY_LABEL` marks a person's
    session key, which key lists leave out, the portal does not revoke and a rotation spares: a key given one
    by hand would be hidden from all three."""
    if label is not None and label.startswith(SESSION_KEY_LABEL):
        return f"A label may not start {SESSION_KEY_LABEL!r}: it marks the portal's session keys. Choose another."
    return None


MAX_LABEL_CHARACTERS = 100
"""The longest label a key may carry, whoever makes it (`label_refusal`): the portal's key form took no more, and cut a
longer one without saying so, where `lrs credentials` kept it whole."""


def label_refusal(label: str | None) -> str | None:
    """Why a key may not carry `label` (None: it may): the rule every caller shares (`lrs credentials`, the portal,
    `CredentialStore.issue` and `rotate`). A label is one line of text (`refused_character`): a line break, a
    control character (a terminal's ESC) or a bidirectional control in it would forge or hide rows of `lrs
    credentials list`, what an access review reads; it is at most `MAX_LABEL_CHARACTERS` long, refused rather than
    cut (its end may be what tells two keys apart); and it may not pass for a session key's
    (`reserved_label_refusal`)."""
    if label is not None and (refused := refused_character(label, one_line=True, one_line_is="a key's label")):
        return f"The label holds {refused}: type it again without it."
    if label is not None and len(label) > MAX_LABEL_CHARACTERS:
        return f"The label is {len(label):,} characters long: shorten it to {MAX_LABEL_CHARACTERS} or fewer."
    return reserved_label_refusal(label)


_REVOKE_PRINCIPAL = "UPDATE identity.credentials SET revoked_at = now() WHERE principal = $1 AND revoked_at IS NULL"
# An erased learner's keys keep no label: free text, shown by `lrs credentials list`, which an operator making the
# key may have written the learner's name in. Every key of theirs, those revoked before too.
_FORGET_LABELS = "UPDATE identity.credentials SET label = NULL WHERE principal = $1 AND label IS NOT NULL"


async def revoke_principal_in(
    connection: asyncpg.Connection,
    principal: Principal,
    *,
    by: str | None = None,
    created_before: datetime | None = None,
    erased: bool = False,
) -> int:
    """Revokes every key of `principal` not yet revoked, in `connection`'s transaction, and says how many: for a
    caller whose own change must commit with it (the Sandpit's copy of a live erasure). Each process that cached one
    of the keys drops it within `CACHE_SECONDS`. `by`: who revoked them, kept with them. `created_before`: only the
    keys made at or before then (an event applied late revokes none made since). `erased`: the principal is a learner
    being erased: the labels of all their keys, revoked or not, are emptied too."""
    if erased:
        await connection.execute(_FORGET_LABELS, str(principal))
    statement = _REVOKE_PRINCIPAL
    arguments: list[object] = [str(principal)]
    if created_before is not None:
        statement += " AND created_at <= $2"
        arguments.append(created_before)
    if by is None:
        result = await connection.execute(statement, *arguments)
        return int(result.split()[-1])
    revoked = [row["key_id"] for row in await connection.fetch(f"{statement} RETURNING key_id", *arguments)]
    await _record_changes(connection, revoked, "revoked", by)
    return len(revoked)


async def revoke_own_keys_in(connection: asyncpg.Connection, principal: Principal, *, by: str) -> list[StoredKey]:
    """Revokes every key of `principal` not yet revoked but the portal's session keys (`SESSION_KEY_LABEL`), in
    `connection`'s transaction, keeping who did (`by`): the keys it revoked, oldest first. For an operator's portal
    account disabled: the keys made under its name (`operator:<username>`) go with it. The caller makes the processes
    that cached them drop them (`CredentialStore.revoke` of the same ids, after the commit)."""
    rows = await connection.fetch(
        "UPDATE identity.credentials SET revoked_at = now() WHERE principal = $1 AND revoked_at IS NULL"
        " AND NOT starts_with(coalesce(label, ''), $2) RETURNING key_id, principal, scopes, label, created_at,"
        " revoked_at",
        str(principal),
        SESSION_KEY_LABEL,
    )
    revoked = sorted((_stored_key(row) for row in rows), key=lambda key: (key.created_at, key.key_id))
    await _record_changes(connection, [key.key_id for key in revoked], "revoked", by)
    return revoked


class CredentialStore:
    """API keys in PostgreSQL (schema `identity`), with a short cache so a request costs no query."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        environment: Environment = Environment.LIVE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self.environment = environment
        self._clock = clock
        self._cache: dict[str, tuple[float, Principal, str]] = {}
        self._swept_at = clock()
        # bumped by every revocation here: a look-up that read a key before it was revoked does not cache it
        self._revocations = 0

    async def migrate(self) -> None:
        async with self._pool.acquire() as connection:
            try:
                await apply_migrations(connection, IDENTITY_SCHEMA, "lrs_platform.identity_migrations")
            except asyncpg.InsufficientPrivilegeError:
                await connection.execute(_ONE_OWNER_OF_THE_KEY_STORE)  # why no role could, where that is why
                raise

    async def issue(
        self,
        principal: Principal,
        label: str | None = None,
        *,
        connection: asyncpg.Connection | None = None,
        by: str | None = None,
    ) -> IssuedKey:
        """A new key; in `connection`'s transaction when given (so a caller's own record of it commits with it).
        `by`: who made it, kept with it. ValueError for a label that is not one line of text or would pass the key
        for a person's session key (`label_refusal`)."""
        if refusal := label_refusal(label):
            raise ValueError(refusal)
        if by is None or connection is not None:
            return await self._issue(principal, label, connection, by)
        async with self._pool.acquire() as own, own.transaction():
            return await self._issue(principal, label, own, by)

    async def issue_for_session(self, principal: Principal, person: str) -> IssuedKey:
        """A key the Organisation Portal holds for `person`'s session (`SESSION_KEY_LABEL`)."""
        return await self._issue(principal, f"{SESSION_KEY_LABEL} {person}", None)

    async def _issue(
        self, principal: Principal, label: str | None, connection: asyncpg.Connection | None, by: str | None = None
    ) -> IssuedKey:
        _check_issuable(principal)
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        await (connection or self._pool).execute(
            "INSERT INTO identity.credentials (key_id, principal, scopes, secret_hash, label)"
            " VALUES ($1, $2, $3, $4, $5)",
            key_id,
            str(principal),
            sorted(principal.scopes),
            _hash(secret),
            label,
        )
        if by is not None and connection is not None:
            await _record_changes(connection, [key_id], "created", by)
        return IssuedKey(key_id, self._token(key_id, secret), principal)

    def _token(self, key_id: str, secret: str) -> str:
        return f"{_TOKEN_PREFIXES[self.environment]}{key_id}_{secret}"

    async def revoke_principal(self, principal: Principal, *, by: str | None = None, erased: bool = False) -> int:
        """Revokes every key of `principal`; `by`: who did, kept with the keys. How many it revoked. `erased`: the
        principal is a learner being erased: their keys' labels are emptied too (`revoke_principal_in`)."""
        async with self._pool.acquire() as connection, connection.transaction():
            revoked = await revoke_principal_in(connection, principal, by=by, erased=erased)
        self._forget_cached()
        return revoked

    async def revoke_every_key_of(self, principal: Principal, *, by: str) -> list[StoredKey]:
        """Revokes every key of `principal` not yet revoked, people's portal sessions too, as `revoke_principal` does,
        keeping who did (`by`): the keys it revoked, oldest first, which `lrs credentials revoke --principal` names."""
        async with self._pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(
                f"{_REVOKE_PRINCIPAL} RETURNING key_id, principal, scopes, label, created_at, revoked_at,"
                f" {_CREATED_BY}",
                str(principal),
            )
            revoked = _oldest_first(replace(_stored_key(row), revoked_by=by) for row in rows)
            await _record_changes(connection, [key.key_id for key in revoked], "revoked", by)
        self._forget_cached()
        return revoked

    async def revoke(self, *key_ids: str, by: str | None = None) -> int:
        """Revokes the keys named; unknown and already revoked ones are skipped. Returns how many it revoked. `by`:
        who revoked them, kept with them."""
        if not key_ids:
            return 0
        statement = (
            "UPDATE identity.credentials SET revoked_at = now() WHERE key_id = ANY($1::text[]) AND revoked_at IS NULL"
        )
        if by is None:
            result = await self._pool.execute(statement, list(key_ids))
            self._forget_cached(key_ids)
            return int(result.split()[-1])
        async with self._pool.acquire() as connection, connection.transaction():
            revoked = [row["key_id"] for row in await connection.fetch(f"{statement} RETURNING key_id", list(key_ids))]
            await _record_changes(connection, revoked, "revoked", by)
        self._forget_cached(key_ids)
        return len(revoked)

    async def revoke_key(self, key_id: str, *, by: str) -> StoredKey:
        """Revokes the one key `key_id`, whoever's it is (an AO's, a provider's, a learner's, an operator's, a
        person's portal session), and keeps who did (`by`) with it, as `revoke` and `rotate` do; the principal's
        other keys stay. The key as it stands now. `NoSuchKeyError` for an id no key has, `KeyRevokedAlreadyError`
        (when, by whom) for a key revoked before: nothing changed either way."""
        async with self._pool.acquire() as connection, connection.transaction():
            revoked = await connection.fetchval(
                "UPDATE identity.credentials SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL"
                " RETURNING key_id",
                key_id,
            )
            if revoked is not None:
                await _record_changes(connection, [key_id], "revoked", by)
            row = await connection.fetchrow(
                f"SELECT {_STORED_KEY_COLUMNS} FROM identity.credentials WHERE key_id = $1", key_id
            )
        if revoked is not None:
            self._forget_cached([key_id])
        if row is None:
            raise NoSuchKeyError(key_id)
        if revoked is None:
            raise KeyRevokedAlreadyError(_stored_key(row))
        return _stored_key(row)

    async def revoke_listed(
        self,
        key_id: str,
        kind: PrincipalKind,
        *,
        label_not_starting: str | None = None,
        connection: asyncpg.Connection | None = None,
        by: str | None = None,
    ) -> Principal | None:
        """Revokes the key if `listing(kind, label_not_starting=...)` lists it: a page that shows some keys
        revokes only those, whatever key id it is sent. The key's principal, or None when none was revoked;
        in `connection`'s transaction when given. `by`: who revoked it, kept with it as `revoke` keeps it."""
        if by is not None and connection is None:
            async with self._pool.acquire() as own, own.transaction():
                return await self.revoke_listed(
                    key_id, kind, label_not_starting=label_not_starting, connection=own, by=by
                )
        row = await (connection or self._pool).fetchrow(
            f"UPDATE identity.credentials SET revoked_at = now(){_KEYS_WHERE} AND key_id = $5"
            " RETURNING principal, scopes",
            *_keys_where_arguments(kind, False, label_not_starting, None),
            key_id,
        )
        if row is not None and by is not None and connection is not None:
            await _record_changes(connection, [key_id], "revoked", by)
        self._forget_cached([key_id])
        return None if row is None else Principal.stored(row["principal"], frozenset(row["scopes"]))

    async def revoked_listed(
        self, key_id: str, kind: PrincipalKind, *, label_not_starting: str | None = None
    ) -> StoredKey | None:
        """The key if `listing(kind, include_revoked=True, label_not_starting=...)` lists it and it is revoked: what
        a page that revokes only the keys it shows says of a key revoked already (its form sent twice). None else."""
        row = await self._pool.fetchrow(
            f"SELECT {_STORED_KEY_COLUMNS} FROM identity.credentials"
            f"{_KEYS_WHERE} AND key_id = $5 AND revoked_at IS NOT NULL",
            *_keys_where_arguments(kind, True, label_not_starting, None),
            key_id,
        )
        return None if row is None else _stored_key(row)

    def _forget_cached(self, key_ids: Collection[str] | None = None) -> None:
        """After a revocation: the keys named (every key when none are) are read again, and a look-up that
        was reading meanwhile does not keep what it read."""
        self._revocations += 1
        if key_ids is None:
            self._cache.clear()
        for key_id in key_ids or ():
            self._cache.pop(key_id, None)

    async def listing(
        self,
        kind: PrincipalKind | None = None,
        *,
        include_revoked: bool = False,
        label_not_starting: str | None = None,
        principal: Principal | None = None,
        limit: int = 500,
    ) -> list[StoredKey]:
        """Keys by principal then newest first; `label_not_starting` leaves out keys a system issues for
        itself; `principal`: that principal's keys only."""
        rows = await self._pool.fetch(
            f"SELECT {_STORED_KEY_COLUMNS} FROM identity.credentials"
            f"{_KEYS_WHERE} ORDER BY principal, created_at DESC, key_id LIMIT $5",
            *_keys_where_arguments(kind, include_revoked, label_not_starting, principal),
            limit,
        )
        return [_stored_key(row) for row in rows]

    async def count(
        self,
        kind: PrincipalKind | None = None,
        *,
        include_revoked: bool = False,
        label_not_starting: str | None = None,
        principal: Principal | None = None,
    ) -> int:
        """How many keys `listing` has to show in all, whatever its limit."""
        total: int = await self._pool.fetchval(
            f"SELECT count(*) FROM identity.credentials{_KEYS_WHERE}",
            *_keys_where_arguments(kind, include_revoked, label_not_starting, principal),
        )
        return total

    async def rotate(self, principal: Principal, label: str | None = None, *, by: str | None = None) -> RotatedKey:
        """Issues a new key and revokes every older key of the principal but those of people's portal
        sessions (`SESSION_KEY_LABEL`: signed in with their own passwords, they stay signed in; revoking the
        principal ends those too), in one transaction. Rotations of one principal take turns: one started
        meanwhile revokes this one's new key, so one key is left. Without scopes of its own, the new key
        has those of the newest key it replaces: rotating a limited key never makes an unlimited one, and an
        operator with no key to replace (all revoked) is refused (`NoKeyToRotateError`), nothing revoked. `by`: who
        rotated, kept as the maker of the new key and the revoker of the old ones. The new key with the keys it
        revoked (`RotatedKey.replaced`, oldest first). ValueError, nothing revoked, for a label `issue` refuses."""
        _check_issuable(principal)
        if refusal := label_refusal(label):
            raise ValueError(refusal)
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", _rotation_lock_key(principal))
            replaced = await connection.fetch(
                "UPDATE identity.credentials SET revoked_at = now() WHERE principal = $1 AND revoked_at IS NULL"
                " AND (label IS NULL OR NOT starts_with(label, $2))"
                f" RETURNING key_id, principal, scopes, label, created_at, revoked_at, {_CREATED_BY}",
                str(principal),
                SESSION_KEY_LABEL,
            )
            if not principal.scopes and replaced:  # the new key does what the newest it replaces did
                newest = max(replaced, key=lambda row: row["created_at"])
                principal = Principal(principal.kind, principal.id, frozenset(newest["scopes"]))
            elif not principal.scopes and principal.is_operator:
                raise NoKeyToRotateError(
                    f"{principal} has no key to rotate, whose scopes the new key would keep: create one instead,"
                    f" naming the duties it needs (lrs credentials create --principal {principal} --scope SCOPE)"
                )
            issued = await self.issue(principal, label, connection=connection, by=by)
            if by is not None:
                await _record_changes(connection, [row["key_id"] for row in replaced], "revoked", by)
        self._forget_cached()
        ended = _oldest_first(replace(_stored_key(row), revoked_by=by) for row in replaced)
        return RotatedKey(issued.key_id, issued.token, issued.principal, tuple(ended))

    def _sweep(self, now: float) -> None:
        """Drops the entries read longer ago than `CACHE_SECONDS`, at most once in that time: the cache holds the keys
        used lately, not every key the process has seen (each portal sign-in makes a key, used for one session)."""
        if now - self._swept_at > CACHE_SECONDS:
            self._cache = {key_id: entry for key_id, entry in self._cache.items() if now - entry[0] <= CACHE_SECONDS}
            self._swept_at = now

    async def authenticate(self, token: str) -> Principal | None:
        parts = _split_token(token, self.environment)
        if parts is None:
            return None
        key_id, secret = parts
        cached = self._cache.get(key_id)
        now = self._clock()
        if cached is None or now - cached[0] > CACHE_SECONDS:
            self._cache.pop(key_id, None)
            revocations = self._revocations
            row = await self._pool.fetchrow(
                "SELECT principal, scopes, secret_hash FROM identity.credentials"
                " WHERE key_id = $1 AND revoked_at IS NULL",
                key_id,
            )
            if row is None:
                return None
            principal = replace(Principal.stored(row["principal"], frozenset(row["scopes"])), key_id=key_id)
            cached = (now, principal, row["secret_hash"])
            if revocations == self._revocations:
                self._sweep(now)
                self._cache[key_id] = cached
        _, principal, stored_hash = cached
        if not hmac.compare_digest(stored_hash, _hash(secret)):
            return None
        return principal
