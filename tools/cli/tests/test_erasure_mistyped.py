"""`lrs learners erase` judges the ULN as the portal's erasure page does (decisions 0132, 0145): a wrong check digit
is most likely a typo, a usage error before anything is asked, unless --mistyped says it is the ULN an AO's batch
carried."""

from __future__ import annotations

import pytest

from lrs_cli.client import ExitCode
from lrs_cli.erasure_commands import mistyped_refusal
from lrs_cli.main import main

WRONG_CHECK_DIGIT = "1000000044"
RIGHT_CHECK_DIGIT = "1000000043"


def test_a_uln_whose_check_digit_is_wrong_is_refused_as_most_likely_mistyped_and_names_the_flag() -> None:
    why = mistyped_refusal(WRONG_CHECK_DIGIT, mistyped=False)

    assert why is not None
    assert f"the check digit of ULN {WRONG_CHECK_DIGIT} is wrong (RV002)" in why
    assert "most likely mistyped" in why
    assert "--mistyped erases what that batch carried under it" in why


def test_with_mistyped_a_wrong_check_digit_goes_to_validation_which_erases_what_a_batch_carried() -> None:
    assert mistyped_refusal(WRONG_CHECK_DIGIT, mistyped=True) is None


def test_a_learners_uln_goes_to_validation_and_mistyped_is_refused_beside_it() -> None:
    assert mistyped_refusal(RIGHT_CHECK_DIGIT, mistyped=False) is None
    assert "--mistyped is for a ULN whose check digit is wrong" in str(
        mistyped_refusal(RIGHT_CHECK_DIGIT, mistyped=True)
    )


def test_the_temporary_uln_is_left_to_validation_which_refuses_it_rv003() -> None:
    assert mistyped_refusal("9999999999", mistyped=False) is None


def test_erasing_a_mistyped_uln_is_a_usage_error_before_validation_is_asked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setenv("LRS_VALIDATION_URL", "http://127.0.0.1:9")  # nothing listens there

    code = main(["learners", "erase", WRONG_CHECK_DIGIT, "--reason", "asked by the learner", "--yes"])

    assert code == ExitCode.USAGE
    assert "most likely mistyped" in capsys.readouterr().err


def test_with_mistyped_the_erasure_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setenv("LRS_VALIDATION_URL", "http://127.0.0.1:9")

    code = main(["learners", "erase", WRONG_CHECK_DIGIT, "--reason", "an AO's typo", "--yes", "--mistyped"])

    assert code == ExitCode.UNREACHABLE
