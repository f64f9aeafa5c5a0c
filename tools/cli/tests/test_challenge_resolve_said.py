"""`lrs challenges resolve`: a corrected resolution without its batch says what to give and where its id comes
from; a batch named with another resolution says it goes only with corrected; an unknown resolution is refused as
every other choice is ("--resolution must be one of …"). All before the service is asked (exit status 2)."""

from __future__ import annotations

import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main

CHALLENGE_ID = "6f0c1b7f-0b6c-4a53-9d59-4e4a531f2d11"
BATCH_ID = "0b6c6a4e-4a53-4f1e-9d59-6f0c1b7f2d11"


def _resolve(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str]:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setenv("LRS_CHALLENGES_URL", "http://127.0.0.1:9")  # nothing listens there: refused before sending
    code = main(["challenges", "resolve", CHALLENGE_ID, *arguments])
    return code, " ".join(capsys.readouterr().err.replace("│", " ").split())


def test_corrected_without_its_batch_says_to_name_it_and_where_the_ids_are_listed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _resolve(monkeypatch, capsys, "--resolution", "corrected", "--note", "x")

    assert code == ExitCode.USAGE
    assert (
        "--resolution corrected needs --correcting-batch BATCH_ID: name the batch that corrected it"
        f" (`lrs challenges batches {CHALLENGE_ID}` lists them)"
    ) in err


def test_a_batch_with_another_resolution_says_it_goes_only_with_corrected(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _resolve(monkeypatch, capsys, "--resolution", "upheld", "--correcting-batch", BATCH_ID)

    assert code == ExitCode.USAGE
    assert "--correcting-batch goes only with --resolution corrected, not upheld" in err


def test_an_unknown_resolution_is_refused_as_every_choice_is(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _resolve(monkeypatch, capsys, "--resolution", "bogus")

    assert code == ExitCode.USAGE
    assert "--resolution must be one of corrected, upheld, rejected, not 'bogus'" in err
    assert "Value error" not in err
