"""`lrs credentials create|rotate --principal ao:<id>`: keys only for an AO in the register, named as the register
names it (decision 0131), refused before any database; revoking takes any principal as written."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lrs_cli import admin_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_contracts.environments import Environment
from lrs_domain.reference_files import AWARDING_ORGANISATIONS
from lrs_platform.credential_store import IssuedKey, StoredKey
from lrs_platform.identity import Principal

MADE = datetime(2026, 12, 8, 2, 6, tzinfo=UTC)


class FakeStore:
    """Stands in for the identity tables: what each action was asked for, and a key or a count back."""

    def __init__(self, holding_keys: set[str] | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.holding_keys = holding_keys  # None: every principal holds one key

    async def __call__(
        self, action: str, principal: Principal, label: str | None, environment: Environment, **_: Any
    ) -> IssuedKey | list[StoredKey]:
        self.calls.append((action, str(principal)))
        if action == "revoke":
            held = self.holding_keys is None or str(principal) in self.holding_keys
            return [StoredKey(f"{len(self.calls):016x}", principal, "results system", MADE, MADE)] if held else []
        return IssuedKey("k1", "lrs_k1_secret", principal)


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> FakeStore:
    fake = FakeStore()
    monkeypatch.setattr(admin_commands, "_with_store", fake)
    return fake


@pytest.fixture(autouse=True)
def no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)


def own_register(directory: Path, *rows: str) -> Path:
    directory.mkdir()
    (directory / AWARDING_ORGANISATIONS).write_text(
        "AwardingOrganisationId,Name\n" + "".join(f"{row}\n" for row in rows), encoding="utf-8"
    )
    return directory


@pytest.mark.parametrize("action", ["create", "rotate"])
def test_a_key_for_an_ao_not_in_the_register_is_refused_before_the_database(
    action: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # no fake store: were the database reached, the answer would be "DATABASE_URL is not set" (exit 1)
    assert main(["credentials", action, "--principal", "ao:RN9903"]) == ExitCode.USAGE

    err = capsys.readouterr().err
    assert "RN9903 is not an awarding organisation in the register" in err
    assert "--reference-dir" in err


@pytest.mark.parametrize("action", ["create", "rotate"])
def test_an_ao_id_in_lower_case_gets_a_key_for_the_ao_as_the_register_names_it(
    action: str, store: FakeStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "cityandguilds.key"

    assert main(["credentials", action, "--principal", " ao:rn9037", "--output", str(key)]) == ExitCode.OK

    assert store.calls == [(action, "ao:RN9037")]
    assert capsys.readouterr().out == f"{action}d key k1 for ao:RN9037; written to {key}\n"


def test_the_register_of_an_operators_own_reference_files_is_the_one_checked(
    store: FakeStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference = own_register(tmp_path / "reference", "RN9903,A New Awarding Body")

    assert main(["credentials", "create", "--principal", "ao:RN9903", "--reference-dir", str(reference)]) == 0
    assert capsys.readouterr().out == "lrs_k1_secret\n"
    assert main(["credentials", "create", "--principal", "ao:RN9037", "--reference-dir", str(reference)]) == 2
    assert f"RN9037 is not an awarding organisation in the register of {reference}" in capsys.readouterr().err

    assert store.calls == [("create", "ao:RN9903")]


@pytest.mark.parametrize("principal", ["ao:RN9903", "ao:RN9037", "operator:oncall"])
def test_any_principal_with_keys_can_be_revoked_as_it_is_written(
    principal: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = FakeStore(holding_keys={principal})
    monkeypatch.setattr(admin_commands, "_with_store", store)

    assert main(["credentials", "revoke", "--principal", principal]) == ExitCode.OK

    assert store.calls[0] == ("revoke", principal)
    if not principal.startswith("ao:"):  # only an AO's id has other spellings to revoke
        assert store.calls == [("revoke", principal)]
    said = capsys.readouterr().out
    assert said.startswith(f"revoked 1 key(s) of {principal}, none of them a portal session key:\n")
    assert "  0000000000000001  results system\n" in said


def test_an_ao_typed_as_the_register_writes_it_has_its_keys_made_in_lower_case_revoked_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # a key made as ao:rn9037 before ids were written as the register writes them outlived `revoke ao:RN9037`
    store = FakeStore(holding_keys={"ao:rn9037"})
    monkeypatch.setattr(admin_commands, "_with_store", store)

    assert main(["credentials", "revoke", "--principal", "ao:RN9037"]) == ExitCode.OK

    assert store.calls == [("revoke", "ao:RN9037"), ("revoke", "ao:rn9037")]
    assert capsys.readouterr().out.startswith("revoked 1 key(s) of ao:rn9037, none of them a portal session key:\n")


def test_an_ao_typed_in_lower_case_has_its_keys_revoked_as_create_named_them_too(
    store: FakeStore, capsys: pytest.CaptureFixture[str]
) -> None:
    # create made ao:RN9037 of `ao:rn9037`; a key made before the register was checked may be ao:rn9037 itself
    assert main(["credentials", "revoke", "--principal", "ao:rn9037"]) == ExitCode.OK

    assert store.calls == [("revoke", "ao:rn9037"), ("revoke", "ao:RN9037")]
    assert capsys.readouterr().out.startswith("revoked 2 key(s) of ao:rn9037 and ao:RN9037, none of them")


def test_revoking_a_principal_without_keys_is_an_error_not_a_quiet_success(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def no_keys(
        action: str, principal: Principal, label: str | None, environment: Environment
    ) -> list[StoredKey]:
        return []

    monkeypatch.setattr(admin_commands, "_with_store", no_keys)

    assert main(["credentials", "revoke", "--principal", "operator:nobody"]) == ExitCode.FAILED
    assert "operator:nobody has no key to revoke: nothing was revoked" in capsys.readouterr().err


@pytest.mark.parametrize("principal", ["operator:oncall", "provider:10004567", "learner:1000000043"])
def test_other_principals_name_no_ao_and_are_not_looked_up(principal: str, store: FakeStore) -> None:
    assert main(["credentials", "create", "--principal", principal]) == ExitCode.OK
    assert store.calls == [("create", principal)]
