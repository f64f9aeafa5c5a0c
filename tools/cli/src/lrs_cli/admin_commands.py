"""Operator commands: credentials (straight to the identity tables), reference data and learners (import, link,
unlink, correct)."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import re
import socket
import tempfile
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import asyncpg
import typer

from lrs_cli.batch_commands import upload
from lrs_cli.choices import one_of
from lrs_cli.client import CommandError, Connection, ExitCode, UsageError, expect_ok, read_page
from lrs_cli.files import read_bounded
from lrs_cli.identifiers import UlnArgument, checked_uln, uln_value
from lrs_cli.listing import EveryOption, every_page
from lrs_cli.output import (
    AuditAfter,
    JsonOption,
    PageLimit,
    confirmed,
    connection,
    counted,
    print_json,
    print_listing,
    print_text,
    progress,
    tell_more,
    warn,
)
from lrs_cli.times import UK_TIME, uk_time
from lrs_contracts.codes import LEARNER_IMPORT_BYTES
from lrs_contracts.environments import Environment
from lrs_contracts.text import has_visible_text, shown_on_one_line
from lrs_domain.reference_files import load_register
from lrs_platform.credential_store import (
    KEY_ID,  # the store's own: as `issue` makes them
    MAX_LABEL_CHARACTERS,
    SESSION_KEY_LABEL,
    CredentialStore,
    IssuedKey,
    KeyRevokedAlreadyError,
    NoSuchKeyError,
    RotatedKey,
    StoredKey,
    key_id_of,
    label_refusal,
    token_environment,
)
from lrs_platform.database import create_pool
from lrs_platform.identity import OperatorScope, Principal, PrincipalKind, UnprintablePrincipal, parse_scopes
from lrs_platform.settings import check_live_database, check_sandpit_database


def _database_variable(environment: Environment) -> str:
    """Each environment keeps its keys in its own database: the Sandpit's is $LRS_SANDPIT_DATABASE_URL."""
    return "LRS_SANDPIT_DATABASE_URL" if environment is Environment.SANDPIT else "DATABASE_URL"


def _database_url(environment: Environment) -> str:
    variable = _database_variable(environment)
    url = os.environ.get(variable)
    if not url:
        # exit status 2, as an unset $LRS_API_KEY: the command cannot start without it
        raise UsageError(f"{variable} is not set: credentials live in the service database")
    if environment is Environment.SANDPIT:
        try:
            check_sandpit_database(url)  # a Sandpit key made in live's database would work on live
        except ValueError as error:
            raise CommandError(f"{variable}: {error}") from error
    else:
        try:
            check_live_database(url)  # a live key written to the Sandpit's database would work nowhere
        except ValueError as error:
            raise CommandError(
                f"{variable}: {error}; for the Sandpit pass --sandpit (LRS_SANDPIT_DATABASE_URL)"
            ) from error
    return url


@contextlib.asynccontextmanager
async def _key_store(environment: Environment) -> AsyncIterator[tuple[asyncpg.Pool, CredentialStore]]:
    """The environment's key store, migrated. A right the role connected lacks ends the command with what to do
    instead, never a traceback: an operator's role is theirs to choose (docs/deploy.md has the database owner).
    So does any other failure of the database: which one (never its password), and what to check."""
    url = _database_url(environment)
    variable = _database_variable(environment)
    try:
        pool = await create_pool(url, max_size=2)
    except (*_DATABASE_FAILURES, ValueError) as error:  # ValueError: a URL asyncpg cannot read (a port "abc")
        raise _database_failed(error, url, variable) from error
    try:
        store = CredentialStore(pool, environment=environment)
        await store.migrate()
        yield pool, store
    except asyncpg.InsufficientPrivilegeError as error:
        raise await _lacking_right(pool, error) from error
    except _DATABASE_FAILURES as error:
        raise _database_failed(error, url, variable) from error
    finally:
        await pool.close()


class DatabaseUnreachable(CommandError):
    exit_code = ExitCode.UNREACHABLE


# OSError: refused, no route, an unknown host; TimeoutError: no answer to the connection; the others: the server
# closed the connection, or is starting up or shutting down
_UNREACHABLE = (OSError, TimeoutError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError)
_DATABASE_FAILURES = (*_UNREACHABLE, asyncpg.PostgresError, asyncpg.InterfaceError)


def _database_failed(error: Exception, url: str, variable: str) -> CommandError:
    """One line for a database that could not be reached (exit 4) or refused what was asked (an unknown database
    or role, a wrong password, a URL asyncpg cannot read: exit 1)."""
    said = str(error) or type(error).__name__
    if isinstance(error, ValueError):  # asyncpg.ClientConfigurationError is one
        return CommandError(
            f"{variable} is not a database URL asyncpg can use ({said}): it is like"
            " postgresql://user:password@host:5432/database"
        )
    where = f"the database in {variable} ({database_named(url)})"
    if isinstance(error, _UNREACHABLE):
        return DatabaseUnreachable(
            f"cannot reach {where} ({said}): is PostgreSQL running there, and is {variable} right?"
        )
    return CommandError(f"{where} refused: {said} (check {variable}: its user, password and database)")


def database_named(url: str) -> str:
    """host:port/database of a database URL, never its user or password: what an error says it was."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "a URL that cannot be read"
    return f"{parts.hostname or 'localhost'}:{port or 5432}/{parts.path.lstrip('/')}"


_INSTEAD = "run it as the database owner, which shares the key store with the services, or as the superuser"


async def _lacking_right(
    pool: asyncpg.Pool, error: asyncpg.InsufficientPrivilegeError, instead: str = _INSTEAD
) -> CommandError:
    role = await pool.fetchval("SELECT current_user")
    return CommandError(f"role {role} lacks a right this needs ({error}): nothing was changed; {instead}")


async def _with_store(
    action: str,
    principal: Principal,
    label: str | None,
    environment: Environment,
    *,
    allow_unregistered: bool = False,
    yes: bool = False,
) -> IssuedKey | list[StoredKey]:
    """The key made (`RotatedKey` for a rotation: with the keys it revoked), or the keys a revoke revoked. A rotation
    that would end more than one key in use says so first and asks (`_rotation_confirmed`) unless `yes`."""
    by = made_by(action)  # kept with the keys made and revoked: no service stands between this and the key store
    async with _key_store(environment) as (pool, store):
        if action == "revoke":
            return await store.revoke_every_key_of(principal, by=by)
        if await _erased_learner(pool, principal):
            raise ValueError(_ERASED_LEARNER.format(principal=principal, uln=principal.id))
        if not allow_unregistered and await _unregistered_learner(pool, principal):
            raise ValueError(_UNREGISTERED_LEARNER.format(principal=principal, uln=principal.id))
        if action == "rotate" and not yes:
            in_use = await store.listing(principal=principal, label_not_starting=SESSION_KEY_LABEL)
            _rotation_confirmed(principal, in_use, environment)
        issued = await (
            store.issue(principal, label, by=by) if action == "create" else store.rotate(principal, label, by=by)
        )
        # asked again once made: an erasure committed in between revokes before it commits and once after, and
        # the second may have run before this key was made
        if await _erased_learner(pool, principal):
            await store.revoke(issued.key_id, by=by)
            raise ValueError(_ERASED_LEARNER.format(principal=principal, uln=principal.id))
        return issued


def _lrs(environment: Environment) -> str:
    return "lrs --sandpit" if environment is Environment.SANDPIT else "lrs"


def _keys_lines(keys: Sequence[StoredKey]) -> list[str]:
    """A key a line, by its id and label (never a secret), as `lrs credentials list` shows them."""
    return [f"  {key.key_id}  {shown_on_one_line(key.label) if key.label else '(no label)'}" for key in keys]


def _rotation_confirmed(principal: Principal, in_use: Sequence[StoredKey], environment: Environment) -> None:
    """Before a rotation that revokes more than one key in use (people's portal sessions are spared): each is likely
    another system's, which stops at once. Says which, and how to move one system without a stop; asks on a terminal,
    and elsewhere wants --yes, as other commands that cannot be undone do (`confirmed`). One key or none: asks nothing,
    the rotation it is for."""
    if len(in_use) <= 1:
        return
    lrs = _lrs(environment)
    who = shown_on_one_line(str(principal))
    warn(
        "\n".join(
            [
                f"a rotation revokes every key of {who} but people's portal sessions, and {len(in_use)} are in use:",
                *_keys_lines(in_use),
                "each system using one stops (401) at once. To move one system to a new key without a stop:"
                f" `{lrs} credentials create --principal {who} --label ...`, then, once it uses the new key,"
                f" `{lrs} credentials revoke --key-id` its old one.",
            ]
        )
    )
    confirmed(
        f"rotating {who} revokes all {len(in_use)} of its keys in use",
        lambda: f"Revoke all {len(in_use)} keys of {who} and make one new key?",
    )


_ERASED_LEARNER = (
    "{principal} was erased (lrs learners erasures --uln {uln}): no key is made for an erased learner (`lrs"
    " credentials list --principal` shows any made before erasures revoked them: revoke those)"
)


_UNREGISTERED_LEARNER = (
    "{principal} is not in the learner registry: no key is made for a ULN no learner is registered under (it would"
    " start working for whoever is registered under it later). Check the ULN; register the learner first (lrs"
    " learners import), or pass --allow-unregistered if the key must be made before they are"
)


# What this database holds of validation's (from the catalogs, which any role may read): the questions the
# database owner may ask (validation's migration 0126; learner_registered, where validation has it), or only the
# erasure audit and the registry (a validation from before them, read by a role that may).
_VALIDATION_HELD = (
    "SELECT EXISTS (SELECT 1 FROM pg_proc JOIN pg_namespace ON pg_namespace.oid = pronamespace"
    "  WHERE nspname = 'validation' AND proname = 'learner_erased') AS asked,"
    " EXISTS (SELECT 1 FROM pg_class JOIN pg_namespace ON pg_namespace.oid = relnamespace"
    "  WHERE nspname = 'validation' AND relname = 'erasures') AS audited,"
    " EXISTS (SELECT 1 FROM pg_proc JOIN pg_namespace ON pg_namespace.oid = pronamespace"
    "  WHERE nspname = 'validation' AND proname = 'learner_registered') AS registered_asked,"
    " EXISTS (SELECT 1 FROM pg_class JOIN pg_namespace ON pg_namespace.oid = relnamespace"
    "  WHERE nspname = 'validation' AND relname = 'learners') AS registry"
)


async def _erased_learner(pool: asyncpg.Pool, principal: Principal) -> bool:
    """Whether the principal is a learner validation erased, where this database holds validation's registry.
    Asked of validation (`validation.learner_erased`, granted the database owner, decision 0184): the owner may
    read none of validation's tables."""
    if principal.kind is not PrincipalKind.LEARNER:
        return False
    held = await pool.fetchrow(_VALIDATION_HELD)
    try:
        if held["asked"]:
            return bool(await pool.fetchval("SELECT validation.learner_erased($1)", principal.id))
        if held["audited"]:
            return bool(
                await pool.fetchval("SELECT EXISTS (SELECT 1 FROM validation.erasures WHERE uln = $1)", principal.id)
            )
    except asyncpg.InsufficientPrivilegeError as error:
        raise await _lacking_right(
            pool,
            error,
            "a learner's key is made only once validation says the learner was not erased, which validation of"
            " this release lets the database owner ask when it migrates (validation.learner_erased): run it as the"
            " database owner once that validation has started, or as the superuser",
        ) from error
    return False


async def _unregistered_learner(pool: asyncpg.Pool, principal: Principal) -> bool:
    """Whether the principal is a learner whose ULN is in no learner registry this database holds: a key for it
    reads nothing now, and would read the PLR of whoever is registered under that ULN later. Asked of validation
    (`validation.learner_registered`) where it lets the database owner ask, else read from its registry by a role
    that may (the superuser); a database with no registry holds no learner."""
    if principal.kind is not PrincipalKind.LEARNER:
        return False
    held = await pool.fetchrow(_VALIDATION_HELD)
    try:
        if held["registered_asked"]:
            return not await pool.fetchval("SELECT validation.learner_registered($1)", principal.id)
        if held["registry"]:
            return not await pool.fetchval(
                "SELECT EXISTS (SELECT 1 FROM validation.learners WHERE uln = $1)", principal.id
            )
    except asyncpg.InsufficientPrivilegeError as error:
        raise await _lacking_right(
            pool,
            error,
            "a learner's key is made only for a ULN in the learner registry, which this role may not read: run it as"
            " the superuser, or pass --allow-unregistered once you have checked the ULN (lrs learners sharing ULN"
            " answers for a registered one)",
        ) from error
    return True


def made_here(now: datetime | None = None) -> str:
    """The label of a key made without `--label`: who made it, where and when (the key store keeps no author of
    its own; a portal key says who issued it)."""
    made = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    who = f"{getpass.getuser()} on {socket.gethostname()}"
    # within the key store's limit on a label (a cloud machine's name is long); `made_by` keeps the whole of it
    if (over := len(f"made with lrs credentials by {who}, {made}") - MAX_LABEL_CHARACTERS) > 0:
        who = f"{who[: len(who) - over - 1]}…"
    return f"made with lrs credentials by {who}, {made}"


def made_by(action: str) -> str:
    """Who made or revoked a key with `lrs credentials`, as the key store keeps it (`identity.key_changes`): the
    login and host, as a key's label says without `--label`, and the action (`alex@laptop, lrs credentials revoke`)."""
    return f"{getpass.getuser()}@{socket.gethostname()}, lrs credentials {action}"


def credentials(
    action: str,
    principal_text: str,
    label: str | None,
    output: str | None,
    environment: Environment = Environment.LIVE,
    scopes: Sequence[str] = (),
    reference_dir: Path | None = None,
    allow_unregistered: bool = False,
    yes: bool = False,
) -> str:
    """What `lrs credentials create|rotate|revoke --principal` prints on standard output: the key itself (create and
    rotate without --output: nothing else, so a script capturing it gets the key alone), or what was done. The id of
    a key made, and the keys a rotation revoked, are said on standard error."""
    try:
        principal = Principal.parse(principal_text.strip())
    except UnprintablePrincipal as error:
        raise UsageError(f"--principal: {error}") from error
    except ValueError as error:
        raise UsageError(
            f"--principal must be kind:id, the kind one of ao, provider, learner, operator; got {principal_text!r}"
        ) from error
    if principal.kind is PrincipalKind.LEARNER and action != "revoke":
        # a ULN no learner can have (RV001-RV003) is said so, as every command says it, before the registry is asked
        # (which would say it is not registered, and --allow-unregistered then be refused for another reason);
        # revoke takes the principal as written, as for an AO
        checked_uln(principal.id)
    if scopes:
        if action == "revoke":
            raise UsageError("--scope is for create and rotate: revoke ends every key of the principal")
        if not principal.is_operator:
            raise UsageError("--scope limits operator keys only; other callers are limited by who they are")
        try:
            principal = Principal(principal.kind, principal.id, parse_scopes(scopes))
        except ValueError as error:
            raise UsageError(str(error)) from error
    if action != "revoke" and (refused := label_refusal(label)):  # the key store's rule, before the database
        raise UsageError(f"--label: {refused}")
    if action == "create" and output and Path(output).exists():
        # checked before a key is made: writing over the file would lose a key still in use, which only a revoke
        # (of every key of its principal) could end
        raise UsageError(
            f"--output {output} already exists, and may hold a key still in use: name another file, or use rotate"
            " to replace the principal's keys"
        )
    if allow_unregistered and (action == "revoke" or principal.kind is not PrincipalKind.LEARNER):
        raise UsageError("--allow-unregistered is for creating or rotating a learner's key (learner:ULN)")
    if principal.kind is PrincipalKind.AO and action != "revoke":
        # revoke takes the principal as written: keys made before this check (`ao:rn9037`) must still end
        principal = registered_ao(principal, reference_dir)
    if action == "revoke":
        return _revoked(principal, environment)
    key_file = _KeyFile.beside(Path(output)) if output else None
    try:
        made = _with_store(
            action, principal, label or made_here(), environment, allow_unregistered=allow_unregistered, yes=yes
        )
        result = asyncio.run(made)
    except BaseException as error:
        if key_file is not None:
            key_file.discard()
        if isinstance(error, ValueError):  # who the key may not be issued for (a provider not by its UKPRN, say)
            raise UsageError(str(error)) from error
        raise
    if isinstance(result, list):  # `_with_store` revokes only for revoke, answered above
        raise AssertionError("a revoke's keys where a key was made")
    if key_file is not None:
        key_file.keep(result.token)
    else:  # standard output is the key alone: its id is said beside it
        warn(f"{action}d key {result.key_id} for {principal}{_scoped(result)}; the key printed is not shown again")
    if isinstance(result, RotatedKey):
        warn(_rotation_revoked(result))
    if key_file is not None:
        return f"{action}d key {result.key_id} for {principal}{_scoped(result)}; written to {key_file.path}"
    return result.token


def _rotation_revoked(rotated: RotatedKey) -> str:
    """The keys a rotation revoked, by id and label: systems that used them stop (401) until given the new key."""
    who = shown_on_one_line(str(rotated.principal))
    if not rotated.replaced:
        return f"no key of {who} was in use: none was revoked"
    return "\n".join(
        [
            f"revoked {len(rotated.replaced)} key(s) of {who}, each system using one now refused until it has the new"
            " key; people signed in to the portal stay signed in:",
            *_keys_lines(rotated.replaced),
        ]
    )


class _KeyFile:
    """Where `--output` puts a new key, made ready before the key is: a path that cannot be written (its folder
    a file, a place the user may not write) is refused with nothing created or revoked. The key goes to a
    temporary file beside it (0600) that then replaces it, so a rotation never leaves half a key behind."""

    def __init__(self, path: Path, descriptor: int, temporary: str) -> None:
        self.path = path
        self._descriptor = descriptor
        self._temporary = temporary

    @classmethod
    def beside(cls, path: Path) -> _KeyFile:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        except OSError as error:
            raise UsageError(
                f"--output {path} cannot be written ({error.strerror or error}): no key was created or revoked"
            ) from error
        return cls(path, descriptor, temporary)

    def keep(self, token: str) -> None:
        try:
            with os.fdopen(self._descriptor, "w", encoding="utf-8") as written:
                written.write(token + "\n")
            os.replace(self._temporary, self.path)
        except OSError as error:
            # the key exists now (and a rotation has revoked the old ones): it is shown rather than lost
            raise CommandError(
                f"the key was made but --output {self.path} could not be written ({error.strerror or error});"
                f" store it now, it is not shown again:\n{token}"
            ) from error

    def discard(self) -> None:
        """The key was not made: the temporary file goes, and `--output` stays as it was."""
        with contextlib.suppress(OSError):
            os.close(self._descriptor)
        with contextlib.suppress(OSError):
            os.unlink(self._temporary)


def _revoked(principal: Principal, environment: Environment) -> str:
    """Every key of the principal as written and, for an AO, as the register writes its id (`ao:rn9037` ends the
    keys of `ao:RN9037`, which is what `create` made) and in lower case (`ao:RN9037` ends keys made as `ao:rn9037`
    before ids were written as the register writes them): a leaked key must not outlive a revoke typed either way.
    Revoking nothing is an error (exit 1), never a quiet success."""
    principals = [principal]
    if principal.kind is PrincipalKind.AO:
        for spelling in (principal.id.strip().upper(), principal.id.strip().lower()):
            if spelling not in (each.id for each in principals):
                principals.append(Principal(principal.kind, spelling))
    revoked: dict[Principal, list[StoredKey]] = {}
    for each in principals:
        keys = asyncio.run(_with_store("revoke", each, None, environment))
        if isinstance(keys, list) and keys:
            revoked[each] = keys
    if not revoked:
        raise CommandError(f"{principal} has no key to revoke: nothing was revoked (check the principal's kind and id)")
    keys = [key for each in revoked.values() for key in each]
    whose = " and ".join(shown_on_one_line(str(each)) for each in revoked)
    sessions = [key for key in keys if key.label and key.label.startswith(SESSION_KEY_LABEL)]
    people = sorted(
        {shown_on_one_line(key.label.removeprefix(SESSION_KEY_LABEL).strip()) for key in sessions if key.label}
    )
    signed_out = (
        f"{len(sessions)} of them portal session keys ({', '.join(people)} signed out of the portal)"
        if sessions
        else "none of them a portal session key"
    )
    other = Environment.LIVE if environment is Environment.SANDPIT else Environment.SANDPIT
    return "\n".join(
        [
            f"revoked {len(keys)} key(s) of {whose}, {signed_out}:",
            *_keys_lines(keys),
            f"its keys in the {'live key store' if other is Environment.LIVE else 'Sandpit'} stay"
            f" (`{_lrs(other)} credentials revoke --principal {shown_on_one_line(str(principal))}`)",
        ]
    )


KEY_ID_QUOTED_CHARACTERS = 16
"""The longest --key-id value said back in its refusal: a key id's length. A longer one may be a key itself, or a
key cut short, whose secret must not reach the terminal or a CI log."""


def _key_id_refusal(key_id: str, lrs: str) -> str:
    """Why `key_id` is no key id, never quoting a whole API key (pasted when revoking a leaked key) or anything
    longer than a key id, or shaped as a key's start: its secret would be printed to the terminal or a CI log. A
    whole key's id is said (no secret), with the `lrs` of the environment it was issued in."""
    shape = f"16 characters, 0-9 and a-f, as `{lrs} credentials list` shows it"
    if (whole := key_id_of(key_id.strip())) is not None:
        issued_in = "lrs --sandpit" if token_environment(key_id.strip()) is Environment.SANDPIT else "lrs"
        return (
            f"--key-id was given a whole API key, not its id: nothing was revoked. Give its id, {whole}, as"
            f" `{issued_in} credentials list` shows it (the key itself is not printed here: its secret is in it)"
        )
    if len(key_id) > KEY_ID_QUOTED_CHARACTERS or key_id.strip().startswith("lrs_"):
        return f"--key-id is not a key id (its value is not printed: it may hold a key's secret): {shape}"
    return f"--key-id {key_id!r} is not a key id: {shape}"


def revoked_key(key_id: str, environment: Environment) -> str:
    """`lrs credentials revoke --key-id ID`: the one key, whoever's it is (an AO's leaked key, an operator's that does
    more than its duties), kept with who revoked it (`made_by`), as revoke and rotate are; the principal's other keys
    and people's portal sessions stay. An id no key has, or a key revoked before, is an error (exit 1) saying so:
    nothing changed."""
    wanted = key_id.strip().lower()
    lrs = "lrs --sandpit" if environment is Environment.SANDPIT else "lrs"
    store_name = "Sandpit's" if environment is Environment.SANDPIT else "live"
    if not KEY_ID.fullmatch(wanted):
        raise UsageError(_key_id_refusal(key_id, lrs))

    async def revoke() -> StoredKey:
        async with _key_store(environment) as (_, store):
            return await store.revoke_key(wanted, by=made_by("revoke"))

    try:
        key = asyncio.run(revoke())
    except NoSuchKeyError:
        raise CommandError(
            f"no key {wanted} in the {store_name} key store: nothing was revoked (`{lrs} credentials list"
            " --revoked` lists every key; check the id, and the environment)"
        ) from None
    except KeyRevokedAlreadyError as error:
        done = error.key
        when = f" {uk_time(done.revoked_at)}" if done.revoked_at else ""
        by = f" by {shown_on_one_line(done.revoked_by)}" if done.revoked_by else ""
        raise CommandError(
            f"key {done.key_id} of {shown_on_one_line(str(done.principal))} was revoked already,{when}{by}: nothing"
            " changed"
        ) from None
    label = f" ({shown_on_one_line(key.label)})" if key.label else ""
    return (
        f"revoked key {key.key_id} of {shown_on_one_line(str(key.principal))}{label}; the other keys of"
        f" {shown_on_one_line(str(key.principal))} stay"
    )


def registered_ao(principal: Principal, reference_dir: Path | None) -> Principal:
    """The AO principal with its id as the register writes it (`ao:rn9037` is `ao:RN9037`), if the AO is in the
    register of the reference files (decision 0131): a key for any other would have every batch refused."""
    ao_id = principal.id.strip().upper()
    if ao_id not in load_register(reference_dir):
        if reference_dir is None:
            raise UsageError(
                f"{ao_id} is not an awarding organisation in the register (the reference files shipped with lrs):"
                " check the number, or name your own copy of the reference files with --reference-dir"
            )
        raise UsageError(
            f"{ao_id} is not an awarding organisation in the register of {reference_dir}: check the number"
        )
    return Principal(PrincipalKind.AO, ao_id, principal.scopes)


def _scoped(issued: IssuedKey) -> str:
    scopes = issued.principal.scopes
    return f" (scopes: {', '.join(sorted(scopes))})" if scopes else ""


def load_reference(connection: Connection, *, allow_removals: bool = False, allow_ao_changes: bool = False) -> str:
    """The load's counts, as stored: what the catalogue holds now, and what it added, removed and changed. A load
    refused (a file the service cannot read, or a change not allowed) is the service's problem, naming why."""
    allowing = {"allow_removals": allow_removals, "allow_ao_changes": allow_ao_changes}
    asked = {name: "true" for name, allowed in allowing.items() if allowed}
    with connection.client("validation", timeout=300) as client, progress("loading the reference files"):
        loaded = expect_ok(client.post("/v1/admin/reference/load", params=asked))
    version = loaded.get("catalogue_version")
    made = (
        f"loaded {counted(loaded['qualifications'], 'qualification')} of"
        f" {counted(loaded['awarding_organisations'], 'awarding organisation')}"
        f"{f' (catalogue version {version})' if version else ''}"
    )
    if not all(name in loaded for name in ("added", "removed", "changed")):
        # a validation older than this lrs sends no counts: "0 added" would read as "nothing changed"
        return f"{made}; validation did not say how many it added, removed or changed (an older release)"
    return f"{made}: {loaded['added']:,} added, {loaded['removed']:,} removed, {loaded['changed']:,} changed"


def import_learners(connection: Connection, file: str) -> str:
    path = Path(file)
    read = read_bounded(path, LEARNER_IMPORT_BYTES)
    if read.too_large:
        size = f"{read.known_size:,} bytes, more than the" if read.known_size is not None else "more than the"
        raise CommandError(
            f"{path.name} is {size} {LEARNER_IMPORT_BYTES:,} bytes a learner import reads: split it into smaller files"
        )
    with connection.client("validation", timeout=300) as client:
        response = upload(client, "/v1/learners/import", read.content, {"Content-Type": "text/csv"}, path.name)
        result = expect_ok(response)
    said = (
        f"registered {result['registered']} new learners; updated {result.get('updated', 0)},"
        f" unchanged {result.get('unchanged', 0)}"
    )
    if merged := result.get("merged", 0):
        said += f"; merged {merged}"
    if ended := result.get("provider_links_ended", 0):
        said += (
            f"; ended {ended} provider link{'s' if ended != 1 else ''} made by registrations under the details"
            " it replaced (`lrs learners link` makes one again where the learner is truly that provider's)"
        )
    if reset := result.get("sharing_choices_reset", 0):
        said += (
            f"; set aside {reset} choice{'s' if reset != 1 else ''} to share only such a provider had made"
            " (the file's choice holds instead)"
        )
    return said


class Sharing(StrEnum):
    """A learner's ability to share, by what it means (the API's AbilityToShare numbers)."""

    NOT_SEEN = "not-seen"
    SHARES = "shares"
    UNABLE = "unable"


# Said of the learner by their ULN, for whichever key asks (the learner's own, a linked provider's, an operator's):
# the CLI does not know whose key it holds. The AbilityToShare numbers stay in --json.
_STILL_SEEN = "The learner still sees all of it, and each awarding organisation sees the results it recorded"
_SHARING_CODES = {Sharing.NOT_SEEN: 0, Sharing.SHARES: 1, Sharing.UNABLE: 2}
_SHARING_NOW = {
    0: "has not seen the privacy notice yet: learning providers linked to them can see their PLR",
    1: "shares their PLR: learning providers linked to them can see it",
    2: f"does not share their PLR: no learning provider can see it. {_STILL_SEEN}",
}
CHOICE_WORDS = {0: "privacy notice not seen", 1: "sharing", 2: "not sharing"}
"""Each AbilityToShare as a change in the history chose it."""


def sharing_of(connection: Connection, uln: str) -> dict[str, Any]:
    with connection.client("validation") as client:
        view: dict[str, Any] = expect_ok(client.get(f"/v1/learners/{uln}/sharing"))
    return view


def sharing_text(view: dict[str, Any]) -> str:
    lines = [f"learner {view['uln']} {_SHARING_NOW[view['ability_to_share']]}"]
    if not view["changes"]:
        lines.append("their sharing never changed since the learner was registered")
    for change in view["changes"]:
        choice = CHOICE_WORDS.get(change["ability_to_share"], str(change["ability_to_share"]))
        lines.append(f'  {uk_time(change["changed_at"])}  set to "{choice}" by {change["changed_by"]}')
    if view.get("more"):  # a validation service from before 2026-12 does not say
        lines.append(f"  and older changes: only the latest {len(view['changes'])} are shown")
    link_changes = view.get("link_changes")  # an operator's only, from a validation service of 2026-12 on
    if link_changes is not None:
        lines.append(_link_changes_heading(link_changes))
    for change in link_changes or []:
        lines.append(f"  {_link_change_text(change, view['uln'])}")
    if view.get("more_link_changes"):
        lines.append(
            f"  and older link changes: only the latest {len(link_changes or [])} are shown"
            f" (GET /v1/admin/learners/{view['uln']}/link-changes lists them all)"
        )
    return "\n".join(lines)


def _link_changes_heading(link_changes: list[dict[str, Any]]) -> str:
    if not link_changes:
        return "no provider's link to the learner was made or ended since link changes began to be kept"
    return "providers linked to the learner and unlinked, newest first:"


def _link_change_text(change: dict[str, Any], uln: str) -> str:
    """`linked to provider UKPRN by WHO on WHEN` or `unlinked from provider …`, with the ULN where it is another of
    the learner's (merged with the one asked about) and why, where the registry says."""
    said = "linked to" if change["change"] == "linked" else "unlinked from"
    text = f"{said} provider {change['ukprn']} by {change['changed_by']} on {uk_time(change['changed_at'])}"
    if change.get("uln") and change["uln"] != uln:
        text += f", under ULN {change['uln']}"
    if change.get("reason"):
        text += f": {change['reason']}"
    return text


# A change reaches the PLR through the learner log: what it does there starts moments later.
_APPLIED = "within a few seconds"
_SHARING_CHANGED = {
    Sharing.NOT_SEEN: "is now marked as not having seen the privacy notice: learning providers linked to them can"
    f" see their PLR {_APPLIED}",
    Sharing.SHARES: f"now shares their PLR: learning providers linked to them can see it {_APPLIED}",
    Sharing.UNABLE: f"has stopped sharing their PLR: {_APPLIED}, no learning provider can see it. {_STILL_SEEN}",
}
_SHARING_ALREADY = {
    0: "is already marked as not having seen the privacy notice",
    1: "already shares their PLR",
    2: "already does not share their PLR",
}


def change_sharing(connection: Connection, uln: str, choice: Sharing) -> str:
    code = _SHARING_CODES[choice]
    with connection.client("validation") as client:
        # 204 when recorded now; 200 with `changed: false` for the choice its sender had made already
        answer = expect_ok(client.post(f"/v1/learners/{uln}/sharing", json={"ability_to_share": code}))
    if isinstance(answer, dict) and answer.get("changed") is False:
        return f"learner {uln} {_SHARING_ALREADY[code]}: nothing changed"
    return f"learner {uln} {_SHARING_CHANGED[choice]}"


def linked_providers(connection: Connection, uln: str) -> dict[str, Any]:
    with connection.client("validation") as client:
        view: dict[str, Any] = expect_ok(client.get(f"/v1/learners/{uln}/providers"))
    return view


def linked_providers_text(view: dict[str, Any]) -> str:
    if not view["providers"]:
        return f"no provider is linked to learner {view['uln']}: none reads their PLR"
    lines = [f"providers linked to learner {view['uln']} (they read their PLR while they share):"]
    for provider in view["providers"]:
        lines.append(f"  {provider['ukprn']}  since {uk_time(provider['linked_since'])}")
    return "\n".join(lines)


def link_provider(connection: Connection, uln: str, ukprn: str) -> str:
    with connection.client("validation") as client:
        expect_ok(client.post(f"/v1/admin/learners/{uln}/providers", json={"ukprn": ukprn}))
    return (
        f"provider {ukprn} linked: it may now read the learner's PLR (while they share), report centre"
        " achievements for them and change their ability to share"
    )


def unlink_provider(connection: Connection, uln: str, ukprn: str) -> str:
    with connection.client("validation") as client:
        ended = expect_ok(client.delete(f"/v1/admin/learners/{uln}/providers/{ukprn}"))
    revoked: int = ended["learner_keys_revoked"]
    said = (
        f"provider {ukprn}'s link to learner {uln} ended (under every ULN of theirs: {counted(ended['links_ended'], 'link')}):"
        " once the PLR service has it, the provider no longer reads their PLR, reports centre achievements for them or"
        " changes their sharing, and the centre reports it made for them are hidden until it is linked again (`lrs"
        " learners link`)."
    )
    if not revoked:
        return said + " No learner API key was revoked."
    return said + (
        f" The learner's {counted(revoked, 'API key')} {'was' if revoked == 1 else 'were'} revoked with it, as the"
        " provider's own registration made the link: make them one again"
        f" (`lrs credentials create --principal learner:{uln}`) once you know whose the ULN is."
    )


def merge_learners(connection: Connection, master_uln: str, merged_uln: str) -> str:
    with connection.client("validation") as client:
        # 204 when merged now; 200 with `changed: false` when it was merged so before (decision 0158)
        answer = expect_ok(client.post(f"/v1/learners/{master_uln}/merge", json={"merged_uln": merged_uln}))
    if isinstance(answer, dict) and answer.get("changed") is False:
        return f"ULN {merged_uln} was already merged into {master_uln}: nothing changed"
    return (
        f"{merged_uln} merged into {master_uln}: one learner now, whose PLR holds the results recorded under either;"
        " each keeps the ULN it was recorded under, and new ones are recorded under the master"
    )


_FIELD_WORDS = {
    "given_name": "given name",
    "family_name": "family name",
    "date_of_birth": "date of birth",
    "gender": "gender",
}


def _fields_said(fields: Sequence[str]) -> str:
    return ", ".join(_FIELD_WORDS.get(field, field) for field in fields)


def correct_details(connection: Connection, uln: str, details: dict[str, Any], reason: str) -> str:
    """Corrects the learner's details as the same person, and says which fields changed under which ULNs: never the
    values, which the operator typed and the registry holds."""
    given = {field: value for field, value in details.items() if value is not None}
    if not given:
        raise UsageError(
            "give at least one of --given-name, --family-name, --date-of-birth and --gender; nothing was changed"
        )
    if not has_visible_text(reason):
        raise UsageError("--reason says why the learner's details are corrected: it is kept with the record")
    with connection.client("validation") as client:
        done = expect_ok(client.post(f"/v1/admin/learners/{uln}/correction", json={**given, "reason": reason}))
    ulns = done["ulns"]
    return (
        f"corrected the {_fields_said(done['fields'])} of learner {uln} under {counted(len(ulns), 'ULN')}"
        f" ({', '.join(ulns)}): every provider link and API key of theirs kept; recorded as correction"
        f" {done['rectification_id']} (`lrs learners corrections {uln}`)"
    )


CORRECTIONS_PAGE = 1_000  # the largest page of corrections validation serves


def corrections(connection: Connection, uln: str, limit: int = 100, after: str | None = None) -> dict[str, Any]:
    """A page of the corrections of the learner's details, newest first: `corrections`, and `next`."""
    return read_page(connection, "validation", f"/v1/admin/learners/{uln}/corrections", limit=limit, after=after)


def _correction_row(correction: dict[str, Any]) -> tuple[str, ...]:
    return (
        uk_time(correction["corrected_at"], labelled=False),
        ", ".join(correction["ulns"]),
        _fields_said(correction["fields"]),
        correction["corrected_by"],
        correction["reason"],
    )


class CredentialAction(StrEnum):
    CREATE = "create"
    ROTATE = "rotate"
    REVOKE = "revoke"
    LIST = "list"


KEYS_LISTED = 500


async def _listed_keys(
    kind: PrincipalKind | None, principal: Principal | None, revoked: bool, environment: Environment
) -> tuple[list[StoredKey], int]:
    async with _key_store(environment) as (_, store):
        keys = await store.listing(
            kind, include_revoked=revoked, label_not_starting=SESSION_KEY_LABEL, principal=principal, limit=KEYS_LISTED
        )
        if len(keys) < KEYS_LISTED:
            return keys, len(keys)
        total = await store.count(
            kind, include_revoked=revoked, label_not_starting=SESSION_KEY_LABEL, principal=principal
        )
        return keys, total


def listed_keys(
    whose: str | None, *, revoked: bool, environment: Environment = Environment.LIVE
) -> tuple[list[StoredKey], int]:
    """The keys an access review asks about: whose, which duties, made and revoked when and by whom (with `lrs
    credentials` or in the portal); never a secret, and not the portal's own session keys (each person's, for an
    hour). With them, how many there are in all (more than listed: only the first KEYS_LISTED are)."""
    kind: PrincipalKind | None = None
    principal: Principal | None = None
    if whose:
        try:
            principal = Principal.parse(whose.strip()) if ":" in whose else None
            kind = PrincipalKind(whose.strip()) if principal is None else None
        except ValueError as error:
            raise UsageError(
                f"--principal for list is a kind (ao, provider, learner, operator) or kind:id; got {whose!r}"
            ) from error
    return asyncio.run(_listed_keys(kind, principal, revoked, environment))


def _duties(key: StoredKey) -> list[str]:
    """The duties the key may do: its scopes, or every one (an operator key issued with none; decision 0122)."""
    return sorted(key.principal.scopes) or (["every"] if key.principal.is_operator else [])


def keys_table(keys: Sequence[StoredKey], total: int) -> str:
    """One key a line. After its label, who made it and who revoked it, where the key store keeps it (`lrs
    credentials` and the portal say; keys made before either did, or by `make up`, say nobody). Who it is for, its
    label, its maker and its revoker are shown on one line as written
    (`shown_on_one_line`: a line break, a control character or a bidirectional control as "[U+001B]"): a label
    stored before the key store refused them (`label_refusal`) cannot add a row to an access review, hide one or
    send a terminal its escapes."""
    if not keys:
        return "no keys"
    made, revoked = f"created ({UK_TIME})", f"revoked ({UK_TIME})"
    lines = [f"{'key id':<16}  {'principal':<28} {'duties':<24} {made:<18}  {revoked:<18}  label; made by; revoked by"]
    for key in keys:
        duties = ",".join(_duties(key))
        created_at = uk_time(key.created_at, labelled=False)
        revoked_at = uk_time(key.revoked_at, labelled=False) if key.revoked_at else ""
        said = [key.label] if key.label else []
        said += [f"made by {key.created_by}"] if key.created_by else []
        said += [f"revoked by {key.revoked_by}"] if key.revoked_by else []
        principal, label = shown_on_one_line(str(key.principal)), shown_on_one_line("; ".join(said))
        lines.append(f"{key.key_id:<16}  {principal:<28} {duties:<24} {created_at:<18}  {revoked_at:<18}  {label}")
    if total > len(keys):
        lines.append(_more_than_listed(keys, total))
    return "\n".join(lines)


def keys_json(keys: Sequence[StoredKey]) -> list[dict[str, Any]]:
    """The table's fields, for scripts: times in ISO 8601 (UTC), `revoked_at` null for a key in use; who made and who
    revoked the key (`created_by`, `revoked_by`), null where nobody said (before the key store kept it: `lrs
    credentials` before identity migration 0002, the portal before it said too)."""
    return [
        {
            "key_id": key.key_id,
            "principal": str(key.principal),
            "duties": _duties(key),
            "created_at": key.created_at.isoformat(),
            "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
            "label": key.label,
            "created_by": key.created_by,
            "revoked_by": key.revoked_by,
        }
        for key in keys
    ]


def _more_than_listed(keys: Sequence[StoredKey], total: int) -> str:
    return f"the first {len(keys):,} of {total:,}: name a kind or a principal to see the rest"


def credentials_command(
    ctx: typer.Context,
    action: Annotated[
        CredentialAction,
        typer.Argument(
            help="create a key; rotate (a new key, and the old ones revoked: people signed in to the portal stay"
            " signed in; more than one old key in use: asks first, or wants --yes; to replace one system's key without"
            " a stop, create and then revoke --key-id); revoke (every key of --principal, or the one key --key-id"
            " names)",
            parser=one_of(CredentialAction, "the action"),
        ),
    ],
    principal: Annotated[
        str | None,
        typer.Option(
            help="Whose key: ao:<id> (an AO in the register, for create and rotate), provider:<ukprn>, learner:<uln>"
            " or operator:<name>; for list, optional: a principal, or a kind alone (operator)."
        ),
    ] = None,
    label: Annotated[
        str | None,
        typer.Option(
            help="A note stored with the key, such as where it is used. It is kept for good, in clear, and shown by"
            " list: never a person's name or date of birth (a learner's key loses its label when they are erased)."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            dir_okay=False,
            help="Write the key to this file (mode 600) instead of printing it; missing folders are made.",
        ),
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help="Operator keys only, repeatable: limit the key to these duties (decision 0122): "
            + ", ".join(scope.value for scope in OperatorScope)
            + ". Without it the key does everything; a rotation keeps the scopes of the key it replaces."
        ),
    ] = None,
    reference_dir: Annotated[
        Path | None,
        typer.Option(
            file_okay=False,
            exists=True,
            help="AO keys: your own copy of the reference files, whose register the AO must be in (default: those"
            " shipped).",
        ),
    ] = None,
    allow_unregistered: Annotated[
        bool,
        typer.Option(
            "--allow-unregistered",
            help="create and rotate, learner:ULN: make the key though no learner is registered under the ULN yet"
            " (without it that is refused: the key would read the PLR of whoever is registered under it later).",
        ),
    ] = False,
    key_id: Annotated[
        str | None,
        typer.Option(
            "--key-id",
            help="revoke: only this key (its id, as list shows it), whoever's it is; the principal's other keys stay.",
        ),
    ] = None,
    revoked: Annotated[bool, typer.Option("--revoked", help="list: revoked keys too.")] = False,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes",
            help="rotate: do not ask before revoking more than one key in use (needed then when not on a terminal,"
            " as in a script).",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="list: print JSON (for scripts) instead of the table.")
    ] = False,
) -> None:
    """Operator: create, rotate, revoke or list API keys, the keys callers present to the API (not PLR credentials:
    see `lrs plr credential` and `lrs credential-keys`).

    Straight to the identity tables: needs DATABASE_URL, in the Sandpit LRS_SANDPIT_DATABASE_URL. An AO key is made
    only for an AO in the register (decision 0131), a learner's only for a ULN in the learner registry (unless
    --allow-unregistered) and never for an erased one."""
    environment = connection(ctx).environment
    if yes and action is not CredentialAction.ROTATE:
        raise UsageError("--yes is for rotate: it revokes every key of the principal in use without asking first")
    if action is CredentialAction.LIST:
        keys, total = listed_keys(principal, revoked=revoked, environment=environment)
        if not as_json:
            print_text(keys_table(keys, total))
            return
        print_json(keys_json(keys))
        if total > len(keys):
            warn(_more_than_listed(keys, total))
        return
    if as_json:
        raise UsageError("--json is for list: create and rotate print the key, revoke the keys it ended")
    if key_id is not None:
        if action is not CredentialAction.REVOKE:
            raise UsageError("--key-id is for revoke: it names the one key to revoke")
        if principal is not None:
            raise UsageError("give --principal (every key of it) or --key-id (that key alone), not both")
        print_text(revoked_key(key_id, environment))
        return
    if principal is None:
        if action is CredentialAction.REVOKE:
            raise UsageError(
                "--principal (every key of it, like ao:RN9093) or --key-id (one key, as list shows it) is needed to"
                " revoke"
            )
        raise UsageError(f"--principal is needed to {action.value} a key: whose it is, like ao:RN9093")
    written = str(output) if output else None
    print_text(
        credentials(
            action.value, principal, label, written, environment, scope or (), reference_dir, allow_unregistered, yes
        )
    )


reference_app = typer.Typer(help="Operator: reference data.", no_args_is_help=True)
learners_app = typer.Typer(
    help="The learner registry: operators (import, merge, link, unlink, erase); a learner's sharing also by the learner"
    " or a provider linked to them.",
    no_args_is_help=True,
)


@reference_app.command("load")
def load_reference_command(
    ctx: typer.Context,
    allow_removals: Annotated[
        bool,
        typer.Option(
            "--allow-removals",
            help="Load even if more than 5% of the catalogue's qualifications would be removed (or all of them):"
            " a real cull, not a register cut short.",
        ),
    ] = False,
    allow_ao_changes: Annotated[
        bool,
        typer.Option(
            "--allow-ao-changes",
            help="Load even if qualifications would move to another awarding organisation id, or an id they use"
            " would leave the list. Achievements recorded under the old id stay under it.",
        ),
    ] = False,
) -> None:
    """Reload the qualification catalogue and awarding organisations into validation, from the files in its
    VALIDATION_REFERENCE_DIR. Says how many qualifications were added, removed and changed."""
    print_text(load_reference(connection(ctx), allow_removals=allow_removals, allow_ao_changes=allow_ao_changes))


@learners_app.command("import")
def import_learners_command(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="CSV: ULN,GivenName,FamilyName,DateOfBirth,Gender,AbilityToShare,MasterULN.",
        ),
    ],
) -> None:
    """Register learners from a CSV file."""
    print_text(import_learners(connection(ctx), str(file)))


def _eight_digits(value: str) -> str:
    if not re.fullmatch(r"[0-9]{8}", value):
        raise typer.BadParameter("a UKPRN is 8 digits, like 10004567")
    return value


@learners_app.command("sharing")
def sharing_command(
    ctx: typer.Context,
    uln: UlnArgument,
    choice: Annotated[
        Sharing | None,
        typer.Argument(
            help="shares, unable (to share: providers are refused the PLR) or not-seen (the privacy notice);"
            " none: show the choice and who changed it when",
            parser=one_of(Sharing, "the choice"),
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Whether a learner lets learning providers read their PLR, and who changed it when (to an operator, also who
    linked providers to the learner or unlinked them, when and why); with a choice, record
    it: with the learner's key, a linked provider's acting for them, or an operator's. A learner who does not
    share (unable) under one of their ULNs still does not once that ULN is merged into another. The choice the learner has, sent again by whoever made it, records
    nothing and says "already …: nothing changed" (exit status 0)."""
    if choice is not None:
        print_text(change_sharing(connection(ctx), uln, choice))
        return
    view = sharing_of(connection(ctx), uln)
    if as_json:
        print_json(view)
        return
    print_text(sharing_text(view))


@learners_app.command("providers")
def linked_providers_command(
    ctx: typer.Context,
    uln: UlnArgument,
    as_json: JsonOption = False,
) -> None:
    """Which providers are linked to a learner, and since when: they read the learner's PLR while the learner
    shares. With the learner's key or an operator's; a linked provider sees its own link only."""
    view = linked_providers(connection(ctx), uln)
    if as_json:
        print_json(view)
        return
    print_text(linked_providers_text(view))


@learners_app.command("merge")
def merge_learners_command(
    ctx: typer.Context,
    master_uln: Annotated[
        str, typer.Argument(help="The ULN that stays the learner's (10 digits).", callback=uln_value)
    ],
    merged_uln: Annotated[
        str, typer.Argument(help="The learner's other ULN, merged into the master.", callback=uln_value)
    ],
) -> None:
    """Merge two ULNs of one learner (decision 0031), as the import file's MasterULN column does: refused when
    the master is already merged into the other (a cycle), when either was erased, or when the ULN to merge is
    merged into another master already (decision 0158); the same merge again says it changed nothing."""
    print_text(merge_learners(connection(ctx), master_uln, merged_uln))


@learners_app.command("link")
def link_provider_command(
    ctx: typer.Context,
    uln: UlnArgument,
    ukprn: Annotated[str, typer.Option(help="The provider's UKPRN (8 digits).", callback=_eight_digits)],
) -> None:
    """Link a provider to a learner: it may then read their PLR, report for them and change their sharing."""
    print_text(link_provider(connection(ctx), uln, ukprn))


@learners_app.command("unlink")
def unlink_provider_command(
    ctx: typer.Context,
    uln: UlnArgument,
    ukprn: Annotated[str, typer.Option(help="The provider's UKPRN (8 digits).", callback=_eight_digits)],
) -> None:
    """End a provider's link to a learner, under every ULN of theirs, whoever made it: it no longer reads their PLR,
    reports for them or changes their sharing. Not linked: exit status 1, nothing changed."""
    print_text(unlink_provider(connection(ctx), uln, ukprn))


@learners_app.command("correct")
def correct_details_command(
    ctx: typer.Context,
    uln: UlnArgument,
    reason: Annotated[
        str,
        typer.Option(
            help="Why (the learner's request and its reference): kept with the record of the correction, also after"
            " an erasure, so do not write the learner's details in it.",
        ),
    ],
    given_name: Annotated[str | None, typer.Option(help="The given name as it should read.")] = None,
    family_name: Annotated[str | None, typer.Option(help="The family name as it should read.")] = None,
    date_of_birth: Annotated[str | None, typer.Option(help="yyyy-mm-dd.")] = None,
    gender: Annotated[
        int | None, typer.Option(help="0 not known, 1 male, 2 female, 9 not specified.", min=0, max=9)
    ] = None,
) -> None:
    """Correct a learner's registered details as the same person (UK GDPR Art. 16), under every ULN of theirs (the
    master and its merged ULNs). Unlike a learner file, it ends no provider's link and revokes none of the learner's
    keys. Prints which fields changed under which ULNs, never the values; refused (nothing changed) for an erased
    learner, an unknown ULN, or details every ULN holds already."""
    details = {"given_name": given_name, "family_name": family_name, "date_of_birth": date_of_birth, "gender": gender}
    print_text(correct_details(connection(ctx), uln, details, reason))


@learners_app.command("corrections")
def corrections_command(
    ctx: typer.Context,
    uln: UlnArgument,
    limit: PageLimit = 100,
    after: AuditAfter = None,
    every: EveryOption = False,
    as_json: JsonOption = False,
) -> None:
    """Operator (the registry scope): who corrected a learner's details (`lrs learners correct`), under which of
    their ULNs, which fields (never the values), when (UK time; --json: the instant) and why, newest first; an erased
    learner's too. A page at a time (a full page ends with "more: … --after POSITION" on stderr), or --all."""
    to_live = connection(ctx)
    if every:
        page = every_page(lambda at: corrections(to_live, uln, CORRECTIONS_PAGE, at), "corrections", after)
    else:
        page = corrections(to_live, uln, limit, after)
    columns = (f"corrected at ({UK_TIME})", "ULNs", "fields", "by", "reason")
    print_listing(page["corrections"], as_json=as_json, columns=columns, row=_correction_row, none="no corrections")
    tell_more(page["next"])
