"""`lrs credentials create --output FILE` never writes over a file: it may hold a key still in use."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main


def test_creating_a_key_into_an_existing_file_is_refused_before_any_key_is_made(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)  # no database is reached: the command stops first
    key_file = tmp_path / "operator.key"
    key_file.write_text("lrs_live_the_key_in_use\n")

    code = main(["credentials", "create", "--principal", "operator:alex", "--output", str(key_file)])

    assert code == ExitCode.USAGE
    assert f"--output {key_file} already exists" in capsys.readouterr().err
    assert key_file.read_text() == "lrs_live_the_key_in_use\n"
