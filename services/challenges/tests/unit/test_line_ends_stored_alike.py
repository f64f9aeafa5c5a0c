"""A challenge's note and reason are kept with their lines ended by LF, whichever surface sent them (report parity,
finding 5): the portal turned a browser's CR LF into LF, the API and `lrs` kept CR LF (a note from a Windows file, an
MIS on Windows), so the learner's record of the same note depended on who resolved the challenge."""

from __future__ import annotations

import uuid

import pytest

from challenges.api import MAX_TEXT_LENGTH, ChallengeCreate, ChallengeResolve


@pytest.mark.parametrize(
    "written",
    ["Line one\r\nLine two", "Line one\rLine two", "Line one\nLine two", "  Line one\r\nLine two\r\n"],
    ids=["cr-lf", "lone-cr", "lf", "cr-lf-surrounded"],
)
def test_a_note_and_a_reason_are_kept_with_lf_line_ends(written: str) -> None:
    resolved = ChallengeResolve.model_validate({"resolution": "upheld", "note": written})
    raised = ChallengeCreate.model_validate({"achievement_id": str(uuid.uuid4()), "reason": written})

    assert resolved.note == "Line one\nLine two"
    assert raised.reason == "Line one\nLine two"


def test_a_note_of_the_limit_written_with_cr_lf_is_counted_as_kept() -> None:
    """2,000 characters once its 999 CR LF are LF (2,999 as sent): the portal counts it so, and takes it."""
    note = "a\r\n" * 999 + "ab"
    resolved = ChallengeResolve.model_validate({"resolution": "upheld", "note": note})

    assert resolved.note is not None and len(resolved.note) == MAX_TEXT_LENGTH
    assert "\r" not in resolved.note
