from __future__ import annotations

import secrets
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from challenges.domain import (
    Challenge,
    ChallengePage,
    ChallengeQuery,
    ChallengeState,
    InvalidTransition,
    LearnerDataErased,
    acknowledge,
    event_id_of,
    event_ids_of,
    evolve,
    may_manage,
    raise_challenge,
    resolve,
    visible_to,
    within_reach,
)
from challenges.service import NotAllowed, reachable_query
from lrs_contracts.challenge import ChallengeRaisedV1, ChallengeResolution
from lrs_contracts.envelope import deterministic_id
from lrs_platform.identity import Principal
from lrs_platform.keyring import DATA_KEY_BYTES, ERASED, LearnerKey, Purpose, SealBroken
from lrs_platform.paging import PagePosition

AT = datetime(2024, 8, 22, 9, 0, tzinfo=UTC)
CHALLENGE_ID = uuid.UUID("11111111-2222-4333-8444-555555555555")
ACHIEVEMENT_ID = uuid.UUID("66666666-7777-4888-9999-000000000000")
ULN = "1000000043"
KEY = LearnerKey(ULN, secrets.token_bytes(DATA_KEY_BYTES))


def raised() -> Challenge:
    return evolve(None, raise_challenge(CHALLENGE_ID, ACHIEVEMENT_ID, "RN5133", ULN, "wrong grade", KEY), AT, KEY)


def test_raise_starts_a_challenge_in_raised_state() -> None:
    challenge = raised()
    assert challenge.state is ChallengeState.RAISED
    assert (challenge.ao_id, challenge.uln, challenge.raised_at) == ("RN5133", "1000000043", AT)


def test_raised_then_acknowledged_then_resolved() -> None:
    acknowledged = evolve(raised(), acknowledge(raised()), AT)
    assert acknowledged.state is ChallengeState.ACKNOWLEDGED
    event = resolve(acknowledged, ChallengeResolution.CORRECTED, "grade fixed in batch 42", KEY)
    resolved = evolve(acknowledged, event, AT, KEY)
    assert resolved.state is ChallengeState.RESOLVED
    assert (resolved.resolution, resolved.note) == (ChallengeResolution.CORRECTED, "grade fixed in batch 42")
    assert event.achievement_id == ACHIEVEMENT_ID


def test_a_raised_challenge_may_be_resolved_without_acknowledgement() -> None:
    resolved = evolve(raised(), resolve(raised(), ChallengeResolution.REJECTED, "not a data error"), AT)
    assert resolved.state is ChallengeState.RESOLVED


def test_acknowledging_twice_or_after_resolution_is_refused() -> None:
    acknowledged = evolve(raised(), acknowledge(raised()), AT)
    with pytest.raises(InvalidTransition):
        acknowledge(acknowledged)
    resolved = evolve(acknowledged, resolve(acknowledged, ChallengeResolution.UPHELD, "as awarded"), AT)
    with pytest.raises(InvalidTransition):
        acknowledge(resolved)
    with pytest.raises(InvalidTransition):
        resolve(resolved, ChallengeResolution.CORRECTED, None)


def test_event_ids_are_deterministic_and_differ_per_transition() -> None:
    challenge = raised()
    first = event_id_of(acknowledge(challenge))
    assert first == event_id_of(acknowledge(challenge))
    raise_id = event_id_of(raise_challenge(CHALLENGE_ID, ACHIEVEMENT_ID, "RN5133", ULN, "x", KEY))
    resolve_id = event_id_of(resolve(challenge, ChallengeResolution.UPHELD, "as awarded"))
    assert len({first, raise_id, resolve_id}) == 3
    v1_raise_id = deterministic_id("lrs.challenge", CHALLENGE_ID, ChallengeRaisedV1.model_fields["event_type"].default)
    assert {first, raise_id, resolve_id, v1_raise_id} <= set(event_ids_of(CHALLENGE_ID))


def test_the_reason_travels_sealed_under_the_learners_key_and_the_row_keeps_it_in_clear() -> None:
    event = raise_challenge(CHALLENGE_ID, ACHIEVEMENT_ID, "RN5133", ULN, "the grade is not mine", KEY)
    assert "the grade is not mine" not in event.model_dump_json()
    assert KEY.open_text(Purpose.CHALLENGE_REASON, event.reason_sealed) == "the grade is not mine"
    with pytest.raises(SealBroken):
        LearnerKey(ULN, secrets.token_bytes(DATA_KEY_BYTES)).open_text(Purpose.CHALLENGE_REASON, event.reason_sealed)
    assert evolve(None, event, AT, KEY).reason == "the grade is not mine"


def test_the_note_travels_sealed_with_the_learners_uln_and_never_in_clear() -> None:
    event = resolve(raised(), ChallengeResolution.UPHELD, "checked with the centre", KEY)
    assert (event.note, event.uln) == (None, ULN)
    assert event.note_sealed is not None
    assert KEY.open_text(Purpose.CHALLENGE_NOTE, event.note_sealed) == "checked with the centre"


def test_an_erased_learner_raises_nothing() -> None:
    with pytest.raises(LearnerDataErased):
        raise_challenge(CHALLENGE_ID, ACHIEVEMENT_ID, "RN5133", ULN, "wrong grade", ERASED)


def test_an_erased_learners_challenge_is_resolved_without_the_note() -> None:
    for challenge, key in ((raised(), ERASED), (replace(raised(), reason=None, personal_data_erased=True), KEY)):
        event = resolve(challenge, ChallengeResolution.REJECTED, "not a data error", key)
        assert (event.note, event.note_sealed) == (None, None)
        resolved = evolve(challenge, event, AT, key)
        assert (resolved.state, resolved.resolution, resolved.note) == (
            ChallengeState.RESOLVED,
            ChallengeResolution.REJECTED,
            None,
        )


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


def test_a_page_read_one_beyond_its_limit_ends_where_the_next_starts() -> None:
    found = [replace(raised(), challenge_id=uuid.uuid4(), raised_at=AT.replace(minute=59 - n)) for n in range(4)]

    full = ChallengePage.of(found, 3)
    last = ChallengePage.of(found[:3], 3)

    assert full.challenges == found[:3]
    assert full.next == PagePosition(found[2].raised_at, found[2].challenge_id)
    assert (last.challenges, last.next) == (found[:3], None)
    assert ChallengePage.of([], 3) == ChallengePage([], None)


def test_a_query_reaches_only_what_its_principal_may_see() -> None:
    everyone = ChallengeQuery()

    assert within_reach(everyone, Principal.parse("ao:RN5133")) == ChallengeQuery(ao_id="RN5133")
    assert within_reach(ChallengeQuery(ao_id="RN9093"), Principal.parse("ao:RN5133")) is None
    assert within_reach(everyone, Principal.parse(f"learner:{ULN}")) == ChallengeQuery(ulns=frozenset({ULN}))
    assert within_reach(ChallengeQuery(ulns=frozenset({"1000000051"})), Principal.parse(f"learner:{ULN}")) is None
    assert within_reach(ChallengeQuery(ao_id="RN9093"), Principal.parse("operator:ops")) == ChallengeQuery(
        ao_id="RN9093"
    )


def test_a_merged_learner_reaches_the_challenges_of_every_uln_of_theirs_and_no_others() -> None:
    master, merged_uln, other = ULN, "1000000051", "1000000078"
    learner, person = Principal.parse(f"learner:{master}"), frozenset({master, merged_uln})
    both = ChallengeQuery(ulns=person)

    assert within_reach(ChallengeQuery(), learner, person) == both
    # any of their ULNs names the person: the master's filter found nothing raised under the ULN merged into it
    assert within_reach(ChallengeQuery(ulns=frozenset({master})), learner, person) == both
    assert within_reach(ChallengeQuery(ulns=frozenset({merged_uln})), learner, person) == both
    assert within_reach(ChallengeQuery(ulns=frozenset({merged_uln, other})), learner, person) is None
    assert visible_to(replace(raised(), uln=merged_uln), learner, person)
    assert not visible_to(replace(raised(), uln=other), learner, person)


def test_a_filter_naming_what_is_not_the_callers_is_refused_not_answered_with_nothing() -> None:
    """As another AO's batches, achievements and reports are refused: an empty list would say it has none."""
    with pytest.raises(NotAllowed, match=r"sees only the challenges to its own achievements.*\(RN5133\)"):
        reachable_query(ChallengeQuery(ao_id="RN9093"), Principal.parse("ao:RN5133"), frozenset())
    with pytest.raises(NotAllowed, match="sees only the challenges they raised"):
        reachable_query(ChallengeQuery(ulns=frozenset({"1000000051"})), Principal.parse(f"learner:{ULN}"), frozenset())
    assert reachable_query(ChallengeQuery(ao_id="RN5133"), Principal.parse("ao:RN5133"), frozenset()) == ChallengeQuery(
        ao_id="RN5133"
    )
