"""An erased learner's challenge is resolved as upheld or rejected without a note: their keys are revoked, so a note
would be neither kept nor read (decision 0080), and asking the AO for one would have it write words that vanish. Any
other learner's challenge still needs one: it is all they are told of why."""

from __future__ import annotations

from dataclasses import replace

import pytest
from services.challenges.tests.unit.test_correcting_batch import (
    AS_AO,
    TOUCHES,
    FakeRecord,
    FakeStore,
    challenge,
    service,
)

from challenges.domain import ChallengeState, NoteRequired, resolve
from lrs_contracts.challenge import ChallengeResolution

NOTHING_CHANGED = [ChallengeResolution.UPHELD, ChallengeResolution.REJECTED]


@pytest.mark.parametrize("resolution", NOTHING_CHANGED)
@pytest.mark.parametrize("note", [None, " \u200b "])
def test_an_erased_learners_challenge_is_resolved_without_a_note(
    resolution: ChallengeResolution, note: str | None
) -> None:
    erased = replace(challenge(), reason=None, personal_data_erased=True)

    event = resolve(erased, resolution, note)

    assert (event.resolution, event.note, event.note_sealed) == (resolution, None, None)


@pytest.mark.parametrize("resolution", NOTHING_CHANGED)
def test_any_other_learners_challenge_still_needs_a_note(resolution: ChallengeResolution) -> None:
    with pytest.raises(NoteRequired):
        resolve(challenge(), resolution, None)


@pytest.mark.parametrize("resolution", NOTHING_CHANGED)
async def test_the_service_resolves_an_erased_learners_challenge_sent_without_a_note(
    resolution: ChallengeResolution,
) -> None:
    erased = replace(challenge(), reason=None, personal_data_erased=True)
    store = FakeStore(erased)

    changed = await service(store, FakeRecord(TOUCHES)).resolve(AS_AO, erased.challenge_id, resolution, None)

    assert (changed.challenge.state, changed.challenge.resolution, changed.challenge.note) == (
        ChallengeState.RESOLVED,
        resolution,
        None,
    )
    assert len(store.outbox) == 1
