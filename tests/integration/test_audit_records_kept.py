"""The audit records are kept as they were written, whatever the grants (decision 0200; regulator walk, findings 2
and 3): each owning service's migration attaches a trigger to its audit tables that refuses an UPDATE or DELETE of a
row, and a TRUNCATE, but for the changes the services themselves make (a key revoked, an erased learner's free text
emptied, a maintenance window cancelled, a pause resumed, a decision on a parked event replaced by a later one). The
schema's owner may repair by hand with `lrs.audit_maintenance` set to 'on'; a service role that does not own the
table may not, as the Kubernetes roles (deploy/k8s/base/postgres/roles.yaml) let every one write in `identity`."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
from tests.integration.test_credentials_as_the_database_owner import Cluster, cluster  # noqa: F401

from ingest.maintenance import MaintenanceStore
from lrs_contracts.envelope import utc_now
from lrs_platform import parking
from lrs_platform.credential_store import CredentialStore, revoke_principal_in
from lrs_platform.database import apply_migrations, create_pool
from lrs_platform.identity import Principal
from lrs_platform.keyring import migrate as migrate_keyring
from plr_projector.projection import OperatorAction
from plr_projector.store import (
    LIVE_SCHEMA,
    OPS_SCHEMA,
    ProjectorDeadLetterAction,
    erase_replaced_free_text,
    record_dead_letter_action,
    record_operator_action,
)

pytestmark = pytest.mark.integration

PARKED = "ingest_parked"
DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
ULN = "1000000043"


@pytest.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """Every schema with audit tables, made by its service's migrations as the service makes it at its start."""
    pool = await create_pool(fresh_database_url, max_size=2)
    try:
        await migrate_keyring(pool)
        await CredentialStore(pool).migrate()
        async with pool.acquire() as connection:
            for schema, package in (
                ("validation", "validation.migrations"),
                ("portal", "portal.migrations"),
                ("ingest", "ingest.migrations"),
                (LIVE_SCHEMA, "plr_projector.migrations"),
                (OPS_SCHEMA, "plr_projector.ops_migrations"),
                (PARKED, "lrs_platform.parking_migrations"),
            ):
                await apply_migrations(connection, schema, package)
        yield pool
    finally:
        await pool.close()


def _action(**fields: object) -> ProjectorDeadLetterAction:
    values: dict[str, object] = {
        "action": "skip",
        "operator": "operator:oncall",
        "reason": "poison",
        "replaced": False,
        "consumer": "plr-projector",
        "topic": "lrs.plr.events.v1",
        "partition": 0,
        "offset": 7,
        "event_id": None,
        "event_type": None,
        "applied": 0,
        "skipped": 1,
        "still_parked": 0,
    }
    return ProjectorDeadLetterAction(**{**values, **fields})  # type: ignore[arg-type]


async def _one_row_each(pool: asyncpg.Pool) -> None:
    """A row in each audit table, written as its service writes it."""
    store = CredentialStore(pool)
    async with pool.acquire() as connection, connection.transaction():
        await store.issue(Principal.parse("ao:RN5133"), "results system", connection=connection, by="operator:maker")
    await pool.execute(
        "INSERT INTO validation.erasures (erasure_id, uln, erased_by, reason, erased_at)"
        " VALUES ($1, $2, 'operator:dpo', 'asked', now())",
        uuid.uuid4(),
        ULN,
    )
    await pool.execute("INSERT INTO validation.reference_loads (what, rows) VALUES ('catalogue', 3)")
    await pool.execute(
        "INSERT INTO portal.account_changes (changed_by, subject, change, detail)"
        " VALUES ('operator:admin', 'sam', 'created', '')"
    )
    maintenance = MaintenanceStore(pool)
    now = utc_now()
    await maintenance.add_window(now + timedelta(hours=2), now + timedelta(hours=3), "upgrade", "operator:oncall")
    await maintenance.pause("incident", "operator:oncall")
    async with pool.acquire() as connection, connection.transaction():
        await record_operator_action(connection, ("lrs.plr.events.v1", 0, 7), OperatorAction("skip"), "op", "why")
        await record_dead_letter_action(connection, _action(batch_id=str(uuid.uuid4())))
    await parking.record_dead_letter_action(pool, PARKED, _action(consumer="ingest"))


AUDIT_TABLES = {
    "identity.key_changes": "changed_by = 'someone-else'",
    "identity.credentials": "principal = 'ao:RN9999'",
    "validation.erasures": "erased_by = 'operator:nobody', reason = 'x'",
    "validation.reference_loads": "rows = 0",
    "portal.account_changes": "changed_by = 'operator:nobody'",
    "ingest.maintenance_windows": "scheduled_by = 'x'",
    "ingest.maintenance_pauses": "paused_by = 'x'",
    f"{OPS_SCHEMA}.operator_actions": "operator = 'x'",
    f"{OPS_SCHEMA}.dead_letter_actions": "operator = 'x'",
    f"{PARKED}.dead_letter_actions": "operator = 'x'",
}


@pytest.mark.parametrize("table", sorted(AUDIT_TABLES))
async def test_an_audit_row_is_neither_rewritten_nor_deleted(pool: asyncpg.Pool, table: str) -> None:
    await _one_row_each(pool)
    said = f"{table} is an audit record"
    with pytest.raises(asyncpg.RestrictViolationError, match=re.escape(f"{said}: UPDATE refused")):
        await pool.execute(f"UPDATE {table} SET {AUDIT_TABLES[table]}")
    with pytest.raises(asyncpg.RestrictViolationError, match=re.escape(f"{said}: DELETE refused")):
        await pool.execute(f"DELETE FROM {table}")
    with pytest.raises(asyncpg.RestrictViolationError, match=re.escape(f"{said}: TRUNCATE refused")):
        await pool.execute(f"TRUNCATE {table} CASCADE")
    assert await pool.fetchval(f"SELECT count(*) FROM {table}") == 1


async def test_a_key_is_only_revoked_and_its_label_only_emptied(pool: asyncpg.Pool) -> None:
    store = CredentialStore(pool)
    ao, learner = Principal.parse("ao:RN5133"), Principal.parse(f"learner:{ULN}")
    first = await store.issue(ao, "results system", by="operator:maker")
    await store.rotate(ao, by="operator:rotator")  # revokes the first
    mine = await store.issue(learner, "Sam's phone")
    backdated = await store.issue(ao)
    with pytest.raises(asyncpg.RestrictViolationError, match=re.escape("identity.credentials is an audit record")):
        await pool.execute(
            "UPDATE identity.credentials SET revoked_at = now() - interval '30 days' WHERE key_id = $1",
            backdated.key_id,
        )
    async with pool.acquire() as connection, connection.transaction():  # as a learner's erasure does
        assert await revoke_principal_in(connection, learner, by="erasure", erased=True) == 1
    assert await pool.fetchval("SELECT label FROM identity.credentials WHERE key_id = $1", mine.key_id) is None

    for change in (
        "revoked_at = NULL",
        "revoked_at = revoked_at - interval '30 days'",
        "revoked_at = now()",
        "principal = 'ao:RN9999'",
        "scopes = array_append(scopes, 'admin')",
        "secret_hash = 'x'",
        "created_at = now()",
        "label = 'another'",
        "label = NULL",  # only a learner's, at their erasure (report "review5" finding 5)
    ):
        with pytest.raises(asyncpg.RestrictViolationError, match=re.escape("identity.credentials is an audit record")):
            await pool.execute(f"UPDATE identity.credentials SET {change} WHERE key_id = $1", first.key_id)
    assert await pool.fetchval(
        "SELECT revoked_at IS NOT NULL FROM identity.credentials WHERE key_id = $1", first.key_id
    )


async def test_the_owner_repairs_by_hand_only_when_it_says_so(pool: asyncpg.Pool) -> None:
    await _one_row_each(pool)
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SET LOCAL lrs.audit_maintenance = 'on'")
        assert await connection.execute("DELETE FROM validation.erasures") == "DELETE 1"
        await connection.execute(f"TRUNCATE {PARKED}.dead_letter_actions")
    with pytest.raises(asyncpg.RestrictViolationError):  # the setting lasted only for that transaction
        await pool.execute("DELETE FROM portal.account_changes")


async def test_a_later_decision_replaces_the_earlier_and_an_erasure_empties_its_copy(pool: asyncpg.Pool) -> None:
    position = ("lrs.plr.events.v1", 0, 9)
    event = {"data": {"event_type": "lrs.centre.achievement.reported.v1", "uln": ULN, "subject": "Sam", "grade": "P"}}
    async with pool.acquire() as connection, connection.transaction():
        await record_operator_action(connection, position, OperatorAction("skip"), "operator:first", "first")
    async with pool.acquire() as connection, connection.transaction():
        replacement = OperatorAction("replace", json.dumps(event).encode())
        await record_operator_action(connection, position, replacement, "operator:second", "second")
    async with pool.acquire() as connection, connection.transaction():
        assert await erase_replaced_free_text(connection, [ULN]) == 1
    row = await pool.fetchrow(f"SELECT operator, replacement FROM {OPS_SCHEMA}.operator_actions")
    assert row["operator"] == "operator:second"
    assert json.loads(row["replacement"])["data"] == {**event["data"], "subject": None}

    other = json.dumps({"data": {**event["data"], "subject": None, "grade": "D"}}).encode()
    with pytest.raises(
        asyncpg.RestrictViolationError, match=re.escape("operator_actions is an audit record: UPDATE refused")
    ):
        await pool.execute(f"UPDATE {OPS_SCHEMA}.operator_actions SET replacement = $1", other)


async def test_an_action_on_a_parked_plr_event_is_never_tied_to_a_batch_afterwards(pool: asyncpg.Pool) -> None:
    """Its batch is written with it (report "review5" finding 6): an old skip is not later laid at any batch's door."""
    async with pool.acquire() as connection, connection.transaction():
        await record_dead_letter_action(connection, _action())
    with pytest.raises(
        asyncpg.RestrictViolationError, match=re.escape("dead_letter_actions is an audit record: UPDATE refused")
    ):
        await pool.execute(f"UPDATE {OPS_SCHEMA}.dead_letter_actions SET batch_id = gen_random_uuid()")
    assert await pool.fetchval(f"SELECT batch_id FROM {OPS_SCHEMA}.dead_letter_actions") is None


async def test_a_window_is_cancelled_and_a_pause_resumed_once(pool: asyncpg.Pool) -> None:
    maintenance = MaintenanceStore(pool)
    now = utc_now()
    window, _ = await maintenance.add_window(now + timedelta(hours=2), now + timedelta(hours=3), "upgrade", "op:a")
    await maintenance.pause("incident", "operator:a")
    for table, change in (  # an end at another time than its own, or by no one (report "review5" finding 6)
        ("ingest.maintenance_windows", "cancelled_by = 'operator:c', cancelled_at = now() - interval '1 day'"),
        ("ingest.maintenance_windows", "cancelled_by = 'operator:c', cancelled_at = now() + interval '1 hour'"),
        ("ingest.maintenance_windows", "cancelled_at = now()"),
        ("ingest.maintenance_pauses", "resumed_by = 'operator:c', resumed_at = now() - interval '1 day'"),
        ("ingest.maintenance_pauses", "resumed_at = now()"),
    ):
        with pytest.raises(asyncpg.RestrictViolationError, match=re.escape(f"{table} is an audit record")):
            await pool.execute(f"UPDATE {table} SET {change}")
    await maintenance.cancel_window(window.window.window_id, "operator:b")
    await maintenance.resume("operator:b")

    for table, change in (
        ("ingest.maintenance_windows", "cancelled_by = 'operator:c'"),
        ("ingest.maintenance_windows", "cancelled_at = NULL, cancelled_by = NULL"),
        ("ingest.maintenance_windows", "starts_at = starts_at - interval '1 hour'"),
        ("ingest.maintenance_pauses", "resumed_by = 'operator:c'"),
    ):
        with pytest.raises(asyncpg.RestrictViolationError, match=re.escape(f"{table} is an audit record")):
            await pool.execute(f"UPDATE {table} SET {change}")


async def test_a_service_role_that_does_not_own_the_key_store_cannot_unrevoke_a_key(
    cluster: Cluster,  # noqa: F811 - the fixture imported
) -> None:
    """As on Kubernetes: ingest made the key store's tables; validation's role may write in `identity` but owns
    neither table, and the setting for repairs by hand does not free it. Nor does it own the schema, whose owner may
    drop anything in it: it may drop neither the triggers' function (which takes the triggers with it) nor a table
    to make it again unguarded (report "review3" finding 1)."""
    owner = await create_pool(cluster.superuser_url, max_size=1)
    try:
        store = CredentialStore(owner)
        ao = Principal.parse("ao:RN5133")
        async with owner.acquire() as connection, connection.transaction():
            key = await store.issue(ao, connection=connection, by="operator:maker")
        assert await store.revoke(key.key_id, by="operator:revoker") == 1
    finally:
        await owner.close()
    connection = await asyncpg.connect(cluster.validation_url)
    try:
        for statement in (
            "UPDATE identity.credentials SET revoked_at = NULL",
            "DELETE FROM identity.key_changes WHERE change = 'revoked'",
        ):
            async with connection.transaction():
                await connection.execute("SET LOCAL lrs.audit_maintenance = 'on'")
                with pytest.raises(asyncpg.RestrictViolationError):  # it has the grant: the trigger refuses
                    await connection.execute(statement)
        for statement in (
            "DROP FUNCTION identity.refuse_audit_change() CASCADE",
            "DROP TABLE identity.key_changes",
            "DROP TABLE identity.credentials",
        ):
            async with connection.transaction():
                with pytest.raises(asyncpg.InsufficientPrivilegeError, match="must be owner of"):
                    await connection.execute(statement)
        with pytest.raises(asyncpg.RestrictViolationError):  # the guard is still there
            await connection.execute("UPDATE identity.credentials SET revoked_at = NULL")
        assert await connection.fetchval(
            "SELECT revoked_at IS NOT NULL FROM identity.credentials WHERE key_id = $1", key.key_id
        )
    finally:
        await connection.close()


SHADOWS = ("a temporary pg_class", "a pg_has_role searched first")


async def _shadow_the_catalog(connection: asyncpg.Connection, shadow: str, tables: Sequence[str]) -> None:
    """What a role that owns none of `tables` may try, to pass for their owner in the triggers' check (report
    "review5" finding 1): a temporary `pg_class` saying it owns them (PUBLIC may make temporary tables), or a schema of
    its own (CREATE on the database) whose `pg_has_role` says yes, put before pg_catalog in its search_path."""
    if shadow == SHADOWS[0]:
        await connection.execute("CREATE TEMP TABLE pg_class (oid oid, relowner oid)")
        await connection.executemany(
            "INSERT INTO pg_temp.pg_class VALUES ($1::text::regclass, current_user::text::regrole)",
            [(table,) for table in tables],
        )
    else:
        schema = f"shadow_{uuid.uuid4().hex[:8]}"
        await connection.execute(
            f"CREATE SCHEMA {schema}; CREATE FUNCTION {schema}.pg_has_role(name, oid, text) RETURNS boolean"
            " LANGUAGE sql AS 'SELECT true'"
        )
        await connection.execute(f"SET search_path = {schema}, pg_catalog")


async def _refused_with_the_catalog_shadowed(connection: asyncpg.Connection, statements: Sequence[str]) -> None:
    for statement in statements:
        async with connection.transaction():
            await connection.execute("SET LOCAL lrs.audit_maintenance = 'on'")
            with pytest.raises(asyncpg.RestrictViolationError, match="is an audit record"):
                await connection.execute(statement)


@pytest.mark.parametrize("shadow", SHADOWS)
async def test_a_service_role_cannot_pass_for_the_key_stores_owner_by_shadowing_the_catalog(
    cluster: Cluster,  # noqa: F811 - the fixture imported
    shadow: str,
) -> None:
    """As on Kubernetes: validation's role may write in `identity`, owns neither table, and tries to pass for their
    owner so that the setting for repairs by hand frees it. The triggers' function reads the catalog, whatever the
    caller's search_path (identity migration 0004)."""
    owner = await create_pool(cluster.superuser_url, max_size=1)
    try:
        store = CredentialStore(owner)
        key = await store.issue(Principal.parse("ao:RN5133"), label="results system", by="operator:maker")
        assert await store.revoke(key.key_id, by="operator:revoker") == 1
    finally:
        await owner.close()
    connection = await asyncpg.connect(cluster.validation_url)
    try:
        await _shadow_the_catalog(connection, shadow, ("identity.credentials", "identity.key_changes"))
        await _refused_with_the_catalog_shadowed(
            connection,
            (
                "UPDATE identity.credentials SET revoked_at = NULL",
                "UPDATE identity.credentials SET label = NULL",
                "DELETE FROM identity.credentials",
                "DELETE FROM identity.key_changes WHERE change = 'revoked'",
            ),
        )
        assert await connection.fetchval(
            "SELECT revoked_at IS NOT NULL AND label IS NOT NULL FROM identity.credentials WHERE key_id = $1",
            key.key_id,
        )
        assert await connection.fetchval("SELECT count(*) FROM identity.key_changes") == 2
    finally:
        await connection.close()


@pytest.mark.parametrize("shadow", SHADOWS)
async def test_no_role_granted_an_audit_table_passes_for_its_owner_by_shadowing_the_catalog(
    pool: asyncpg.Pool, fresh_database_url: str, shadow: str
) -> None:
    """Every schema's triggers' function, as a role that was granted UPDATE and DELETE on each audit table (as
    Kubernetes grants `identity`'s to every service) but owns none."""
    await _one_row_each(pool)
    role = f"t{uuid.uuid4().hex[:8]}_granted"
    database = fresh_database_url.rsplit("/", 1)[1]
    await pool.execute(f'CREATE ROLE {role} LOGIN; GRANT CREATE ON DATABASE "{database}" TO {role}')
    for table in AUDIT_TABLES:
        await pool.execute(
            f"GRANT USAGE ON SCHEMA {table.split('.')[0]} TO {role}; GRANT SELECT, UPDATE, DELETE ON {table} TO {role}"
        )
    connection = await asyncpg.connect(fresh_database_url.replace("://postgres@", f"://{role}@"))
    try:
        await _shadow_the_catalog(connection, shadow, sorted(AUDIT_TABLES))
        for table, change in sorted(AUDIT_TABLES.items()):
            await _refused_with_the_catalog_shadowed(
                connection, (f"UPDATE {table} SET {change}", f"DELETE FROM {table}")
            )
            assert await connection.fetchval(f"SELECT count(*) FROM {table}") == 1
    finally:
        await connection.close()
        await pool.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")


async def test_the_release_notes_superuser_step_takes_identity_from_the_services_and_leaves_them_their_use(
    cluster: Cluster,  # noqa: F811 - the fixture imported
) -> None:
    """A cluster made before session 63, where `identity` was the services' group role's: docs/deploy.md's superuser
    command for `lrs` (as the page has it) gives the schema to an owner no service inherits, and the services keep
    writing, reading and making tables in it, but no longer drop what they do not own."""
    note = DEPLOY.read_text(encoding="utf-8").split("**The release of session 63's fixes**", 1)[1]
    command = re.search(r'`kubectl cnpg psql lrs-db -- -d lrs -c "(CREATE ROLE [^"]*)"`', note)
    assert command, "deploy.md: no superuser command for identity in session 63's release note"
    prefix = re.fullmatch(r"postgresql://(\w+)lrs_validation@.*", cluster.validation_url)
    assert prefix, cluster.validation_url
    as_here = re.sub(r"\blrs(_[a-z_]+)?\b", lambda role: f"{prefix.group(1)}{role.group(0)}", command.group(1))
    services, owner = f"{prefix.group(1)}lrs_services", f"{prefix.group(1)}lrs_identity_owner"
    admin = await asyncpg.connect(cluster.superuser_url)
    try:  # as roles.sql made it before: the schema the services' group role's, no owner of its own
        await admin.execute(
            f"REVOKE ALL ON SCHEMA identity FROM {services}; ALTER SCHEMA identity OWNER TO {services};"
            f" DROP OWNED BY {owner}; DROP ROLE {owner}"  # its grant on key_changes (identity 0002's)
        )
        await admin.execute(as_here)
        assert (
            await admin.fetchval("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'identity'")
            == owner
        )
    finally:
        await admin.close()
    ingest = await create_pool(cluster.validation_url.replace("lrs_validation@", "lrs_ingest@"), max_size=1)
    try:  # the tables' owner issues and revokes as before
        store = CredentialStore(ingest)
        key = await store.issue(Principal.parse("ao:RN5133"), by="operator:maker")
        assert await store.revoke(key.key_id, by="operator:revoker") == 1
    finally:
        await ingest.close()
    connection = await asyncpg.connect(cluster.validation_url)
    try:
        assert await connection.fetchval("SELECT count(*) FROM identity.key_changes") == 2
        await connection.execute("CREATE TABLE identity.made_later (id int); DROP TABLE identity.made_later")
        for statement in ("DROP FUNCTION identity.refuse_audit_change() CASCADE", "DROP TABLE identity.credentials"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="must be owner of"):
                await connection.execute(statement)
    finally:
        await connection.close()


async def test_the_key_stores_migration_says_who_must_run_it(cluster: Cluster) -> None:  # noqa: F811
    """Triggers are made by the tables' owner: a service whose role does not own them stops at the migration, saying
    which role must run it, rather than leave the key store unguarded."""
    admin = await asyncpg.connect(cluster.superuser_url)
    try:  # the key store as the release before this one left it
        await admin.execute(
            "DROP FUNCTION identity.refuse_audit_change() CASCADE; DELETE FROM identity.schema_migrations WHERE version = 3"
        )
    finally:
        await admin.close()
    pool = await create_pool(cluster.validation_url, max_size=1)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match=re.escape("must be run by the owner of identity")):
            await CredentialStore(pool).migrate()
    finally:
        await pool.close()


async def test_the_key_stores_search_path_migration_says_who_must_run_it(cluster: Cluster) -> None:  # noqa: F811
    """Identity migration 0004 replaces the triggers' function, which only its owner may: another service's role
    stops at it, saying which role must run it; the owner's then runs it, and the function reads pg_catalog first."""
    admin = await asyncpg.connect(cluster.superuser_url)
    try:  # the key store as the release before this one left it
        await admin.execute(
            "ALTER FUNCTION identity.refuse_audit_change() RESET search_path;"
            " DELETE FROM identity.schema_migrations WHERE version = 4"
        )
    finally:
        await admin.close()
    ingest_url = cluster.validation_url.replace("lrs_validation@", "lrs_ingest@")
    ingest = ingest_url.split("://", 1)[1].split("@", 1)[0]
    pool = await create_pool(cluster.validation_url, max_size=1)
    try:
        with pytest.raises(
            asyncpg.InsufficientPrivilegeError,
            match=re.escape(
                f"identity migration 0004 must be run by the owner of identity.refuse_audit_change() (role {ingest})"
            ),
        ):
            await CredentialStore(pool).migrate()
    finally:
        await pool.close()
    for url in (ingest_url, cluster.validation_url):
        pool = await create_pool(url, max_size=1)
        try:
            await CredentialStore(pool).migrate()
        finally:
            await pool.close()
    admin = await asyncpg.connect(cluster.superuser_url)
    try:
        assert await admin.fetchval(
            "SELECT proconfig FROM pg_proc WHERE oid = 'identity.refuse_audit_change()'::regprocedure"
        ) == ["search_path=pg_catalog, pg_temp"]
    finally:
        await admin.close()
