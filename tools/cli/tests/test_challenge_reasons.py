"""`lrs challenges list` shows an erased learner's reason as "(erased)", never an empty or missing cell; `lrs
challenges contact` sets a contact whole."""

from __future__ import annotations

import pytest

from lrs_cli.challenge_commands import described, note_text, reason_text, uln_shown
from lrs_cli.client import ExitCode
from lrs_cli.main import main


def test_a_reason_is_shown_as_given_and_an_erased_one_as_erased() -> None:
    assert reason_text({"reason": "The grade is wrong [Merit]"}).plain == "The grade is wrong [Merit]"
    assert reason_text({"reason": None, "personal_data_erased": True}).plain == "(erased)"
    assert reason_text({"reason": None}).plain == "(erased)"


def test_someone_elses_words_are_shown_with_their_bidi_controls_as_code_points() -> None:
    """Obeyed, a right-to-left override would show the AO the words after it reversed (decision 0138)."""
    reason = {"reason": "The grade <b>is</b> wrong & \u202eevil"}
    assert reason_text(reason).plain == "The grade <b>is</b> wrong & [U+202E]evil"
    assert note_text({"reason": "x", "note": "Checked \u2066again"}).plain == "Checked [U+2066]again"


def test_the_aos_note_is_shown_for_the_learner_and_an_erased_one_as_erased() -> None:
    resolved = {"reason": "The grade is wrong", "resolution": "corrected", "note": "Corrected by batch 42"}
    assert note_text(resolved).plain == "Corrected by batch 42"
    assert note_text({"reason": "x", "note": None}).plain == ""
    erased = {"reason": None, "note": None, "personal_data_erased": True}
    assert note_text({**erased, "state": "resolved", "resolution": "upheld"}).plain == "(erased)"


def test_a_contact_is_set_whole_or_only_read(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A part of a contact is a usage error, said before anything is sent."""
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setenv("LRS_NOTIFIER_URL", "http://127.0.0.1:9")  # nothing listens there

    code = main(["challenges", "contact", "RN9093", "--email", "challenges@ao.example"])

    assert code == ExitCode.USAGE
    assert "a contact is set whole: give --given-name, --family-name, --telephone too" in capsys.readouterr().err


def test_a_resolution_is_shown_in_the_words_people_read() -> None:
    assert described({"challenge_id": "c1", "state": "resolved", "resolution": "upheld"}) == (
        "challenge c1: resolved (Data confirmed correct)"
    )


def test_a_merged_learners_challenge_is_listed_under_the_uln_the_achievement_was_recorded_under() -> None:
    raised_by_master = {"uln": "1000000043", "achievement": {"qualification_number": "6001166X", "uln": "6936002314"}}
    assert uln_shown(raised_by_master) == "6936002314"
    assert uln_shown({"uln": "1000000043", "achievement": None}) == "1000000043"  # raised before it was kept
    assert uln_shown({"uln": "1000000043"}) == "1000000043"
