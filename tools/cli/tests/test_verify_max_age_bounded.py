"""`--max-age-days` beyond any credential's age is a usage error (exit 2), not a traceback."""

from pathlib import Path

import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main


def test_a_max_age_past_any_calendar_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    credential = tmp_path / "plr.json"
    credential.write_text("{}")

    assert main(["plr", "verify", str(credential), "--max-age-days", "800000"]) == ExitCode.USAGE

    err = capsys.readouterr().err
    assert "Traceback" not in err and "--max-age-days" in err
