"""What `lrs learners erase` answers, which is what lands in a ticket: a dead letter in the Sandpit holds the
erasure too, and `lrs dlq list` (live) does not show it, so the answer names `lrs --sandpit dlq list --service
all`; and the emptied values stay in the tables' files, the WAL and backups until the tables are rewritten (VACUUM
FULL), not only until today's backups expire (beyond walk, findings 3 and 7)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from lrs_cli.client import ExitCode
from lrs_cli.erasure_commands import erasure_text
from lrs_cli.main import main

ULN = "4681005753"
ERASED = {"erasure_id": "7", "uln": ULN, "erased_by": "operator:dpo", "erased_at": "2026-12-06T09:00:00Z"}
OPERATIONS = "docs/operations.md"


def _erased(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    real_client = httpx.Client

    def fake_client(*args: Any, **kwargs: Any) -> httpx.Client:
        transport = httpx.MockTransport(lambda request: httpx.Response(201, json={**ERASED, "erased_with": []}))
        return real_client(*args, **{**kwargs, "transport": transport})

    monkeypatch.setattr(httpx, "Client", fake_client)
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    assert main(["learners", "erase", ULN, "--reason", "walk test", "--yes"]) == ExitCode.OK
    return capsys.readouterr().out


def test_the_answer_sends_the_operator_to_the_sandpits_dead_letters_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    said = _erased(monkeypatch, capsys)

    assert "unless a dead letter holds it: `lrs dlq list` and `lrs --sandpit dlq list --service all`" in said


def test_the_commands_the_answer_names_exist(capsys: pytest.CaptureFixture[str]) -> None:
    said = erasure_text({**ERASED, "erased_with": []}, erased_now=True)
    named = re.findall(r"`lrs ([^`]+)`", said)

    assert named == ["dlq list", "--sandpit dlq list --service all"]
    for command in named:
        assert main([*command.split(), "--help"]) == ExitCode.OK, command


def test_the_answer_says_the_files_and_backups_hold_the_values_until_the_tables_are_rewritten(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    said = _erased(monkeypatch, capsys)

    assert (
        "nor in the database's files and backups once the tables are rewritten (VACUUM FULL: docs/operations.md,"
        ' "What stays in PostgreSQL\'s files") and the backups from before that expire (30 days)'
    ) in " ".join(said.split())
    assert "backups once those from before today expire" not in said


def test_the_section_the_answer_names_is_in_the_operations_guide() -> None:
    guide = (Path(__file__).resolve().parents[3] / OPERATIONS).read_text(encoding="utf-8")
    assert "**What stays in PostgreSQL's files.**" in guide
    assert "VACUUM (FULL, ANALYZE) validation.learners" in guide
