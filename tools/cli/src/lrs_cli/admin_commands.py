"""Operator commands: credentials (straight to the identity tables), reference data and learners."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from lrs_cli.client import CommandError, Connection, expect_ok
from lrs_platform.database import create_pool
from lrs_platform.identity import CredentialStore, IssuedKey, Principal


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise CommandError("DATABASE_URL is not set: credentials live in the service database")
    return url


async def _with_store(action: str, principal: Principal, label: str | None) -> IssuedKey | int:
    pool = await create_pool(_database_url(), max_size=2)
    try:
        store = CredentialStore(pool)
        await store.migrate()
        if action == "create":
            return await store.issue(principal, label)
        if action == "rotate":
            return await store.rotate(principal, label)
        return await store.revoke_principal(principal)
    finally:
        await pool.close()


def credentials(action: str, principal_text: str, label: str | None, output: str | None) -> str:
    try:
        principal = Principal.parse(principal_text)
    except ValueError as error:
        raise CommandError(f"{error}; kinds are ao, provider, learner, operator") from error
    result = asyncio.run(_with_store(action, principal, label))
    if isinstance(result, int):
        return f"revoked {result} key(s) of {principal}"
    if output:
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(result.token + "\n", encoding="utf-8")
        path.chmod(0o600)
        return f"{action}d key {result.key_id} for {principal}; written to {path}"
    return result.token


def load_reference(connection: Connection) -> str:
    with connection.client("validation", timeout=300) as client:
        loaded = expect_ok(client.post("/v1/admin/reference/load"))
    return f"loaded {loaded['qualifications']} qualifications of {loaded['awarding_organisations']} organisations"


def import_learners(connection: Connection, file: str) -> str:
    content = Path(file).read_bytes()
    with connection.client("validation", timeout=300) as client:
        result = expect_ok(client.post("/v1/learners/import", content=content, headers={"Content-Type": "text/csv"}))
    return f"registered {result['registered']} learners"
