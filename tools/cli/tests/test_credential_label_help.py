"""`lrs credentials create --label`: the label is free text kept for good, in clear, and shown by `lrs credentials
list`; an operator making a learner's key would naturally write their name in it. The help says never to (DPO
walk, finding 4); an erasure empties the labels of the learner's keys (lrs_platform.credential_store)."""

from __future__ import annotations

import re

import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main


def test_the_label_option_says_it_must_never_hold_a_persons_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["credentials", "--help"]) == ExitCode.OK
    shown = " ".join(re.sub(r"[│╭╮╰╯─]", " ", capsys.readouterr().out).split())

    assert "kept for good, in clear, and shown by list: never a person's name or date of birth" in shown
