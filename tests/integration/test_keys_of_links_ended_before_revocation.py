"""The one-off operator step of the release in which ending a provider's registration link began revoking the ULN's
`learner:<ULN>` keys (decision 0121, later note of 2026-12-06): the links ended before it kept their keys, live and in
the Sandpit. The step, run as the superuser in psql (`kubectl cnpg psql lrs-db -- -d lrs`), reads each ULN whose link
ended, with when, from the events validation queued to announce it (`validation.learner_outbox` keeps a week of
them), revokes the keys of each made by then, live and in the Sandpit (`\\c lrs_sandpit`), recorded as revoked by the
step, and counts the ended links the outbox no longer holds (`plr.provider_links_ended`, which keeps no time). A key
made after the link ended (an operator's key for the register's learner) stays. Run here with the real `psql`
against a real PostgreSQL, as written for the operator but for the Sandpit's database name."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import asyncpg
import pytest
from tests.support.databases import create_database, prepare_validation_database, unique_name

from lrs_contracts.environments import Environment
from lrs_domain.reference import Learner
from lrs_platform.credential_store import CredentialStore, IssuedKey
from lrs_platform.database import apply_migrations, create_pool
from lrs_platform.identity import Principal, PrincipalKind
from lrs_platform.keyring import Keyring, KeyringKey
from validation.learner_registry import LearnerRegistry

pytestmark = pytest.mark.integration

REAL_ULN, SQUATTED, KEPT, OLDER = "1000000043", "7770000016", "5550005009", "9990000153"
SQUATTER = "10009998"
OPERATOR = "operator:ops"
BY = "release step of 2026-12-06: a provider registration link of the ULN ended before keys were revoked (0121)"

# As the operator runs it in psql (docs/deploy.md, the release of 2026-12-06's one-off step).
OPERATOR_STEP = (
    Path(__file__).resolve().parents[2] / "deploy" / "one-off" / "2026-12-06-learner-keys-of-ended-links.psql"
).read_text(encoding="utf-8")


def _psql() -> str:
    found = shutil.which("psql") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))), None)
    if found is None:
        pytest.skip("no psql here")
    return str(found)


def _run_the_step(live_url: str, sandpit_database: str) -> str:
    """The step, as the operator runs it, against `live_url`; the Sandpit's database is `sandpit_database` here."""
    step = OPERATOR_STEP.replace(r"\c lrs_sandpit", rf"\c {sandpit_database}")
    ran = subprocess.run(
        [_psql(), "-X", "-q", "-A", "-t", "-F", " ", live_url],
        input=step,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    return ran.stdout


@pytest.fixture
async def sandpit(database_url: str) -> AsyncIterator[tuple[asyncpg.Pool, str]]:
    """The Sandpit's database beside live's, with the Sandpit's API keys, and its name."""
    name = unique_name("sbx")
    pool = await create_pool(await create_database(database_url, name), max_size=2)
    try:
        await CredentialStore(pool, environment=Environment.SANDPIT).migrate()
        yield pool, name
    finally:
        await pool.close()


async def _as_before_this_release(pool: asyncpg.Pool, *keys: IssuedKey) -> None:
    """The keys as the release before left them: the link's end revoked nothing."""
    key_ids = [key.key_id for key in keys]
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SET LOCAL lrs.audit_maintenance = 'on'")  # as the tables' owner (decision 0200)
        await connection.execute(
            "UPDATE identity.credentials SET revoked_at = NULL WHERE key_id = ANY($1::text[])", key_ids
        )
        await connection.execute("DELETE FROM identity.key_changes WHERE key_id = ANY($1::text[])", key_ids)


async def _works(pool: asyncpg.Pool, key: IssuedKey, environment: Environment = Environment.LIVE) -> bool:
    return await CredentialStore(pool, environment=environment).authenticate(key.token) is not None


async def _revoked_by(store: CredentialStore, key: IssuedKey) -> str | None:
    [stored] = [each for each in await store.listing(include_revoked=True) if each.key_id == key.key_id]
    return stored.revoked_by


async def test_the_release_step_revokes_the_keys_made_before_a_link_ended_live_and_in_the_sandpit(
    pool: asyncpg.Pool, fresh_database_url: str, sandpit: tuple[asyncpg.Pool, str]
) -> None:
    sandpit_pool, sandpit_name = sandpit
    await prepare_validation_database(pool)
    async with pool.acquire() as connection:
        await apply_migrations(connection, "plr", "plr_projector.migrations")
    registry = LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))
    await registry.register_learners(
        [Learner(REAL_ULN, "Amelia", "Realperson", date(2004, 3, 2), 2, 1)], imported_by=OPERATOR
    )
    for uln, learner in ((SQUATTED, "Mallory"), (KEPT, "Willow")):
        assert await registry.register_learner(
            Learner(uln, learner, "Other", date(2005, 6, 6), 0, 1), registered_by_provider=SQUATTER
        )
    live, sandpit_store = CredentialStore(pool), CredentialStore(sandpit_pool, environment=Environment.SANDPIT)
    squatters = [await store.issue(Principal(PrincipalKind.LEARNER, SQUATTED)) for store in (live, sandpit_store)]
    kept = [await store.issue(Principal(PrincipalKind.LEARNER, KEPT)) for store in (live, sandpit_store)]

    # a learner file says whose SQUATTED is: its link ends (announced in the outbox), under the release before
    imported = await registry.register_learners(
        [Learner(SQUATTED, "Genuine", "Owner", date(2006, 8, 8), 2, 1)], imported_by=OPERATOR
    )
    assert imported.provider_links_ended == 1
    await _as_before_this_release(pool, squatters[0])
    assert await _works(pool, squatters[0])
    # an operator then made the register's learner keys; the projector kept the ended link, and one of a ULN whose
    # announcement the outbox no longer holds
    made_since = [await store.issue(Principal(PrincipalKind.LEARNER, SQUATTED)) for store in (live, sandpit_store)]
    await pool.execute(
        "INSERT INTO plr.provider_links_ended (uln, provider_ukprn) VALUES ($1, $2), ($3, $2)",
        SQUATTED,
        SQUATTER,
        OLDER,
    )

    said = _run_the_step(fresh_database_url, sandpit_name).split()

    # ULNs whose links ended, ended links the outbox no longer holds, live keys revoked, Sandpit keys revoked
    assert said == ["1", "1", "1", "1"]
    assert not await _works(pool, squatters[0])
    assert not await _works(sandpit_pool, squatters[1], Environment.SANDPIT)
    assert await _revoked_by(live, squatters[0]) == BY
    assert await _revoked_by(sandpit_store, squatters[1]) == BY
    assert await _works(pool, made_since[0]) and await _works(sandpit_pool, made_since[1], Environment.SANDPIT)
    assert await _works(pool, kept[0]) and await _works(sandpit_pool, kept[1], Environment.SANDPIT)
    # run again: nothing more
    assert _run_the_step(fresh_database_url, sandpit_name).split() == ["1", "1", "0", "0"]
