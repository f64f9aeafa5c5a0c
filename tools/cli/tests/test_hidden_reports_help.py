"""`lrs learners hidden-reports --help` names every way a provider's link ends: a learner file, a merge, or an
operator's `lrs learners unlink` (whose provider's reports are listed there too)."""

from __future__ import annotations

import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main


def test_the_help_names_a_learner_file_a_merge_and_an_unlink(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "200")

    assert main(["learners", "hidden-reports", "--help"]) == ExitCode.OK

    helped = " ".join(capsys.readouterr().out.split())
    assert "providers whose link to a learner ended (a learner file, a merge, or `lrs learners unlink`)" in helped
