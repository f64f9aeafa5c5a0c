"""The Sandpit's database as the manifests make it (deploy/k8s/base/postgres/roles.yaml, report "sandpit" finding 3):
a role per service, each owning its own schemas, made by roles.sql's Sandpit statements and sandpit.sql (run through
dblink, as on the cluster). Each service's migrations run at its start as its own role; afterwards only the
Sandpit's validation reads its clear copy of the live registry, the projector may ask `validation.learner_erased`
(granted by name by validation's migration 0134) and nothing else of validation's, neither `learner_registered` nor
a function made later (report "review2" finding 1), ingest and the notifier find and add learner keys, and the
portal reaches `identity` alone."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import NamedTuple

import asyncpg
import pytest
import yaml
from tests.support.databases import create_database, unique_name

from lrs_contracts.environments import Environment
from lrs_platform.credential_store import CredentialStore
from lrs_platform.database import apply_migrations, create_pool, migrations_in
from lrs_platform.keyring import migrate as migrate_key_store
from lrs_platform.parking import ParkedMessages

pytestmark = pytest.mark.integration

ROLES = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "base" / "postgres" / "roles.yaml"
SERVICES = ("ingest", "validation", "plr_projector", "notifier", "portal")
# what each service migrates at its start (its bootstrap), in the Sandpit's database
MIGRATIONS = {
    "validation": [("validation", "validation.migrations")],
    "ingest": [("ingest", "ingest.migrations")],
    "plr_projector": [("plr", "plr_projector.migrations"), ("plr_ops", "plr_projector.ops_migrations")],
    "notifier": [("notifier", "notifier.migrations")],
    "portal": [],
}


class Sandpit(NamedTuple):
    url: str  # as the superuser
    roles: dict[str, str]  # the manifests' role name → this test's


def _statements(sql: str) -> list[str]:
    code = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    return [statement.strip() for statement in code.split(";") if statement.strip()]


def _as_here(sql: str, database: str, roles: dict[str, str]) -> str:
    sql = re.sub(r"\bDATABASE lrs_sandpit\b", f'DATABASE "{database}"', sql)
    return re.sub(r"\blrs_sandpit(?:_[a-z_]+)?\b", lambda match: roles.get(match.group(0), match.group(0)), sql)


DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
# validation's migration that grants the Sandpit's projector learner_erased alone (report "review2" finding 1)
PROJECTOR_GRANT = "0134_learner_erased_alone_asked_by_the_sandpit_projector.sql"


def _upgrade_sql() -> str:
    """docs/deploy.md's release note "adding the Sandpit's roles to a running cluster", step 4: after roles.sql's
    Sandpit statements, in lrs_sandpit as the superuser. Each schema the one role lrs_sandpit made, and everything in
    it, to its service's role; then the grants sandpit.sql makes on a new cluster, and the same on what exists
    already. Read from the page, so that what operators are told to run is what is tested."""
    note = DEPLOY.read_text(encoding="utf-8").split("**Adding the Sandpit's roles to a running cluster**", 1)[1]
    block = re.search(r"\n( *)```sql\n(.*?)\n\1```\n", note, re.DOTALL)
    assert block, "deploy.md: no ```sql block after the running cluster's steps"
    return textwrap.dedent(block.group(2))


def _identity_owner_sql() -> str:
    """docs/deploy.md's session 63 release note, its superuser command in lrs_sandpit: `identity` to an owner no
    service inherits (report "review3" finding 1). Read from the page, as `_upgrade_sql` is."""
    note = DEPLOY.read_text(encoding="utf-8").split("**The release of session 63's fixes**", 1)[1]
    command = re.search(r'`kubectl cnpg psql lrs-db -- -d lrs_sandpit -c "(CREATE ROLE [^"]*)"`', note)
    assert command, "deploy.md: no superuser command for the Sandpit's identity in session 63's release note"
    return command.group(1)


@pytest.fixture
async def database(fresh_database_url: str) -> Sandpit:
    """cluster.yaml's postInitSQL: the database, owned by lrs_sandpit, which PUBLIC may not connect to (before this
    change its services all logged in as lrs_sandpit, so it may log in here)."""
    database = fresh_database_url.rsplit("/", 1)[1]
    prefix = unique_name("sp")
    names = ["lrs_sandpit", *(f"lrs_sandpit_{n}" for n in [*SERVICES, "services", "keyring_users", "identity_owner"])]
    roles = {name: name.replace("lrs_sandpit", prefix, 1) for name in names}
    admin = await asyncpg.connect(fresh_database_url)
    try:
        await admin.execute(f"CREATE ROLE {roles['lrs_sandpit']} LOGIN")
        await admin.execute(f'ALTER DATABASE "{database}" OWNER TO {roles["lrs_sandpit"]}')
        await admin.execute(f'REVOKE ALL ON DATABASE "{database}" FROM PUBLIC')
    finally:
        await admin.close()
    return Sandpit(fresh_database_url, roles)


async def _make_roles(sandpit: Sandpit, *, as_session_62s_step_3: bool = False) -> None:
    """roles.sql's Sandpit statements (run in `lrs` on the cluster), then the logins CloudNativePG gives. On a running
    cluster (deploy.md's session 62 note, step 3), those from the group role's to the keyring's grant."""
    database = sandpit.url.rsplit("/", 1)[1]
    in_lrs = _statements(yaml.safe_load(ROLES.read_text(encoding="utf-8"))["data"]["roles.sql"])
    start = next(i for i, statement in enumerate(in_lrs) if statement.startswith("CREATE ROLE lrs_sandpit_services"))
    end = len(in_lrs)
    if as_session_62s_step_3:
        end = 1 + next(
            i for i, statement in enumerate(in_lrs) if statement.startswith("GRANT lrs_sandpit_keyring_users")
        )
    admin = await asyncpg.connect(sandpit.url)
    try:
        for statement in in_lrs[start:end]:
            await admin.execute(_as_here(statement, database, sandpit.roles))
        for name in SERVICES:
            await admin.execute(f"ALTER ROLE {sandpit.roles[f'lrs_sandpit_{name}']} LOGIN")
    finally:
        await admin.close()


@pytest.fixture
async def sandpit(database_url: str, database: Sandpit) -> Sandpit:
    """A new cluster's Sandpit database, as the manifests make it."""
    await _make_roles(database)
    # sandpit.sql as the cluster runs it, in another database (`lrs` there), through dblink; the server here is
    # reached over TCP (CloudNativePG's instance finds its own socket by PGHOST and PGPORT)
    server = re.fullmatch(r"postgresql://(\w+)@([\d.]+):(\d+)/.*", database_url)
    assert server, database_url
    user, host, port = server.groups()
    name = database.url.rsplit("/", 1)[1]
    other = await create_database(database_url, unique_name("t"))
    conninfo = f"'dbname={name} host={host} port={port} user={user}'"
    sandpit_sql = yaml.safe_load(ROLES.read_text(encoding="utf-8"))["data"]["sandpit.sql"]
    sandpit_sql = _as_here(sandpit_sql.replace("'dbname=lrs_sandpit'", conninfo), name, database.roles)
    assert f"dbname={name} " in sandpit_sql
    admin = await asyncpg.connect(other)
    try:
        await admin.execute(sandpit_sql)
    finally:
        await admin.close()
    return database


def _as(sandpit: Sandpit, name: str) -> str:
    role = sandpit.roles["lrs_sandpit" if name == "owner" else f"lrs_sandpit_{name}"]
    return sandpit.url.replace("://postgres@", f"://{role}@")


async def _start(sandpit: Sandpit, name: str, *, as_role: str | None = None) -> None:
    """What the service migrates at its start, as its own role (or `as_role`: "owner", as before)."""
    pool = await create_pool(_as(sandpit, as_role or name), max_size=2)
    try:
        if name == "validation":
            await migrate_key_store(pool)
        async with pool.acquire() as connection:
            for schema, package in MIGRATIONS[name]:
                await apply_migrations(connection, schema, package)
            if name == "validation":
                await _grant_to_the_projector(sandpit, connection)
        await CredentialStore(pool, environment=Environment.SANDPIT).migrate()
        if name in ("ingest", "validation", "notifier"):  # the projector parks in its own `plr`
            await ParkedMessages(pool, f"{MIGRATIONS[name][0][0]}_parked").migrate()
    finally:
        await pool.close()


async def _grant_to_the_projector(sandpit: Sandpit, connection: asyncpg.Connection) -> None:
    """Validation's migration 0134 again, with the roles' names as this test's (it ran under the manifests' names,
    which this server has not: roles are the whole server's, and tests share it), as the migration runner runs it."""
    migration = next(m for m in migrations_in("validation.migrations") if m.name == PROJECTOR_GRANT)
    async with connection.transaction():
        await connection.execute("SET LOCAL search_path TO validation, public")
        await connection.execute(_as_here(migration.sql, sandpit.url.rsplit("/", 1)[1], sandpit.roles))


async def test_each_sandpit_service_migrates_as_its_own_role_and_reads_only_what_it_may(sandpit: Sandpit) -> None:
    # the portal first: whichever migrates `identity` first makes its tables, and every one must read them
    for name in ("portal", "ingest", "validation", "plr_projector", "notifier"):
        await _start(sandpit, name)

    await _each_reads_only_what_it_may(sandpit)


async def test_a_running_clusters_sandpit_moves_to_a_role_per_service(database: Sandpit) -> None:
    """Before: every Sandpit service logged in as lrs_sandpit, which owns every schema. The release note's
    statements give each schema and its contents to its service's role; the services then start as their own."""
    for name in ("ingest", "validation", "plr_projector", "notifier", "portal"):
        await _start(database, name, as_role="owner")
    await _make_roles(database, as_session_62s_step_3=True)
    admin = await asyncpg.connect(database.url)
    try:
        await admin.execute(_as_here(_upgrade_sql(), database.url.rsplit("/", 1)[1], database.roles))
        await admin.execute(_as_here(_identity_owner_sql(), database.url.rsplit("/", 1)[1], database.roles))
        left = await admin.fetchval(
            "SELECT count(*) FROM pg_class WHERE relowner = $1::regrole AND relnamespace <> 'pg_toast'::regnamespace",
            database.roles["lrs_sandpit"],
        )
    finally:
        await admin.close()
    assert left == 0, "every table, view and sequence has its service's owner"
    for name in ("portal", "ingest", "validation", "plr_projector", "notifier"):
        await _start(database, name)

    await _each_reads_only_what_it_may(database)


async def test_a_sandpit_made_with_the_projector_granted_every_function_keeps_it_learner_erased_alone(
    sandpit: Sandpit,
) -> None:
    """Session 62's first sandpit.sql (and deploy.md's step 4) gave the projector, by default privilege, every
    function validation makes, learner_registered among them (report "review2" finding 1). A Sandpit made so: its
    validation's migration 0134 takes that back and grants learner_erased alone."""
    admin = await asyncpg.connect(sandpit.url)
    try:
        await admin.execute(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {sandpit.roles['lrs_sandpit_validation']} IN SCHEMA validation"
            f" GRANT EXECUTE ON FUNCTIONS TO {sandpit.roles['lrs_sandpit_plr_projector']}"
        )
    finally:
        await admin.close()
    for name in ("portal", "ingest", "validation", "plr_projector", "notifier"):
        await _start(sandpit, name)

    await _each_reads_only_what_it_may(sandpit)


async def _each_reads_only_what_it_may(sandpit: Sandpit) -> None:
    # a SECURITY DEFINER function validation makes later, as learner_registered is: the projector may not call it
    validation = await asyncpg.connect(_as(sandpit, "validation"))
    try:
        await validation.execute(
            "CREATE FUNCTION validation.made_later() RETURNS boolean LANGUAGE sql SECURITY DEFINER AS 'SELECT true';"
            " REVOKE EXECUTE ON FUNCTION validation.made_later() FROM PUBLIC"
        )
    finally:
        await validation.close()
    admin = await asyncpg.connect(sandpit.url)
    try:
        owners = dict(
            await admin.fetch(
                "SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname !~ '^(pg_|information_schema)'"
                " AND nspname <> 'public'"
            )
        )
    finally:
        await admin.close()
    role = sandpit.roles
    assert owners == {
        "identity": role["lrs_sandpit_identity_owner"],
        "ingest": role["lrs_sandpit_ingest"],
        "ingest_parked": role["lrs_sandpit_ingest"],
        "validation": role["lrs_sandpit_validation"],
        "validation_parked": role["lrs_sandpit_validation"],
        "learner_keys": role["lrs_sandpit_validation"],
        "plr": role["lrs_sandpit_plr_projector"],
        "plr_ops": role["lrs_sandpit_plr_projector"],
        "notifier": role["lrs_sandpit_notifier"],
        "notifier_parked": role["lrs_sandpit_notifier"],
    }

    for name in SERVICES:
        connection = await asyncpg.connect(_as(sandpit, name))
        try:
            assert await connection.fetchval("SELECT count(*) FROM identity.credentials") >= 0, name
            # nor, but as the key store's tables' owner, may it drop their guard or them (report "review3" finding 1)
            if not await connection.fetchval(
                "SELECT pg_has_role(current_user, relowner, 'USAGE') FROM pg_class"
                " WHERE oid = 'identity.credentials'::regclass"
            ):
                for statement in (
                    "DROP FUNCTION identity.refuse_audit_change() CASCADE",
                    "DROP TABLE identity.key_changes",
                ):
                    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="must be owner of"):
                        await connection.execute(statement)
            if name == "validation":
                assert await connection.fetchval("SELECT count(*) FROM validation.learners") == 0
                continue
            with pytest.raises(asyncpg.InsufficientPrivilegeError):  # the live registry's clear copy
                await connection.fetchval("SELECT count(*) FROM validation.learners")
            if name == "plr_projector":
                assert await connection.fetchval("SELECT validation.learner_erased('not-a-uln')") is False
                # and no other function of validation's: learner_registered would say whether a ULN is in the copy
                for refused in ("learner_registered('not-a-uln')", "made_later()"):
                    with pytest.raises(asyncpg.InsufficientPrivilegeError):
                        await connection.fetchval(f"SELECT validation.{refused}")
            else:
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await connection.fetchval("SELECT validation.learner_erased('not-a-uln')")
            if name in ("ingest", "notifier"):
                assert await connection.fetchval("SELECT count(*) FROM learner_keys.keys") == 0
            else:
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await connection.fetchval("SELECT count(*) FROM learner_keys.keys")
            for other in ("ingest", "plr", "notifier"):
                if MIGRATIONS[name] and MIGRATIONS[name][0][0] == other:
                    continue
                table = await connection.fetchval(
                    "SELECT quote_ident(table_name) FROM information_schema.tables WHERE table_schema = $1 LIMIT 1",
                    other,
                )
                assert table is None, (name, other)  # it sees nothing of another service's schema
        finally:
            await connection.close()
