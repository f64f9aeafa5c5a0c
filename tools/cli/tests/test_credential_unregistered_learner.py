"""`lrs credentials create|rotate --principal learner:ULN` makes no key for a ULN no learner is registered under
(it would read the PLR of whoever is registered under it later), unless `--allow-unregistered`: refused as an
erased learner's is, exit 2 and nothing made. Validation is asked where it lets the database owner ask; else its
registry is read, and a role that may not read it is told what to do instead."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from lrs_cli import admin_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_contracts.environments import Environment
from lrs_platform.credential_store import IssuedKey
from lrs_platform.identity import Principal

REGISTERED, UNREGISTERED = "1000000043", "1000000051"


class Database:
    """Stands in for the database: which of validation's questions it holds, its registry, and the keys made."""

    def __init__(self, *, asked: bool = False, registry: bool = True, readable: bool = True) -> None:
        self.held = {"asked": False, "audited": True, "registered_asked": asked, "registry": registry}
        self.readable = readable
        self.made: list[tuple[str, str]] = []

    async def fetchrow(self, query: str, *args: Any) -> dict[str, bool]:
        return self.held

    async def fetchval(self, query: str, *args: Any) -> Any:
        if query == "SELECT current_user":
            return "lrs"
        if "validation.erasures" in query:
            return False
        if "validation.learner_registered" in query:
            assert self.held["registered_asked"]
            return args[0] == REGISTERED
        if "validation.learners" in query:
            if not self.readable:
                raise asyncpg.InsufficientPrivilegeError("permission denied for table learners")
            return args[0] == REGISTERED
        raise AssertionError(query)

    async def issue(self, principal: Principal, label: str | None, *, by: str | None = None) -> IssuedKey:
        self.made.append(("create", str(principal)))
        return IssuedKey("k1", "lrs_k1_secret", principal)

    async def rotate(self, principal: Principal, label: str | None, *, by: str | None = None) -> IssuedKey:
        self.made.append(("rotate", str(principal)))
        return IssuedKey("k2", "lrs_k2_secret", principal)


def _with(monkeypatch: pytest.MonkeyPatch, database: Database) -> Database:
    @contextlib.asynccontextmanager
    async def key_store(environment: Environment) -> AsyncIterator[tuple[Database, Database]]:
        yield database, database

    monkeypatch.setattr(admin_commands, "_key_store", key_store)
    return database


@pytest.mark.parametrize("asked", [False, True], ids=["registry-read", "validation-asked"])
@pytest.mark.parametrize("action", ["create", "rotate"])
def test_no_key_is_made_for_a_uln_no_learner_is_registered_under(
    asked: bool, action: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = _with(monkeypatch, Database(asked=asked))

    assert main(["credentials", action, "--principal", f"learner:{UNREGISTERED}"]) == ExitCode.USAGE

    said = capsys.readouterr().err
    assert f"learner:{UNREGISTERED} is not in the learner registry: no key is made" in said
    assert "--allow-unregistered" in said and "lrs learners import" in said
    assert database.made == []


@pytest.mark.parametrize("asked", [False, True], ids=["registry-read", "validation-asked"])
def test_a_registered_learners_key_is_made(
    asked: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = _with(monkeypatch, Database(asked=asked))

    assert main(["credentials", "create", "--principal", f"learner:{REGISTERED}"]) == ExitCode.OK
    assert database.made == [("create", f"learner:{REGISTERED}")]


def test_allow_unregistered_makes_the_key_all_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    database = _with(monkeypatch, Database())

    argv = ["credentials", "create", "--principal", f"learner:{UNREGISTERED}", "--allow-unregistered"]
    assert main(argv) == ExitCode.OK
    assert database.made == [("create", f"learner:{UNREGISTERED}")]


def test_a_database_without_the_registry_holds_no_learner(monkeypatch: pytest.MonkeyPatch) -> None:
    database = _with(monkeypatch, Database(registry=False))

    assert main(["credentials", "create", "--principal", f"learner:{REGISTERED}"]) == ExitCode.USAGE
    assert database.made == []


def test_a_role_that_may_not_read_the_registry_is_told_what_to_do_instead(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = _with(monkeypatch, Database(readable=False))

    assert main(["credentials", "create", "--principal", f"learner:{REGISTERED}"]) == ExitCode.FAILED

    said = capsys.readouterr().err
    assert "role lrs lacks a right this needs" in said and "--allow-unregistered" in said and "Traceback" not in said
    assert database.made == []


@pytest.mark.parametrize(
    "argv",
    [
        ["credentials", "create", "--principal", "provider:10004567", "--allow-unregistered"],
        ["credentials", "revoke", "--principal", f"learner:{UNREGISTERED}", "--allow-unregistered"],
    ],
)
def test_allow_unregistered_is_for_making_a_learners_key_only(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = _with(monkeypatch, Database())

    assert main(argv) == ExitCode.USAGE
    assert "--allow-unregistered is for creating or rotating a learner's key" in capsys.readouterr().err
    assert database.made == []


def test_other_principals_are_not_looked_up_in_the_learner_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    database = _with(monkeypatch, Database(registry=False))

    assert main(["credentials", "create", "--principal", "provider:10004567"]) == ExitCode.OK
    assert database.made == [("create", "provider:10004567")]
