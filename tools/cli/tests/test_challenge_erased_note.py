"""A challenge of an erased learner: resolving it with a note says the note was not kept (the service drops it and
answers `"note": null`), and `lrs challenges list` shows "(erased)" only where a note may have existed."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lrs_cli.challenge_commands import dropped_note, note_text
from lrs_cli.client import ExitCode
from lrs_cli.main import main

from .answering import answered_by

CHALLENGE_ID = "6f0c1b7f-0b6c-4a53-9d59-4e4a531f2d11"
ERASED_AND_RESOLVED = {
    "challenge_id": CHALLENGE_ID,
    "state": "resolved",
    "resolution": "upheld",
    "reason": None,
    "note": None,
    "personal_data_erased": True,
}


@pytest.mark.parametrize("state", ["raised", "acknowledged"])
def test_an_erased_learners_challenge_not_resolved_never_had_a_note_so_none_is_shown_as_erased(state: str) -> None:
    assert note_text({"state": state, "reason": None, "note": None, "personal_data_erased": True}).plain == "—"


def test_a_resolved_one_may_have_had_a_note_so_it_is_shown_as_erased() -> None:
    assert note_text(ERASED_AND_RESOLVED).plain == "(erased)"


def test_a_note_kept_is_shown_and_no_note_of_a_learner_not_erased_is_empty() -> None:
    assert note_text({"state": "resolved", "note": "Checked with the centre"}).plain == "Checked with the centre"
    assert note_text({"state": "resolved", "note": None, "personal_data_erased": False}).plain == ""


def test_a_note_given_and_answered_null_for_an_erased_learner_is_said_to_be_dropped() -> None:
    assert dropped_note("Checked with the centre", ERASED_AND_RESOLVED) == (
        "the note was not kept: the learner's personal data was erased, so nothing is written for them"
    )
    assert dropped_note(None, ERASED_AND_RESOLVED) is None
    assert dropped_note("Checked", {**ERASED_AND_RESOLVED, "personal_data_erased": False}) is None


def test_resolving_an_erased_learners_challenge_with_a_note_warns_that_it_was_not_kept(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sent: list[dict[str, Any]] = []

    def challenges(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json=ERASED_AND_RESOLVED)  # as the service answers: the note dropped

    answered_by(monkeypatch, challenges)

    code = main(["challenges", "resolve", CHALLENGE_ID, "--resolution", "upheld", "--note", "Checked with the centre"])

    captured = capsys.readouterr()
    assert code == ExitCode.OK
    assert sent[0]["note"] == "Checked with the centre"
    assert "resolved (Data confirmed correct)" in captured.out
    assert "the note was not kept: the learner's personal data was erased" in captured.err
