"""Two credential-key rotations at once, on real PostgreSQL: rotations that name the key they mean to replace
(`expected_active`) make one new key between them, and the other is told who rotated meanwhile; and a key is never
stamped retired before it was made, whenever the rotation that retires it began."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from tests.support.projector import App, create_topics, new_prefix, running_projector

from plr_projector.credential_keys import CredentialKeys, KeyEncryptionKey

pytestmark = pytest.mark.integration

ISSUER = "https://lrs.test"
OPERATOR = "operator:rotation-tests"
ROTATE = "/v1/admin/credential-keys/rotate"


@pytest.fixture
async def projector(fresh_database_url: str, kafka_bootstrap: str) -> AsyncIterator[tuple[App, str]]:
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    kek = base64.b64encode(secrets.token_bytes(32)).decode()
    async with running_projector(
        fresh_database_url, kafka_bootstrap, prefix, credential_issuer_url=ISSUER, credential_key_encryption_key=kek
    ) as app:
        yield app, kek


async def _keys(app: App) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = (await app.get(OPERATOR, "/v1/admin/credential-keys")).json()["keys"]
    return listed


async def test_two_rotations_of_the_same_key_at_once_make_one_new_key_and_the_other_is_told(
    projector: tuple[App, str],
) -> None:
    app, _ = projector
    first = await app.post(OPERATOR, ROTATE)  # no body, as before `expected_active`: makes the first key
    assert first.status_code == 200, first.text
    seen = first.json()["key_id"]

    answers = await asyncio.gather(
        app.post(OPERATOR, ROTATE, {"expected_active": seen}),
        app.post("operator:second-operator", ROTATE, {"expected_active": seen}),
    )

    assert sorted(answer.status_code for answer in answers) == [200, 409], [answer.text for answer in answers]
    rotated = next(answer for answer in answers if answer.status_code == 200).json()
    refused = next(answer for answer in answers if answer.status_code == 409)
    assert rotated["retired"] == [seen]
    listed = await _keys(app)
    assert [(key["key_id"], key["active"]) for key in listed] == [(rotated["key_id"], True), (seen, False)]
    problem = refused.json()
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert problem["title"] == "Rotated meanwhile"
    assert problem["active_key_id"] == rotated["key_id"]
    assert (problem["rotated_by"], problem["rotated_at"]) == (listed[0]["created_by"], listed[0]["created_at"])
    assert f"Credential signing key {seen} is not the active key any more: rotated meanwhile by" in problem["detail"]
    assert f"the active key is {rotated['key_id']}. Nothing was rotated" in problem["detail"]

    # the same rotation sent again after its answer was lost is refused too, and a rotation without it goes on
    again = await app.post(OPERATOR, ROTATE, {"expected_active": seen})
    assert (again.status_code, again.json()["active_key_id"]) == (409, rotated["key_id"])
    assert len(await _keys(app)) == 2
    latest = await app.post(OPERATOR, ROTATE, {"expected_active": rotated["key_id"]})
    assert (latest.status_code, latest.json()["retired"]) == (200, [rotated["key_id"]])


async def test_two_first_rotations_that_saw_no_key_make_one(projector: tuple[App, str]) -> None:
    app, _ = projector

    answers = await asyncio.gather(*(app.post(OPERATOR, ROTATE, {"expected_active": None}) for _ in range(2)))

    assert sorted(answer.status_code for answer in answers) == [200, 409], [answer.text for answer in answers]
    assert len(await _keys(app)) == 1


class _Connection:
    """A pooled connection that runs `before_lock` just before the rotation asks for its advisory lock: its
    transaction has begun (so `now()` is fixed), and another rotation commits meanwhile."""

    def __init__(self, connection: asyncpg.Connection, before_lock: Callable[[], Awaitable[None]]) -> None:
        self._connection = connection
        self._before_lock = before_lock

    async def execute(self, query: str, *args: Any) -> str:
        if "pg_advisory_xact_lock" in query:
            await self._before_lock()
        result: str = await self._connection.execute(query, *args)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


class _Pool:
    def __init__(self, pool: asyncpg.Pool, before_lock: Callable[[], Awaitable[None]]) -> None:
        self._pool = pool
        self._before_lock = before_lock

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[_Connection]:
        async with self._pool.acquire() as connection:
            yield _Connection(connection, self._before_lock)


async def test_a_key_is_never_retired_before_it_was_made(projector: tuple[App, str]) -> None:
    app, kek = projector
    pool = await asyncpg.create_pool(app.database_url, min_size=2, max_size=2)
    try:
        other = CredentialKeys(pool, KeyEncryptionKey.parse(kek))
        made: list[str] = []

        async def another_rotation_commits() -> None:
            made.append((await other.rotate("operator:other")).created.key_id)

        waiting: Any = _Pool(pool, another_rotation_commits)
        rotation = await CredentialKeys(waiting, KeyEncryptionKey.parse(kek)).rotate(OPERATOR)

        assert rotation.retired == made  # it retired the key the other rotation made while it waited
        rows = {
            row["key_id"]: row
            for row in await pool.fetch("SELECT key_id, created_at, retired_at FROM plr_ops.credential_keys")
        }
    finally:
        await pool.close()
    retired, new = rows[made[0]], rows[rotation.created.key_id]
    assert retired["created_at"] <= retired["retired_at"], "retired before it was made"
    assert retired["retired_at"] == new["created_at"]  # retired at the moment its successor was made
