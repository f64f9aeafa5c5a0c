"""The Sandpit's validation reads live's learner key store as `lrs_sandpit_keys` (deploy/k8s/base/postgres/roles.yaml),
granted as the manifests grant it: it finds the keys of the registrations live made, and may add nothing to live's
store, neither a key nor an erased learner's tombstone nor the store's fingerprint."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NamedTuple

import asyncpg
import pytest
import yaml
from tests.support.databases import unique_name

from lrs_platform.database import create_pool
from lrs_platform.keyring import Keyring, KeyringKey, LearnerKey, Purpose, migrate

pytestmark = pytest.mark.integration

ROLES = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "base" / "postgres" / "roles.yaml"
ULN = "9000000043"


def _sandpit_grants(database: str, owner: str, reader: str) -> list[str]:
    """The manifests' statements that grant `lrs_sandpit_keys` anything, for this database and these roles."""
    sql = yaml.safe_load(ROLES.read_text(encoding="utf-8"))["data"]["roles.sql"]
    code = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    statements = [" ".join(statement.split()) for statement in code.split(";") if statement.strip()]
    return [
        re.sub(r"\bDATABASE lrs\b", f'DATABASE "{database}"', statement)
        .replace("lrs_validation", owner)
        .replace("lrs_sandpit_keys", reader)
        for statement in statements
        if statement.startswith(("GRANT", "ALTER DEFAULT PRIVILEGES")) and statement.endswith("TO lrs_sandpit_keys")
    ]


class LiveStore(NamedTuple):
    live: asyncpg.Pool  # as validation, which owns the store
    sandpit: asyncpg.Pool  # as the Sandpit's validation reads it


@pytest.fixture
async def live_store(fresh_database_url: str) -> AsyncIterator[LiveStore]:
    database = fresh_database_url.rsplit("/", 1)[1]
    owner, reader = unique_name("validation"), unique_name("sandpit_keys")
    admin = await asyncpg.connect(fresh_database_url)
    try:
        await admin.execute(f'CREATE ROLE {owner} LOGIN; GRANT CREATE, CONNECT ON DATABASE "{database}" TO {owner}')
        await admin.execute(f"CREATE SCHEMA learner_keys AUTHORIZATION {owner}; CREATE ROLE {reader} LOGIN")
        await admin.execute(f'REVOKE CONNECT ON DATABASE "{database}" FROM PUBLIC')  # as on the cluster
        grants = _sandpit_grants(database, owner, reader)
        assert len(grants) == 3, grants
        for statement in grants:
            await admin.execute(statement)
    finally:
        await admin.close()
    as_role = fresh_database_url.replace("://postgres@", "://{}@")
    live = await create_pool(as_role.format(owner), max_size=2)
    sandpit = await create_pool(as_role.format(reader), max_size=2)
    try:
        await migrate(live)  # validation creates the store at its start, after the grants were made
        yield LiveStore(live, sandpit)
    finally:
        await sandpit.close()
        await live.close()


async def test_the_sandpit_finds_the_key_of_a_registration_live_made(live_store: LiveStore) -> None:
    key = KeyringKey.generate()
    issued = await Keyring(live_store.live, key).issue([ULN])

    found = await Keyring(live_store.sandpit, key).find([ULN, "9000000051"])

    assert found.keys() == {ULN}
    live_key, sandpit_key = issued[ULN], found[ULN]
    assert isinstance(live_key, LearnerKey) and isinstance(sandpit_key, LearnerKey)
    sealed = live_key.seal_text(Purpose.LEARNER_REGISTRATION, "sealed by live")
    assert sandpit_key.open_text(Purpose.LEARNER_REGISTRATION, sealed) == "sealed by live"


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO learner_keys.keys (learner_ref, wrapped_key) VALUES ('\\x01', '\\x02')",
        "INSERT INTO learner_keys.keys (learner_ref, wrapped_key, erased_at) VALUES ('\\x01', NULL, now())",
        "INSERT INTO learner_keys.keyring (fingerprint) VALUES ('\\x01')",
        "UPDATE learner_keys.keys SET wrapped_key = NULL, erased_at = now()",
    ],
    ids=["a key", "a tombstone", "a fingerprint", "an erasure"],
)
async def test_the_sandpit_adds_nothing_to_live_s_store(live_store: LiveStore, statement: str) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await live_store.sandpit.execute(statement)
