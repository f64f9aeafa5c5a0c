"""A resolution travels as its wire value and is read by people in words (decisions 0143, 0149)."""

from __future__ import annotations

import uuid

from lrs_contracts.challenge import ChallengeResolution, ChallengeResolved, resolution_label
from lrs_contracts.registry import decode, encode, wrap


def test_people_read_each_resolution_in_words_and_a_value_this_release_does_not_know_as_it_came() -> None:
    assert [resolution_label(resolution.value) for resolution in ChallengeResolution] == [
        "Data corrected",
        "Data confirmed correct",
        "Rejected: not a data error",
        "Withdrawn by the learner",  # the learner's, not the AO's (decision 0194)
    ]
    assert resolution_label("reopened") == "reopened"


def test_a_resolved_event_carries_its_correcting_batch_and_one_written_before_it_still_reads() -> None:
    batch_id = uuid.uuid4()
    resolved = ChallengeResolved(
        challenge_id=uuid.uuid4(),
        achievement_id=uuid.uuid4(),
        ao_id="RN5133",
        resolution=ChallengeResolution.CORRECTED,
        correcting_batch_id=batch_id,
    )
    envelope = wrap(resolved, source="challenges", correlation_id=str(resolved.challenge_id))
    assert decode(encode(envelope))[1] == resolved

    written_before = envelope.model_copy(
        update={"data": resolved.model_dump(mode="json", exclude={"correcting_batch_id"})}
    )
    _, read = decode(encode(written_before))
    assert isinstance(read, ChallengeResolved)
    assert read.correcting_batch_id is None
