"""`lrs challenges list` shows an erased learner's reason as "(erased)", never an empty or missing cell."""

from __future__ import annotations

from lrs_cli.challenge_commands import reason_text


def test_a_reason_is_shown_as_given_and_an_erased_one_as_erased() -> None:
    assert reason_text({"reason": "The grade is wrong [Merit]"}).plain == "The grade is wrong [Merit]"
    assert reason_text({"reason": None, "personal_data_erased": True}).plain == "(erased)"
    assert reason_text({"reason": None}).plain == "(erased)"
