"""`lrs credentials` with a database it cannot use says which database (never its password) and what to check, in
one line: exit 4 when it could not be reached, exit 1 when it refused (an unknown database or role) or when
$DATABASE_URL is not a URL asyncpg can read; never a traceback."""

from __future__ import annotations

import asyncpg
import pytest

from lrs_cli import admin_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_platform.credential_store import CredentialStore

ACTIONS = [
    ["credentials", "create", "--principal", "operator:alex"],
    ["credentials", "rotate", "--principal", "operator:alex"],
    ["credentials", "revoke", "--principal", "operator:alex"],
    ["credentials", "list"],
]
ACTION_IDS = ["create", "rotate", "revoke", "list"]


def _refusing(error: Exception) -> object:
    async def create_pool(url: str, max_size: int) -> None:
        raise error

    return create_pool


@pytest.mark.parametrize("argv", ACTIONS, ids=ACTION_IDS)
@pytest.mark.parametrize(
    ("error", "said"),
    [
        (asyncpg.InvalidCatalogNameError('database "nosuchdb" does not exist'), 'database "nosuchdb" does not exist'),
        (asyncpg.InvalidAuthorizationSpecificationError('role "u" does not exist'), 'role "u" does not exist'),
        (asyncpg.InvalidPasswordError('password authentication failed for user "u"'), "password authentication"),
    ],
    ids=["unknown-database", "unknown-role", "wrong-password"],
)
def test_a_database_that_refuses_is_named_with_what_to_check(
    argv: list[str], error: Exception, said: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:hunter2@db.example:6543/nosuchdb")
    monkeypatch.setattr(admin_commands, "create_pool", _refusing(error))

    assert main(argv) == ExitCode.FAILED

    err = capsys.readouterr().err
    assert err.startswith("lrs: the database in DATABASE_URL (db.example:6543/nosuchdb) refused: ")
    assert said in err and "(check DATABASE_URL: its user, password and database)" in err
    assert "hunter2" not in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", ACTIONS, ids=ACTION_IDS)
def test_an_unreachable_database_is_exit_4_naming_it(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:hunter2@127.0.0.1:1/lrs")  # nothing listens on port 1

    assert main(argv) == ExitCode.UNREACHABLE

    err = capsys.readouterr().err
    assert err.startswith("lrs: cannot reach the database in DATABASE_URL (127.0.0.1:1/lrs) (")
    assert err.rstrip().endswith("is PostgreSQL running there, and is DATABASE_URL right?")
    assert "hunter2" not in err


@pytest.mark.parametrize("error", [TimeoutError(), asyncpg.CannotConnectNowError("the database system is starting up")])
def test_no_answer_or_a_database_starting_up_is_unreachable(
    error: Exception, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_SANDPIT_DATABASE_URL", "postgresql://db/lrs_sandpit")
    monkeypatch.setattr(admin_commands, "create_pool", _refusing(error))

    assert main(["--sandpit", "credentials", "list"]) == ExitCode.UNREACHABLE

    assert "cannot reach the database in LRS_SANDPIT_DATABASE_URL (db:5432/lrs_sandpit)" in capsys.readouterr().err


@pytest.mark.parametrize("argv", ACTIONS, ids=ACTION_IDS)
@pytest.mark.parametrize("url", ["foo", "postgresql://u:hunter2@db:abc/lrs"], ids=["no-scheme", "port-not-a-number"])
def test_a_url_asyncpg_cannot_read_is_said_as_such(
    argv: list[str], url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)

    assert main(argv) == ExitCode.FAILED

    err = capsys.readouterr().err
    assert err.startswith("lrs: DATABASE_URL is not a database URL asyncpg can use (")
    assert "postgresql://user:password@host:5432/database" in err and "hunter2" not in err


class Pool:
    async def close(self) -> None:
        pass


async def _a_pool(url: str, max_size: int) -> Pool:
    return Pool()


@pytest.mark.parametrize(
    ("error", "exit_code", "said"),
    [
        (asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"), 4, "cannot reach"),
        (asyncpg.UndefinedTableError('relation "identity.credentials" does not exist'), 1, "refused"),
    ],
    ids=["connection-lost", "database-error"],
)
def test_a_failure_once_connected_is_one_line_too(
    error: Exception, exit_code: int, said: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def failing(self: CredentialStore) -> None:
        raise error

    monkeypatch.setenv("DATABASE_URL", "postgresql://u:hunter2@db/lrs")
    monkeypatch.setattr(admin_commands, "create_pool", _a_pool)
    monkeypatch.setattr(CredentialStore, "migrate", failing)

    assert main(["credentials", "create", "--principal", "operator:alex"]) == exit_code

    err = capsys.readouterr().err
    assert said in err and "the database in DATABASE_URL (db:5432/lrs)" in err and str(error) in err
