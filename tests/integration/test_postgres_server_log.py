"""PostgreSQL's own log keeps no refused key's values (invariant 7): `log_error_verbosity=terse` leaves out an
error's DETAIL, which quotes them, in the clusters `scripts/infra/pg-start.sh` starts and in production's."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import asyncpg
import pytest
from tests.support.log_scan import POSTGRES_SERVER_LOG_VARIABLE
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

ULN = "9000000043"


async def test_a_refused_key_is_logged_without_its_values(fresh_database_url: str) -> None:
    server_log = os.environ.get(POSTGRES_SERVER_LOG_VARIABLE)
    if not server_log:
        pytest.skip("the run's PostgreSQL was not started by scripts/dev/with-infra.sh: its log is not ours to read")
    table = f"refused_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(fresh_database_url)
    try:
        await connection.execute(f"CREATE TABLE {table} (uln text PRIMARY KEY)")
        await connection.execute(f"INSERT INTO {table} VALUES ($1)", ULN)
        with pytest.raises(asyncpg.UniqueViolationError) as refused:
            await connection.execute(f"INSERT INTO {table} VALUES ($1)", ULN)
        assert ULN in (refused.value.detail or "")  # the client is told; the server's log is not
    finally:
        await connection.close()

    log = Path(server_log)

    async def logged() -> list[str]:
        return [line for line in _read(log).splitlines() if f'"{table}_pkey"' in line]

    await eventually(logged, within=10, what="the refusal in the server's log")
    text = _read(log)
    assert ULN not in text
    assert "DETAIL:  Key (uln)" not in text


def _read(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")
