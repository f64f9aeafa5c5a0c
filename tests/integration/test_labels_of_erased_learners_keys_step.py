"""The release of 2026-12-06's one-off step for learners erased before it: the labels of their API keys (free text an
operator wrote, which may name them) are emptied, live and in the Sandpit, as an erasure from that release empties
them; another learner's labels stay. Run with the real `psql` against a real PostgreSQL, as written for the operator
but for the Sandpit's database name (`deploy/one-off/2026-12-06-labels-of-erased-learners-keys.psql`)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from tests.support.databases import create_database, prepare_validation_database, unique_name

from lrs_contracts.environments import Environment
from lrs_platform.credential_store import CredentialStore, IssuedKey
from lrs_platform.database import create_pool
from lrs_platform.identity import Principal, PrincipalKind

pytestmark = pytest.mark.integration

ERASED, KEPT = "1000000043", "5550005009"
STEP = Path(__file__).resolve().parents[2] / "deploy" / "one-off" / "2026-12-06-labels-of-erased-learners-keys.psql"


def _psql() -> str:
    found = shutil.which("psql") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))), None)
    if found is None:
        pytest.skip("no psql here")
    return str(found)


def _run_the_step(live_url: str, sandpit_database: str) -> list[str]:
    step = STEP.read_text(encoding="utf-8").replace(r"\c lrs_sandpit", rf"\c {sandpit_database}")
    ran = subprocess.run(
        [_psql(), "-X", "-q", "-A", "-t", live_url], input=step, capture_output=True, text=True, check=False
    )
    assert ran.returncode == 0, ran.stderr
    return ran.stdout.split()


@pytest.fixture
async def sandpit(database_url: str) -> AsyncIterator[tuple[asyncpg.Pool, str]]:
    name = unique_name("sbx")
    pool = await create_pool(await create_database(database_url, name), max_size=2)
    try:
        await prepare_validation_database(pool)
        yield pool, name
    finally:
        await pool.close()


async def _erased_as_before_this_release(pool: asyncpg.Pool) -> None:
    """The registry's rows of one erased learner and one kept, as an erasure before this release left them."""
    await pool.execute(
        "INSERT INTO validation.learners (uln, given_name, family_name, date_of_birth, gender, ability_to_share,"
        " erased_at) VALUES ($1, NULL, NULL, NULL, NULL, 1, now()), ($2, 'Willow', 'Kept', '2005-06-06', 2, 1, NULL)",
        ERASED,
        KEPT,
    )


async def _label(pool: asyncpg.Pool, key: IssuedKey) -> str | None:
    label: str | None = await pool.fetchval("SELECT label FROM identity.credentials WHERE key_id = $1", key.key_id)
    return label


async def test_the_step_empties_the_labels_of_erased_learners_keys_live_and_in_the_sandpit(
    pool: asyncpg.Pool, fresh_database_url: str, sandpit: tuple[asyncpg.Pool, str]
) -> None:
    sandpit_pool, sandpit_name = sandpit
    await prepare_validation_database(pool)
    keys: dict[str, list[IssuedKey]] = {ERASED: [], KEPT: []}
    for each, environment in ((pool, Environment.LIVE), (sandpit_pool, Environment.SANDPIT)):
        await _erased_as_before_this_release(each)
        store = CredentialStore(each, environment=environment)
        for uln in keys:
            keys[uln].append(await store.issue(Principal(PrincipalKind.LEARNER, uln), label=f"phone app of {uln}"))

    assert _run_the_step(fresh_database_url, sandpit_name) == ["1", "1"]

    erased_live, erased_sandpit = keys[ERASED]
    kept_live, kept_sandpit = keys[KEPT]
    assert await _label(pool, erased_live) is None and await _label(sandpit_pool, erased_sandpit) is None
    assert await _label(pool, kept_live) == f"phone app of {KEPT}"
    assert await _label(sandpit_pool, kept_sandpit) == f"phone app of {KEPT}"
    assert _run_the_step(fresh_database_url, sandpit_name) == ["0", "0"]  # run again: nothing more
