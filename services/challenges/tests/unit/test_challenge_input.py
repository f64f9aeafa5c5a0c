"""A learner's reason and an AO's note hold only what can be stored and sent on (they reach the AO's email)."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from challenges.api import ChallengeCreate, ChallengeResolve


def test_reasons_and_notes_over_several_lines_are_taken() -> None:
    raised = ChallengeCreate(achievement_id=uuid.uuid4(), reason="The grade is wrong.\r\nIt should be a 7.")
    assert raised.reason.endswith("a 7.")
    assert ChallengeResolve.model_validate({"resolution": "upheld", "note": "Checked:\n\tthe grade stands."}).note


@pytest.mark.parametrize("value", ["Wrong grade\x00", "\x1b[31mWrong\x1b[0m", "Wrong \ud800", "Wrong \ufdd0"])
def test_a_control_character_or_a_lone_surrogate_is_refused_naming_the_field(value: str) -> None:
    with pytest.raises(ValidationError) as raised:
        ChallengeCreate(achievement_id=uuid.uuid4(), reason=value)
    assert raised.value.errors()[0]["loc"] == ("reason",)
    with pytest.raises(ValidationError) as resolved:
        ChallengeResolve.model_validate({"resolution": "rejected", "note": value})
    assert resolved.value.errors()[0]["loc"] == ("note",)
