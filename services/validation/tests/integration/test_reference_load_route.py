"""`POST /v1/admin/reference/load` (`lrs reference load`) on a real database, with files as a steward gets them
wrong: a bad file is a 422 naming it and why, never a 500 or a "database unavailable" 503; a load that would remove
most of the catalogue, or move qualifications to another AO id, is a 409 with the counts until the operator allows
it; every load says what it added, removed and changed, and the count it says is the count stored. A refused load
changes nothing."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import pytest
from tests.support.databases import prepare_validation_database, throwaway_database
from tests.support.infra import database_url as provide_database_url

from lrs_contracts.codes import ProblemCode
from lrs_contracts.environments import Environment
from lrs_domain.reference_files import (
    AWARDING_ORGANISATIONS,
    EXTRA_QUALIFICATIONS,
    OFQUAL_SNAPSHOT,
    REFERENCE_FILE_NAMES,
    shipped_reference,
)
from lrs_platform.authentication import current_principal
from lrs_platform.database import create_pool
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from validation.api import router
from validation.reference_store import ReferenceStore

pytestmark = pytest.mark.integration

SHIPPED = {name: shipped_reference().joinpath(name).read_text(encoding="utf-8-sig") for name in REFERENCE_FILE_NAMES}
REGISTER_ROWS = len(list(csv.DictReader(io.StringIO(SHIPPED[OFQUAL_SNAPSHOT]))))
EXTRA_ROWS = len(list(csv.DictReader(io.StringIO(SHIPPED[EXTRA_QUALIFICATIONS]))))


class Producer:
    """Kafka as the catalogue publisher reaches it: every send acknowledged at once."""

    async def send(self, *args: object, **kwargs: object) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with provide_database_url() as url:
        yield url


@pytest.fixture
async def pool(server_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with throwaway_database(server_url, "refload") as url:
        pool = await create_pool(url, max_size=4)
        try:
            await prepare_validation_database(pool)
            yield pool
        finally:
            await pool.close()


def _write(directory: Path, **files: str | bytes) -> None:
    for name in REFERENCE_FILE_NAMES:
        content = files.get(name, SHIPPED[name])
        if isinstance(content, bytes):
            (directory / name).write_bytes(content)
        else:
            (directory / name).write_text(content, encoding="utf-8")


async def _load(pool: asyncpg.Pool, directory: Path, **params: str) -> httpx.Response:
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse("operator:steward")
    app.state.environment = Environment.LIVE
    app.state.reference = ReferenceStore(pool)
    app.state.outbox_producer = Producer()
    app.state.settings = SimpleNamespace(reference_dir=directory)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation") as client:
        return await client.post("/v1/admin/reference/load", params=params)


async def _stored(pool: asyncpg.Pool) -> tuple[int, int]:
    """(qualifications stored, loads recorded)."""
    return (
        await pool.fetchval("SELECT count(*) FROM validation.qualifications"),
        await pool.fetchval("SELECT count(*) FROM validation.reference_loads"),
    )


def _problem(answer: httpx.Response, status: int, code: ProblemCode) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    problem: dict[str, Any] = answer.json()
    assert problem["code"] == code
    return problem


async def test_bad_files_are_refused_naming_the_file_and_why(pool: asyncpg.Pool, tmp_path: Path) -> None:
    _write(tmp_path)
    first = await _load(pool, tmp_path)
    assert first.status_code == 200, first.text
    assert first.json()["qualifications"] == REGISTER_ROWS + EXTRA_ROWS

    cp1252 = SHIPPED[OFQUAL_SNAPSHOT].replace("Business", "Businéss", 1).encode("cp1252", errors="replace")
    _write(tmp_path, **{OFQUAL_SNAPSHOT: cp1252})
    not_utf8 = _problem(await _load(pool, tmp_path), 422, ProblemCode.REFERENCE_FILE_REFUSED)
    assert not_utf8["detail"].startswith(f"{OFQUAL_SNAPSHOT}: line ")
    assert "byte 0xE9 is not UTF-8: save the file as CSV UTF-8" in not_utf8["detail"]

    _write(tmp_path)
    (tmp_path / OFQUAL_SNAPSHOT).rename(tmp_path / "ofqual-approved-qualifications-2026-11-01.csv")
    missing = _problem(await _load(pool, tmp_path), 422, ProblemCode.REFERENCE_FILE_REFUSED)
    assert missing["detail"].startswith(f"{OFQUAL_SNAPSHOT}: there is no such file in {tmp_path}")
    assert AWARDING_ORGANISATIONS in missing["detail"] and EXTRA_QUALIFICATIONS in missing["detail"]

    merged = SHIPPED[AWARDING_ORGANISATIONS] + "RN9093,Edexcel Ltd\n"
    _write(tmp_path, **{AWARDING_ORGANISATIONS: merged})
    twice = _problem(await _load(pool, tmp_path), 422, ProblemCode.REFERENCE_FILE_REFUSED)
    assert f"{AWARDING_ORGANISATIONS}: line 128: AwardingOrganisationId RN9093 is on line " in twice["detail"]

    assert await _stored(pool) == (REGISTER_ROWS + EXTRA_ROWS, 1)


async def test_a_shrunken_register_is_refused_with_the_counts_until_allowed(pool: asyncpg.Pool, tmp_path: Path) -> None:
    _write(tmp_path)
    assert (await _load(pool, tmp_path)).status_code == 200
    header_only = SHIPPED[OFQUAL_SNAPSHOT].split("\n", 1)[0] + "\n"
    _write(tmp_path, **{OFQUAL_SNAPSHOT: header_only})

    refused = _problem(await _load(pool, tmp_path), 409, ProblemCode.REFERENCE_LOAD_UNCONFIRMED)
    assert (
        f"{REGISTER_ROWS + EXTRA_ROWS:,} → {EXTRA_ROWS}: {REGISTER_ROWS:,} qualifications would be removed"
        in (refused["detail"])
    )
    assert await _stored(pool) == (REGISTER_ROWS + EXTRA_ROWS, 1)

    allowed = await _load(pool, tmp_path, allow_removals="true")
    assert allowed.status_code == 200, allowed.text
    said = allowed.json()
    assert (said["qualifications"], said["added"], said["removed"], said["changed"]) == (
        EXTRA_ROWS,
        0,
        REGISTER_ROWS,
        0,
    )
    assert await _stored(pool) == (EXTRA_ROWS, 2)


async def test_an_ao_renumbered_is_refused_naming_its_qualifications_until_allowed(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    _write(tmp_path)
    assert (await _load(pool, tmp_path)).status_code == 200
    renumbered = {
        AWARDING_ORGANISATIONS: SHIPPED[AWARDING_ORGANISATIONS].replace("RN9093,", "RN5133,"),
        EXTRA_QUALIFICATIONS: SHIPPED[EXTRA_QUALIFICATIONS].replace(",RN9093,", ",RN5133,"),
    }
    _write(tmp_path, **renumbered)
    pearson = await pool.fetchval("SELECT count(*) FROM validation.qualifications WHERE ao_id = 'RN9093'")

    refused = _problem(await _load(pool, tmp_path), 409, ProblemCode.REFERENCE_LOAD_UNCONFIRMED)
    assert f"{pearson:,} qualifications would move to another awarding organisation id: " in refused["detail"]
    assert "(RN9093 → RN5133)" in refused["detail"]
    assert f"and {pearson - 5:,} more" in refused["detail"]
    assert "the awarding organisations list no longer has RN9093" in refused["detail"]
    assert await _stored(pool) == (REGISTER_ROWS + EXTRA_ROWS, 1)

    allowed = await _load(pool, tmp_path, allow_ao_changes="true")
    assert allowed.status_code == 200, allowed.text
    assert (allowed.json()["changed"], allowed.json()["added"], allowed.json()["removed"]) == (pearson, 0, 0)


async def test_each_load_keeps_its_operator_and_the_digest_of_each_file(pool: asyncpg.Pool, tmp_path: Path) -> None:
    _write(tmp_path)

    assert (await _load(pool, tmp_path)).status_code == 200

    load = await pool.fetchrow("SELECT operator, sha256 FROM validation.reference_loads ORDER BY version DESC LIMIT 1")
    assert load["operator"] == "operator:steward"
    assert json.loads(load["sha256"]) == {
        name: hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() for name in REFERENCE_FILE_NAMES
    }


async def test_the_count_said_is_the_count_stored(pool: asyncpg.Pool, tmp_path: Path) -> None:
    _write(tmp_path)
    assert (await _load(pool, tmp_path)).status_code == 200
    row = await pool.fetchrow(
        "SELECT * FROM validation.qualifications WHERE source = 'catalogue' AND ao_id = 'RN9008'"
        " AND qualification_type = 'GCSE (9 to 1)' LIMIT 1"
    )
    correction = (
        f"{row['qualification_number']},,{row['title']},RN9008,{row['ao_name']},{row['level']},"
        f"{row['qualification_type']},RQF,qualification,9-9|8-8|7-7|6-6|5-5|4-4|3-3|2-2|1-1|U\n"
    )
    _write(tmp_path, **{EXTRA_QUALIFICATIONS: SHIPPED[EXTRA_QUALIFICATIONS] + correction})

    answer = await _load(pool, tmp_path)

    assert answer.status_code == 200, answer.text
    said = answer.json()
    assert (said["qualifications"], said["added"], said["removed"], said["changed"]) == (
        REGISTER_ROWS + EXTRA_ROWS,
        0,
        0,
        1,
    )
    assert await pool.fetchval("SELECT rows FROM validation.reference_loads ORDER BY version DESC LIMIT 1") == (
        REGISTER_ROWS + EXTRA_ROWS
    )
