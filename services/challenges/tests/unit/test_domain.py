from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from challenges.domain import (
    Challenge,
    ChallengeState,
    InvalidTransition,
    acknowledge,
    event_id_of,
    evolve,
    may_manage,
    raise_challenge,
    resolve,
    visible_to,
)
from lrs_contracts.challenge import ChallengeResolution
from lrs_platform.identity import Principal

AT = datetime(2024, 8, 22, 9, 0, tzinfo=UTC)
CHALLENGE_ID = uuid.UUID("11111111-2222-4333-8444-555555555555")
ACHIEVEMENT_ID = uuid.UUID("66666666-7777-4888-9999-000000000000")


def raised() -> Challenge:
    return evolve(None, raise_challenge(CHALLENGE_ID, ACHIEVEMENT_ID, "RN5133", "1000000043", "wrong grade"), AT)


def test_raise_starts_a_challenge_in_raised_state() -> None:
    challenge = raised()
    assert challenge.state is ChallengeState.RAISED
    assert (challenge.ao_id, challenge.uln, challenge.raised_at) == ("RN5133", "1000000043", AT)


def test_raised_then_acknowledged_then_resolved() -> None:
    acknowledged = evolve(raised(), acknowledge(raised()), AT)
    assert acknowledged.state is ChallengeState.ACKNOWLEDGED
    event = resolve(acknowledged, ChallengeResolution.CORRECTED, "grade fixed in batch 42")
    resolved = evolve(acknowledged, event, AT)
    assert resolved.state is ChallengeState.RESOLVED
    assert (resolved.resolution, resolved.note) == (ChallengeResolution.CORRECTED, "grade fixed in batch 42")
    assert event.achievement_id == ACHIEVEMENT_ID


def test_a_raised_challenge_may_be_resolved_without_acknowledgement() -> None:
    resolved = evolve(raised(), resolve(raised(), ChallengeResolution.REJECTED, None), AT)
    assert resolved.state is ChallengeState.RESOLVED


def test_acknowledging_twice_or_after_resolution_is_refused() -> None:
    acknowledged = evolve(raised(), acknowledge(raised()), AT)
    with pytest.raises(InvalidTransition):
        acknowledge(acknowledged)
    resolved = evolve(acknowledged, resolve(acknowledged, ChallengeResolution.UPHELD, None), AT)
    with pytest.raises(InvalidTransition):
        acknowledge(resolved)
    with pytest.raises(InvalidTransition):
        resolve(resolved, ChallengeResolution.CORRECTED, None)


def test_event_ids_are_deterministic_and_differ_per_transition() -> None:
    challenge = raised()
    first = event_id_of(acknowledge(challenge))
    assert first == event_id_of(acknowledge(challenge))
    raise_id = event_id_of(raise_challenge(CHALLENGE_ID, ACHIEVEMENT_ID, "RN5133", "1000000043", "x"))
    resolve_id = event_id_of(resolve(challenge, ChallengeResolution.UPHELD, None))
    assert len({first, raise_id, resolve_id}) == 3


@pytest.mark.parametrize(
    ("principal", "sees", "manages"),
    [
        ("ao:RN5133", True, True),
        ("ao:RN9999", False, False),
        ("learner:1000000043", True, False),
        ("learner:1026893096", False, False),
        ("provider:10000001", False, False),
        ("operator:alice", True, True),
    ],
)
def test_who_sees_and_who_manages(principal: str, sees: bool, manages: bool) -> None:
    caller = Principal.parse(principal)
    assert visible_to(raised(), caller) is sees
    assert may_manage(raised(), caller) is manages
