"""Who made, rotated and revoked an API key with `lrs credentials` is kept in the key store (`identity.key_changes`,
identity migration 0002) and shown by `lrs credentials list`; also when the CLI runs as the database owner `lrs`
and a service made the key store's tables, as on Kubernetes (deploy/k8s/base/postgres/roles.yaml)."""

from __future__ import annotations

import asyncio
import getpass
import json
import re
import socket

import asyncpg
import pytest
from tests.integration.credential_stores import credential_store  # noqa: F401 - the tests' `store` fixture
from tests.integration.test_credentials_as_the_database_owner import Cluster, cluster  # noqa: F401

from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_platform.credential_store import CredentialStore
from lrs_platform.database import create_pool
from lrs_platform.identity import Principal

pytestmark = pytest.mark.integration

HERE = f"{getpass.getuser()}@{socket.gethostname()}"


async def test_the_store_keeps_who_made_rotated_and_revoked_each_key(store: CredentialStore) -> None:
    ao = Principal.parse("ao:RN5133")
    first = await store.issue(ao, "results system", by="operator:maker")
    unsaid = await store.issue(ao, "no one said")
    second = await store.rotate(ao, by="operator:rotator")
    assert await store.revoke_principal(ao, by="operator:revoker") == 1

    keys = {key.key_id: key for key in await store.listing(include_revoked=True)}
    assert (keys[first.key_id].created_by, keys[first.key_id].revoked_by) == ("operator:maker", "operator:rotator")
    assert (keys[unsaid.key_id].created_by, keys[unsaid.key_id].revoked_by) == (None, "operator:rotator")
    assert (keys[second.key_id].created_by, keys[second.key_id].revoked_by) == ("operator:rotator", "operator:revoker")
    third = await store.issue(ao, by="operator:maker")
    assert await store.revoke(third.key_id, by="operator:revoker") == 1
    assert await store.revoke(third.key_id, by="operator:late") == 0  # revoked already: its revoker stays
    (listed,) = [key for key in await store.listing(include_revoked=True) if key.key_id == third.key_id]
    assert listed.revoked_by == "operator:revoker"


async def _lrs(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def _listed(capsys: pytest.CaptureFixture[str], principal: str) -> list[dict[str, object]]:
    capsys.readouterr()
    assert await _lrs("credentials", "list", "--principal", principal, "--revoked", "--json") == ExitCode.OK
    listed: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return listed


async def _made_rotated_and_revoked(capsys: pytest.CaptureFixture[str]) -> None:
    principal = "operator:oncall"
    assert await _lrs("credentials", "create", "--principal", principal, "--scope", "rebuild") == ExitCode.OK
    assert await _lrs("credentials", "rotate", "--principal", principal) == ExitCode.OK
    assert await _lrs("credentials", "revoke", "--principal", principal) == ExitCode.OK

    rotated, made = await _listed(capsys, principal)  # newest first
    assert (made["created_by"], made["revoked_by"]) == (
        f"{HERE}, lrs credentials create",
        f"{HERE}, lrs credentials rotate",
    )
    assert (rotated["created_by"], rotated["revoked_by"]) == (
        f"{HERE}, lrs credentials rotate",
        f"{HERE}, lrs credentials revoke",
    )
    assert await _lrs("credentials", "list", "--principal", principal, "--revoked") == ExitCode.OK
    table = capsys.readouterr().out.splitlines()
    # the newest key's row, under the table's heading (in a full run a line once came before the heading: said whole)
    heading = next((at for at, line in enumerate(table) if line.startswith("key id")), None)
    assert heading is not None and table[heading + 1].endswith(f"revoked by {HERE}, lrs credentials revoke"), table


async def test_lrs_credentials_keeps_and_lists_who_made_rotated_and_revoked_a_key(
    store: CredentialStore, fresh_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", fresh_database_url)
    await _made_rotated_and_revoked(capsys)


async def test_the_database_owner_keeps_who_did_it_in_a_key_store_a_service_made(
    cluster: Cluster,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", cluster.owner_url)
    await _made_rotated_and_revoked(capsys)


async def test_a_key_store_the_database_owner_migrated_first_is_read_by_the_services(
    cluster: Cluster,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An upgrade where `lrs credentials` runs before any service has migrated the key store: the owner `lrs` makes
    `key_changes`, which no default privilege grants the services; the migration grants it the schema's owner."""
    superuser = await create_pool(cluster.superuser_url, max_size=1)
    try:  # the key store as the release before left it, `identity` then the services' group role's (before session 63)
        services = cluster.validation_url.split("://", 1)[1].split("@", 1)[0].replace("lrs_validation", "lrs_services")
        await superuser.execute(
            "DROP TABLE identity.key_changes; DELETE FROM identity.schema_migrations WHERE version = 2;"
            f" REVOKE ALL ON SCHEMA identity FROM {services}; ALTER SCHEMA identity OWNER TO {services}"
        )
    finally:
        await superuser.close()
    monkeypatch.setenv("DATABASE_URL", cluster.owner_url)
    assert await _lrs("credentials", "create", "--principal", "operator:oncall", "--scope", "rebuild") == ExitCode.OK

    service = await create_pool(cluster.validation_url, max_size=1)
    try:
        (key,) = await CredentialStore(service).listing(include_revoked=True)
        assert key.created_by == f"{HERE}, lrs credentials create"
        assert await CredentialStore(service).revoke(key.key_id, by="operator:dpo") == 1
    finally:
        await service.close()


async def test_a_key_store_whose_tables_two_roles_made_says_the_superusers_step_that_lets_it_migrate(
    cluster: Cluster,  # noqa: F811
) -> None:
    """The same upgrade, met by the release of identity 0003 (report "review5" finding 2): `key_changes` the database
    owner's, `credentials` ingest's. No role owns both, so none can make 0003's triggers: each is refused with both
    owners and the superuser's step, after which the owner of `credentials` migrates and then every other role."""
    services = cluster.validation_url.split("://", 1)[1].split("@", 1)[0].replace("lrs_validation", "lrs_services")
    ingest_url = cluster.validation_url.replace("lrs_validation@", "lrs_ingest@")
    superuser = await asyncpg.connect(cluster.superuser_url)
    try:  # the key store as the release before 0002 left it, `identity` then the services' group role's
        await superuser.execute(
            "DROP FUNCTION identity.refuse_audit_change() CASCADE; DROP TABLE identity.key_changes;"
            " DELETE FROM identity.schema_migrations WHERE version >= 2;"
            f" REVOKE ALL ON SCHEMA identity FROM {services}; ALTER SCHEMA identity OWNER TO {services}"
        )
    finally:
        await superuser.close()
    refusals = []
    for url in (cluster.owner_url, ingest_url, cluster.validation_url):
        pool = await create_pool(url, max_size=1)
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError) as refused:
                await CredentialStore(pool).migrate()
            refusals.append(str(refused.value))
        finally:
            await pool.close()
    owner, ingest = (url.split("://", 1)[1].split("@", 1)[0] for url in (cluster.owner_url, ingest_url))
    for said in refusals:
        assert f"identity.credentials (role {ingest}) and identity.key_changes (role {owner})" in said, said
    step = re.search(r'as the superuser, run "([^"]+)"', refusals[0])
    assert step and step.group(1) == f"ALTER TABLE identity.key_changes OWNER TO {ingest}", refusals[0]

    superuser = await asyncpg.connect(cluster.superuser_url)
    try:
        await superuser.execute(step.group(1))
    finally:
        await superuser.close()
    for url in (ingest_url, cluster.validation_url, cluster.owner_url):  # the tables' owner first
        pool = await create_pool(url, max_size=1)
        try:
            await CredentialStore(pool).migrate()
        finally:
            await pool.close()
    service = await create_pool(cluster.validation_url, max_size=1)
    try:  # the key store works for every role, and is guarded
        store = CredentialStore(service)
        key = await store.issue(Principal.parse("ao:RN5133"), by="operator:maker")
        assert await store.revoke(key.key_id, by="operator:revoker") == 1
        with pytest.raises(asyncpg.RestrictViolationError, match=re.escape("identity.credentials is an audit record")):
            await service.execute("UPDATE identity.credentials SET revoked_at = NULL")
        assert await service.fetchval("SELECT count(*) FROM identity.schema_migrations WHERE version >= 3") == 2
    finally:
        await service.close()
