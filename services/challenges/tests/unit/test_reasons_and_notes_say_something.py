"""A challenge's words reach a person: the learner's reason the AO (by email), the AO's note the learner. So a reason
says something a reader sees, a challenge resolved as upheld or rejected says why (the note is all the learner is
told: the portal asks for it, and so does the API, for every client), and a refusal says what to do in words."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError
from services.challenges.tests.unit.test_correcting_batch import (
    AS_AO,
    TOUCHES,
    FakeRecord,
    FakeStore,
    challenge,
    service,
)

import challenges.domain as domain
from challenges.api import ChallengeCreate, ChallengeResolve, _translate
from challenges.domain import ChallengeState, InvalidTransition
from lrs_contracts.challenge import ChallengeResolution
from lrs_platform.problems import invalid_request

INVISIBLE_ALONE = [
    "\u200b\u200b",  # zero-width spaces
    "   ",
    "\ufeff \u2060",  # a byte order mark, a word joiner
    "\u200d\n\t\u00a0",  # a zero-width joiner, a line break, a tab, a no-break space
    "\u202e\u2066\u2069",  # bidirectional controls
    "\u3164\u2800",  # a Hangul filler, the braille blank
]


def _refusal(body: dict[str, object], model: type[ChallengeCreate] | type[ChallengeResolve]) -> str | None:
    """The 422 detail the API answers for `body` (as `lrs_platform.http` says pydantic's issues), or None."""
    try:
        model.model_validate(body)
    except ValidationError as error:
        return invalid_request(error.errors(), ("body",)).detail
    return None


@pytest.mark.parametrize("reason", INVISIBLE_ALONE)
def test_a_reason_with_nothing_visible_is_refused_in_words(reason: str) -> None:
    said = _refusal({"achievement_id": str(uuid.uuid4()), "reason": reason}, ChallengeCreate)

    assert said == "body.reason: Say what is wrong with the data: the reason is empty"


@pytest.mark.parametrize("reason", ["\u200bThe grade is a 5", "5", "\u2060é\u2060", "👩\u200d💻 wrong"])
def test_a_reason_with_something_visible_among_invisible_characters_is_taken(reason: str) -> None:
    assert ChallengeCreate(achievement_id=uuid.uuid4(), reason=reason).reason == reason


def test_a_reason_or_a_note_too_long_is_refused_in_words_saying_the_limit() -> None:
    reason = _refusal({"achievement_id": str(uuid.uuid4()), "reason": "x" * 2001}, ChallengeCreate)
    note = _refusal({"resolution": "rejected", "note": "y" * 2345}, ChallengeResolve)

    assert reason == "body.reason: Write at most 2,000 characters: the reason has 2,001"
    assert note == "body.note: Write at most 2,000 characters: the note has 2,345"
    assert ChallengeCreate(achievement_id=uuid.uuid4(), reason=f"  {'x' * 2000}  ").reason == "x" * 2000


@pytest.mark.parametrize("note", INVISIBLE_ALONE)
def test_a_note_with_nothing_visible_counts_as_none(note: str) -> None:
    assert ChallengeResolve.model_validate({"resolution": "corrected", "note": note}).note is None


@pytest.mark.parametrize("resolution", [ChallengeResolution.UPHELD, ChallengeResolution.REJECTED])
@pytest.mark.parametrize("note", [None, " \u200b "])
async def test_upheld_or_rejected_without_a_note_is_refused_and_changes_nothing(
    resolution: ChallengeResolution, note: str | None
) -> None:
    open_one = challenge()
    store = FakeStore(open_one)
    sent = ChallengeResolve.model_validate({"resolution": resolution.value, "note": note})

    with pytest.raises(domain.NoteRequired) as refused:
        await service(store, FakeRecord(TOUCHES)).resolve(AS_AO, open_one.challenge_id, sent.resolution, sent.note)

    problem = _translate(refused.value).problem
    assert (problem.status, problem.code, problem.title) == (422, "RESOLUTION_NOTE_REQUIRED", "Note required")
    assert problem.detail is not None
    assert problem.detail.startswith("Say why in the note, in words the learner will understand:")
    assert f"resolved as {resolution.value} (" in problem.detail
    assert store.rows[open_one.challenge_id].state is ChallengeState.ACKNOWLEDGED
    assert store.outbox == []


@pytest.mark.parametrize("resolution", [ChallengeResolution.UPHELD, ChallengeResolution.REJECTED])
async def test_upheld_or_rejected_with_a_note_is_resolved_and_the_learner_reads_it(
    resolution: ChallengeResolution,
) -> None:
    open_one = challenge()
    store = FakeStore(open_one)

    changed = await service(store, FakeRecord(TOUCHES)).resolve(
        AS_AO, open_one.challenge_id, resolution, "The grade matches the centre's marks."
    )

    assert (changed.challenge.state, changed.challenge.note) == (
        ChallengeState.RESOLVED,
        "The grade matches the centre's marks.",
    )


def test_a_refused_change_of_state_is_said_as_a_sentence() -> None:
    problem = _translate(InvalidTransition(ChallengeState.RESOLVED, "resolved")).problem

    assert problem.detail is not None
    assert problem.detail == "This challenge is closed, so it cannot be resolved again. Nothing more is needed."
