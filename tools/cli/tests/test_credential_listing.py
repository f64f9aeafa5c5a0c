"""`lrs credentials list`: the keys an access review asks about, never a secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from lrs_cli import admin_commands
from lrs_cli.admin_commands import keys_table, listed_keys
from lrs_cli.client import ExitCode, UsageError
from lrs_cli.main import main
from lrs_platform.credential_store import StoredKey
from lrs_platform.identity import Principal

MADE = datetime(2026, 12, 4, 18, 20, tzinfo=UTC)


def test_each_key_says_whose_which_duties_when_and_its_label() -> None:
    keys = [
        StoredKey("0123456789abcdef", Principal.parse("operator:jo", frozenset({"erasure"})), "made by jo", MADE, None),
        StoredKey("fedcba9876543210", Principal.parse("operator:night"), None, MADE, MADE),
        StoredKey("00112233aabbccdd", Principal.parse("ao:RN9093"), "results system", MADE, None),
    ]

    lines = keys_table(keys, 3).splitlines()

    assert lines[1].split()[:4] == ["0123456789abcdef", "operator:jo", "erasure", "4"]  # 4 Dec 2026, 18:20 (UK time)
    assert lines[1].endswith("made by jo")
    assert lines[2].split()[2] == "every" and "4 Dec 2026, 18:20" in lines[2][80:]  # revoked, with no scope
    assert lines[3].split()[:3] == ["00112233aabbccdd", "ao:RN9093", "4"]


def test_more_than_listed_is_said() -> None:
    key = StoredKey("0123456789abcdef", Principal.parse("ao:RN9093"), None, MADE, None)
    assert keys_table([key], 900).splitlines()[-1] == "the first 1 of 900: name a kind or a principal to see the rest"
    assert keys_table([], 0) == "no keys"


def test_a_filter_that_is_neither_a_kind_nor_a_principal_is_refused_before_the_database() -> None:
    with pytest.raises(UsageError, match="a kind \\(ao, provider, learner, operator\\) or kind:id"):
        listed_keys("operators", revoked=False)


def _listing(keys: list[StoredKey], total: int) -> object:
    async def listed(*args: object) -> tuple[list[StoredKey], int]:
        return keys, total

    return listed


def test_json_gives_the_table_s_fields_for_scripts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = [
        StoredKey("0123456789abcdef", Principal.parse("operator:jo", frozenset({"erasure"})), "made by jo", MADE, None),
        StoredKey("fedcba9876543210", Principal.parse("operator:night"), None, MADE, MADE),
        StoredKey("00112233aabbccdd", Principal.parse("ao:RN9093"), "results system", MADE, None),
    ]
    monkeypatch.setattr(admin_commands, "_listed_keys", _listing(keys, 900))

    assert main(["credentials", "list", "--json"]) == ExitCode.OK

    captured = capsys.readouterr()
    assert json.loads(captured.out) == [
        {
            "key_id": "0123456789abcdef",
            "principal": "operator:jo",
            "duties": ["erasure"],
            "created_at": "2026-12-04T18:20:00+00:00",
            "revoked_at": None,
            "label": "made by jo",
            "created_by": None,
            "revoked_by": None,
        },
        {
            "key_id": "fedcba9876543210",
            "principal": "operator:night",
            "duties": ["every"],
            "created_at": "2026-12-04T18:20:00+00:00",
            "revoked_at": "2026-12-04T18:20:00+00:00",
            "label": None,
            "created_by": None,
            "revoked_by": None,
        },
        {
            "key_id": "00112233aabbccdd",
            "principal": "ao:RN9093",
            "duties": [],
            "created_at": "2026-12-04T18:20:00+00:00",
            "revoked_at": None,
            "label": "results system",
            "created_by": None,
            "revoked_by": None,
        },
    ]
    assert captured.err == "lrs: the first 3 of 900: name a kind or a principal to see the rest\n"


def test_json_is_for_list_only(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@127.0.0.1:1/lrs")

    assert main(["credentials", "create", "--principal", "operator:jo", "--json"]) == ExitCode.USAGE

    assert capsys.readouterr().err.startswith("lrs: --json is for list")
