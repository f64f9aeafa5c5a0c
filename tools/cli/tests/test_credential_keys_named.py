"""`lrs credentials` names the keys it makes and ends (report "keyrot" K9, K10): `create` without --output prints the
key alone on standard output and its id on standard error; `rotate` and `revoke --principal` name each key they
revoked by id and label, `revoke` how many were people's portal sessions; a rotation that would revoke more than one
key in use says which first and how to replace one system's key without a stop, and asks (on a terminal) or wants
--yes (elsewhere) before it revokes anything; `list` says who made each key beside who revoked it."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import typer

from lrs_cli import admin_commands
from lrs_cli.admin_commands import keys_table
from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_contracts.environments import Environment
from lrs_platform.credential_store import SESSION_KEY_LABEL, IssuedKey, RotatedKey, StoredKey
from lrs_platform.identity import Principal

AO = Principal.parse("ao:RN9037")  # in the register shipped
MADE = datetime(2026, 12, 8, 2, 6, tzinfo=UTC)
TOKEN = "lrs_b76947866e47b445_secret"


def _key(key_id: str, label: str | None, **by: Any) -> StoredKey:
    return StoredKey(key_id, AO, label, MADE, MADE if by.get("revoked_by") else None, **by)


MIS = _key("1d464bd39a2f0799", "MIS nightly 2027")
SECOND = _key("0c720bbf6386efc1", None)
SESSION = _key("98245f072844f7fb", f"{SESSION_KEY_LABEL} ao.demo")


class KeyStore:
    """Stands in for the key store: the keys of AO in use (people's sessions apart), and what was asked of it."""

    def __init__(self, in_use: list[StoredKey], sessions: list[StoredKey] | None = None) -> None:
        self.in_use = in_use
        self.sessions = sessions or []
        self.done: list[str] = []

    async def listing(self, *_: Any, principal: Principal, label_not_starting: str, **__: Any) -> list[StoredKey]:
        assert (principal, label_not_starting) == (AO, SESSION_KEY_LABEL)
        return self.in_use

    async def issue(self, principal: Principal, label: str | None, *, by: str) -> IssuedKey:
        self.done.append("create")
        return IssuedKey("b76947866e47b445", TOKEN, principal)

    async def rotate(self, principal: Principal, label: str | None, *, by: str) -> RotatedKey:
        self.done.append("rotate")
        return RotatedKey("b76947866e47b445", TOKEN, principal, tuple(self.in_use))

    async def revoke_every_key_of(self, principal: Principal, *, by: str) -> list[StoredKey]:
        self.done.append(f"revoke {principal}")
        return [*self.in_use, *self.sessions] if principal == AO else []


def _with(monkeypatch: pytest.MonkeyPatch, store: KeyStore) -> KeyStore:
    @contextlib.asynccontextmanager
    async def key_store(environment: Environment) -> AsyncIterator[tuple[None, KeyStore]]:
        yield None, store

    monkeypatch.setattr(admin_commands, "_key_store", key_store)
    return store


class _Terminal:
    def isatty(self) -> bool:
        return True


def _on_a_terminal_answering(monkeypatch: pytest.MonkeyPatch, answer: bool) -> list[str]:
    asked: list[str] = []

    def confirm(text: str, **options: Any) -> bool:
        asked.append(text)
        if not answer and options.get("abort"):
            raise typer.Abort
        return answer

    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr(typer, "confirm", confirm)
    return asked


def _said(err: str) -> str:
    return " ".join(err.split())


def test_create_without_output_prints_the_key_alone_and_its_id_on_standard_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _with(monkeypatch, KeyStore([]))

    assert main(["credentials", "create", "--principal", str(AO)]) == ExitCode.OK

    captured = capsys.readouterr()
    assert captured.out == f"{TOKEN}\n"  # what a script capturing it stores
    assert "created key b76947866e47b445 for ao:RN9037; the key printed is not shown again" in _said(captured.err)


def test_revoking_a_principal_names_each_key_and_says_how_many_were_portal_sessions(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _with(monkeypatch, KeyStore([SECOND, MIS], sessions=[SESSION]))

    assert main(["credentials", "revoke", "--principal", str(AO)]) == ExitCode.OK

    assert capsys.readouterr().out.splitlines() == [
        "revoked 3 key(s) of ao:RN9037, 1 of them portal session keys (ao.demo signed out of the portal):",
        "  0c720bbf6386efc1  (no label)",
        "  1d464bd39a2f0799  MIS nightly 2027",
        "  98245f072844f7fb  portal session: ao.demo",
        "its keys in the Sandpit stay (`lrs --sandpit credentials revoke --principal ao:RN9037`)",
    ]


def test_a_rotation_that_would_end_several_keys_in_use_is_refused_off_a_terminal_without_yes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _with(monkeypatch, KeyStore([SECOND, MIS]))

    assert main(["credentials", "rotate", "--principal", str(AO)]) == ExitCode.USAGE

    err = capsys.readouterr().err
    assert store.done == []  # nothing made, nothing revoked
    assert "a rotation revokes every key of ao:RN9037 but people's portal sessions, and 2 are in use:" in err
    assert "  0c720bbf6386efc1  (no label)\n  1d464bd39a2f0799  MIS nightly 2027\n" in err
    assert (
        "`lrs credentials create --principal ao:RN9037 --label ...`, then, once it uses the new key,"
        " `lrs credentials revoke --key-id` its old one" in _said(err)
    )
    assert "rotating ao:RN9037 revokes all 2 of its keys in use: pass --yes to confirm it" in _said(err)


def test_a_rotation_that_would_end_several_keys_asks_on_a_terminal_and_a_no_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _with(monkeypatch, KeyStore([SECOND, MIS]))
    asked = _on_a_terminal_answering(monkeypatch, False)

    assert main(["credentials", "rotate", "--principal", str(AO)]) == ExitCode.FAILED

    assert asked == ["Revoke all 2 keys of ao:RN9037 and make one new key?"]
    assert store.done == []


@pytest.mark.parametrize("confirmed_by", ["--yes", "a terminal's yes"])
def test_a_rotation_confirmed_names_the_keys_it_revoked_and_prints_the_key_alone(
    confirmed_by: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _with(monkeypatch, KeyStore([SECOND, MIS]))
    argv = ["credentials", "rotate", "--principal", str(AO)]
    if confirmed_by == "--yes":
        argv.append("--yes")
    else:
        _on_a_terminal_answering(monkeypatch, True)

    assert main(argv) == ExitCode.OK

    captured = capsys.readouterr()
    assert store.done == ["rotate"]
    assert captured.out == f"{TOKEN}\n"
    assert "rotated key b76947866e47b445 for ao:RN9037" in captured.err
    assert (
        "revoked 2 key(s) of ao:RN9037, each system using one now refused until it has the new key; people signed in"
        " to the portal stay signed in:\n  0c720bbf6386efc1  (no label)\n  1d464bd39a2f0799  MIS nightly 2027\n"
        in captured.err
    )


def test_a_rotation_of_the_one_key_in_use_asks_nothing_and_names_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    store = _with(monkeypatch, KeyStore([MIS]))
    output = tmp_path / "ao.key"

    assert main(["credentials", "rotate", "--principal", str(AO), "--output", str(output)]) == ExitCode.OK

    captured = capsys.readouterr()
    assert store.done == ["rotate"] and output.read_text() == f"{TOKEN}\n"
    assert captured.out == f"rotated key b76947866e47b445 for ao:RN9037; written to {output}\n"
    assert "revoked 1 key(s) of ao:RN9037" in captured.err and "  1d464bd39a2f0799  MIS nightly 2027" in captured.err


@pytest.mark.parametrize("action", ["create", "revoke", "list"])
def test_yes_is_for_rotate_only(action: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["credentials", action, "--principal", str(AO), "--yes"]) == ExitCode.USAGE
    assert "--yes is for rotate" in capsys.readouterr().err


def test_the_list_says_who_made_each_key_beside_who_revoked_it() -> None:
    keys = [
        _key("8a259eeca9b2ca43", "portal drill key", created_by="operator:demo, the portal"),
        _key(
            "c763a9d2848d0f25",
            "make up",
            created_by="root@vm, lrs credentials create",
            revoked_by="operator:demo, the portal",
        ),
        _key("0c720bbf6386efc1", None, revoked_by="root@vm, lrs credentials rotate"),
    ]

    lines = keys_table(keys, 3).splitlines()

    assert lines[0].endswith("label; made by; revoked by")
    assert lines[1].endswith("  portal drill key; made by operator:demo, the portal")
    assert lines[2].endswith("  make up; made by root@vm, lrs credentials create; revoked by operator:demo, the portal")
    assert lines[3].endswith("  revoked by root@vm, lrs credentials rotate")
