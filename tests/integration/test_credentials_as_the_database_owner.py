"""`lrs credentials` as docs/deploy.md runs it, as the database owner `lrs`, with the roles and grants of
deploy/k8s/base/postgres/roles.yaml: it makes a learner's key, refuses an erased learner's, and reads none of
validation's tables to tell them apart (decision 0184). A right the role lacks ends the command with what to do
instead, never a traceback."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg
import pytest
import yaml

from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_platform.credential_store import CredentialStore, IssuedKey
from lrs_platform.database import apply_migrations, create_pool
from lrs_platform.identity import Principal, PrincipalKind

pytestmark = pytest.mark.integration

ROLES = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "base" / "postgres" / "roles.yaml"
ERASED, KEPT = "1000000043", "1000000051"
ERASED_MEANWHILE = "1000000086"
RELEASE_NOTES_REVOCATION = (
    "UPDATE identity.credentials SET revoked_at = now() WHERE revoked_at IS NULL"
    " AND starts_with(principal, 'learner:') AND validation.learner_erased(substr(principal, 9))"
)


class Cluster(NamedTuple):
    """The database with the manifests' roles; each URL logs in as the role named."""

    owner_url: str  # `lrs`, the database's owner, as operators reach it
    validation_url: str
    superuser_url: str


def live_roles_sql(sql: str) -> str:
    """roles.sql's statements for live's database, without the Sandpit's (which need the database lrs_sandpit and its
    owner, which these tests' databases have not)."""
    return sql.split("-- The Sandpit (decision 0060)")[0]


def _roles_sql(database: str, prefix: str) -> str:
    """roles.sql for this database, its roles named with `prefix` (roles are the whole server's, and tests share it)."""
    sql = live_roles_sql(yaml.safe_load(ROLES.read_text(encoding="utf-8"))["data"]["roles.sql"])
    sql = re.sub(r"\bDATABASE lrs\b", f'DATABASE "{database}"', sql)
    return re.sub(r"\blrs(_[a-z_]+)?\b", lambda role: f"{prefix}{role.group(0)}", sql)


@pytest.fixture
async def cluster(fresh_database_url: str) -> Cluster:
    """As CloudNativePG makes it: the database owned by `lrs`, CONNECT revoked from PUBLIC (postInitSQL), then
    roles.sql; the service roles log in (spec.managed.roles). Validation migrates its schema, then ingest starts
    first and makes the key store's tables."""
    database = fresh_database_url.rsplit("/", 1)[1]
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    owner, validation, ingest = (f"{prefix}{role}" for role in ("lrs", "lrs_validation", "lrs_ingest"))
    admin = await asyncpg.connect(fresh_database_url)
    try:
        await admin.execute(f'CREATE ROLE {owner} LOGIN; ALTER DATABASE "{database}" OWNER TO {owner}')
        await admin.execute(f'REVOKE CONNECT ON DATABASE "{database}" FROM PUBLIC')
        await admin.execute(_roles_sql(database, prefix))
        await admin.execute(f"ALTER ROLE {validation} LOGIN; ALTER ROLE {ingest} LOGIN")
    finally:
        await admin.close()
    as_role = fresh_database_url.replace("://postgres@", "://{}@")
    connection = await asyncpg.connect(as_role.format(validation))
    try:
        await apply_migrations(connection, "validation", "validation.migrations")
        await connection.execute(
            "INSERT INTO validation.erasures VALUES (gen_random_uuid(), $1, 'operator:dpo', 'asked', now())", ERASED
        )
        # the learners keys are made for are registered: a ULN no learner is registered under gets none
        await connection.executemany(
            "INSERT INTO validation.learners (uln, given_name, family_name, ability_to_share) VALUES ($1, 'A', 'B', 1)",
            [(KEPT,), (ERASED_MEANWHILE,)],
        )
    finally:
        await connection.close()
    pool = await create_pool(as_role.format(ingest), max_size=1)
    try:
        await CredentialStore(pool).migrate()
    finally:
        await pool.close()
    return Cluster(as_role.format(owner), as_role.format(validation), fresh_database_url)


async def _learners_keys(cluster: Cluster) -> int:
    """How many keys were made for learners, revoked or not."""
    pool = await create_pool(cluster.superuser_url, max_size=1)
    try:
        return await CredentialStore(pool).count(PrincipalKind.LEARNER, include_revoked=True)
    finally:
        await pool.close()


async def _lrs(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_the_database_owner_makes_a_learners_key_and_none_for_an_erased_learner(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", cluster.owner_url)

    assert await _lrs("credentials", "create", "--principal", f"learner:{KEPT}") == ExitCode.OK
    assert await _lrs("credentials", "rotate", "--principal", f"learner:{KEPT}") == ExitCode.OK
    capsys.readouterr()
    for action in ("create", "rotate"):
        assert await _lrs("credentials", action, "--principal", f"learner:{ERASED}") == ExitCode.USAGE
        assert "was erased" in capsys.readouterr().err
    assert await _learners_keys(cluster) == 2  # the kept learner's, one revoked by the rotation


async def test_the_database_owner_reads_none_of_validations_tables(cluster: Cluster) -> None:
    connection = await asyncpg.connect(cluster.owner_url)
    try:
        assert await connection.fetchval("SELECT validation.learner_erased($1)", ERASED) is True
        for table in ("erasures", "learners"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.fetch(f"SELECT * FROM validation.{table}")
    finally:
        await connection.close()


async def test_a_right_the_role_lacks_is_said_with_what_to_run_instead(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    connection = await asyncpg.connect(cluster.validation_url)
    try:  # as a validation from before its migration 0126 leaves it
        await connection.execute(
            "DROP FUNCTION validation.learner_erased(text); REVOKE USAGE ON SCHEMA validation FROM pg_database_owner"
        )
    finally:
        await connection.close()
    monkeypatch.setenv("DATABASE_URL", cluster.owner_url)

    assert await _lrs("credentials", "create", "--principal", f"learner:{KEPT}") == ExitCode.FAILED

    said = capsys.readouterr().err
    assert "_lrs lacks a right this needs (permission denied for schema validation)" in said
    assert "validation.learner_erased" in said and "as the superuser" in said and "Traceback" not in said
    assert await _learners_keys(cluster) == 0


async def test_the_release_notes_statement_ends_erased_learners_keys_as_the_database_owner(cluster: Cluster) -> None:
    pool = await create_pool(cluster.superuser_url, max_size=1)
    try:  # keys made before erasures revoked them (docs/deploy.md, the release of 2026-12-05)
        store = CredentialStore(pool)
        erased = await store.issue(Principal.parse(f"learner:{ERASED}"))
        kept = await store.issue(Principal.parse(f"learner:{KEPT}"))
        connection = await asyncpg.connect(cluster.owner_url)
        try:
            await connection.execute(RELEASE_NOTES_REVOCATION)
        finally:
            await connection.close()
        assert [key.key_id for key in await store.listing(PrincipalKind.LEARNER)] == [kept.key_id]
        assert erased.key_id in {key.key_id for key in await store.listing(include_revoked=True)}
    finally:
        await pool.close()


async def test_a_learner_live_erased_is_refused_a_key_in_the_sandpit_whose_copy_keeps_no_audit_of_it(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Sandpit's copy of the live registry marks a learner live erased (`learners.erased_at`, as its follower
    copies `lrs.learner.erased.v1`) and keeps no erasure of its own."""
    erased_live = "1000000078"
    connection = await asyncpg.connect(cluster.validation_url)
    try:
        await connection.execute(
            "INSERT INTO validation.learners (uln, given_name, family_name, date_of_birth, gender, erased_at)"
            " VALUES ($1, NULL, NULL, NULL, NULL, now())",
            erased_live,
        )
    finally:
        await connection.close()
    monkeypatch.setenv("DATABASE_URL", cluster.owner_url)

    assert await _lrs("credentials", "create", "--principal", f"learner:{erased_live}") == ExitCode.USAGE
    assert "was erased" in capsys.readouterr().err


async def test_a_key_made_while_the_learner_is_erased_is_revoked_at_once(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The erasure commits between the CLI's question and the key's making, its revocations already done: the key
    is asked about again once made, and revoked."""
    erased_meanwhile = ERASED_MEANWHILE
    issue = CredentialStore.issue

    async def issued_as_the_erasure_commits(
        store: CredentialStore, principal: Principal, label: str | None = None, **options: Any
    ) -> IssuedKey:
        connection = await asyncpg.connect(cluster.validation_url)
        try:
            await connection.execute(
                "INSERT INTO validation.erasures VALUES (gen_random_uuid(), $1, 'operator:dpo', 'asked', now())",
                erased_meanwhile,
            )
        finally:
            await connection.close()
        return await issue(store, principal, label, **options)

    monkeypatch.setattr(CredentialStore, "issue", issued_as_the_erasure_commits)
    monkeypatch.setenv("DATABASE_URL", cluster.owner_url)

    assert await _lrs("credentials", "create", "--principal", f"learner:{erased_meanwhile}") == ExitCode.USAGE
    assert "was erased" in capsys.readouterr().err
    pool = await create_pool(cluster.superuser_url, max_size=1)
    try:
        live = await CredentialStore(pool).count(principal=Principal(PrincipalKind.LEARNER, erased_meanwhile))
    finally:
        await pool.close()
    assert live == 0
