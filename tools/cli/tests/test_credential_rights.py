"""`lrs credentials` connected as a role that lacks a right on the key store says which role, which right and what
to run instead, exit 1, never a traceback (on PostgreSQL: tests/integration/test_credentials_as_the_database_owner.py)."""

from __future__ import annotations

import asyncpg
import pytest

from lrs_cli import admin_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_platform.credential_store import CredentialStore


class Pool:
    async def fetchval(self, query: str) -> str:
        assert query == "SELECT current_user"
        return "lrs"

    async def close(self) -> None:
        pass


async def _create_pool(url: str, max_size: int) -> Pool:
    return Pool()


async def _denied(self: CredentialStore) -> None:
    raise asyncpg.InsufficientPrivilegeError("permission denied for table credentials")


@pytest.mark.parametrize(
    "argv",
    [
        ["credentials", "create", "--principal", "operator:alex"],
        ["credentials", "revoke", "--principal", "operator:alex"],
        ["credentials", "list"],
    ],
    ids=["create", "revoke", "list"],
)
def test_a_right_the_role_lacks_is_said_plainly(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://lrs@db/lrs")
    monkeypatch.setattr(admin_commands, "create_pool", _create_pool)
    monkeypatch.setattr(CredentialStore, "migrate", _denied)

    assert main(argv) == ExitCode.FAILED

    said = capsys.readouterr().err
    assert "role lrs lacks a right this needs (permission denied for table credentials): nothing was changed" in said
    assert "as the database owner" in said and "as the superuser" in said
