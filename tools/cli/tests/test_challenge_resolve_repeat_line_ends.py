"""`lrs challenges resolve` of a challenge resolved already with the same note, its lines ended otherwise (CR LF: a note
read from a Windows file; a lone CR), is the repeat it is: "already", exit 0, as the portal's own check (`_resolved_as`)
takes it (report parity, finding 5). It said "with another note … nothing changed", exit 1. A note kept before the
service ended its lines with LF may hold CR LF: that one is the same note as its LF spelling too."""

from __future__ import annotations

from typing import Any

import pytest

from lrs_cli.challenge_commands import AoResolution, resolved_as_asked
from lrs_cli.client import ExitCode

from .test_challenge_resolve_repeated import CHALLENGE_ID, UPHELD, _run

KEPT_LF = {**UPHELD, "note": "Line one\nLine two"}
KEPT_CR_LF = {**UPHELD, "note": "Line one\r\nLine two"}  # resolved before the service ended lines with LF


@pytest.mark.parametrize(
    ("now", "note"),
    [
        pytest.param(KEPT_LF, "Line one\r\nLine two", id="kept-lf-given-cr-lf"),
        pytest.param(KEPT_LF, "Line one\rLine two", id="kept-lf-given-cr"),
        pytest.param(KEPT_LF, "Line one\r\nLine two\r\n", id="kept-lf-given-cr-lf-ending-with-one"),
        pytest.param(KEPT_CR_LF, "Line one\nLine two", id="kept-cr-lf-given-lf"),
    ],
)
def test_the_same_note_with_other_line_ends_is_a_repeat_done(
    now: dict[str, Any], note: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(monkeypatch, capsys, now, "--resolution", "upheld", "--note", note)

    assert (code, out, err) == (
        ExitCode.OK,
        f"challenge {CHALLENGE_ID}: resolved (Data confirmed correct) already\n",
        "",
    )


def test_another_note_is_still_another_whatever_its_line_ends() -> None:
    assert not resolved_as_asked(KEPT_LF, AoResolution.UPHELD, None, "Line one\r\nLine three")
    assert not resolved_as_asked(KEPT_LF, AoResolution.UPHELD, None, "Line one Line two")
    assert resolved_as_asked(KEPT_LF, AoResolution.UPHELD, None, "Line one\r\nLine two")
