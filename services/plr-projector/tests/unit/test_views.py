"""Who may read a PLR and what they see: pure rules, no I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from lrs_platform.identity import Principal
from plr_projector.projection import AchievementRow, CentreRow
from plr_projector.views import AccessDenied, LearnerErasedForProviders, LearnerGroup, audience_for, learning_events

ULN = "1000000043"
WHEN = datetime(2024, 6, 1, tzinfo=UTC)


LINKED_PROVIDER = "10000001"


def group(
    ability: int, ulns: tuple[str, ...] = (ULN,), linked: frozenset[str] = frozenset({LINKED_PROVIDER})
) -> LearnerGroup:
    return LearnerGroup(ULN, ULN, ulns, True, ability, linked_providers=linked)


def achievement(ao: str = "RN5133", qan: str = "6001166X", withdrawn: bool = False) -> AchievementRow:
    return AchievementRow(
        uln=ULN,
        ao_id=ao,
        qualification_number=qan,
        award_date=date(2024, 5, 20),
        achievement_id=uuid.uuid5(uuid.NAMESPACE_OID, ao + qan),
        status="F",
        withdrawn=withdrawn,
        version=1,
        pathway=None,
        grade="7",
        ukprn="10000001",
        language_for_assessment="English",
        credits=None,
        title="GCSE Mathematics",
        qualification_type="GCSE (9 to 1)",
        level="2",
        framework="RQF",
        kind="qualification",
        awarding_organisation_name="AQA",
        date_loaded=WHEN,
        last_changed_at=WHEN,
    )


def centre(qan: str = "6001166X") -> CentreRow:
    return CentreRow(ULN, "10000002", qan, uuid.uuid4(), uuid.uuid4(), "College", "Maths", "B", None, None, None, WHEN)


@pytest.mark.parametrize("ability", [0, 1])
def test_providers_read_learners_who_share_or_have_not_seen_the_notice(ability: int) -> None:
    audience = audience_for(Principal.parse("provider:10000001"), group(ability))
    assert audience.centre_data
    assert not audience.may_include_withdrawn


def test_a_provider_is_refused_with_wsec0206_when_the_learner_does_not_share() -> None:
    with pytest.raises(AccessDenied) as refused:
        audience_for(Principal.parse("provider:10000001"), group(2))
    assert refused.value.code == "WSEC0206"


@pytest.mark.parametrize("ability", [0, 1, 2])
def test_a_provider_not_linked_to_the_learner_is_refused_whatever_they_chose(ability: int) -> None:
    with pytest.raises(AccessDenied) as refused:
        audience_for(Principal.parse("provider:10000009"), group(ability))
    assert refused.value.code == "PROVIDER_NOT_LINKED"


def test_a_provider_linked_to_any_of_a_merged_learners_ulns_reads_them_all() -> None:
    merged = LearnerGroup(ULN, "1000000051", (ULN, "1000000051"), True, 1, linked_providers=frozenset({"10000003"}))
    assert audience_for(Principal.parse("provider:10000003"), merged).centre_data
    with pytest.raises(AccessDenied):
        audience_for(Principal.parse("provider:10000001"), merged)


@pytest.mark.parametrize("ability", [0, 1, 2])
def test_a_linked_provider_reads_nothing_of_an_erased_learner_whatever_they_chose(ability: int) -> None:
    erased = LearnerGroup(ULN, "1000000051", (ULN, "1000000051"), True, ability, frozenset({LINKED_PROVIDER}), True)
    with pytest.raises(LearnerErasedForProviders) as refused:
        audience_for(Principal.parse(f"provider:{LINKED_PROVIDER}"), erased)
    assert refused.value.code == "LEARNER_ERASED"
    with pytest.raises(AccessDenied) as unlinked:  # told it is not linked first, as before: nothing of the erasure
        audience_for(Principal.parse("provider:10000009"), erased)
    assert unlinked.value.code == "PROVIDER_NOT_LINKED"
    # what the learner, operators and AOs see is decided as before (decision 0012)
    assert audience_for(Principal.parse(f"learner:{ULN}"), erased).may_include_history
    assert audience_for(Principal.parse("operator:ops"), erased).centre_data
    assert audience_for(Principal.parse("ao:RN5133"), erased).ao_id == "RN5133"


def test_an_unregistered_uln_refuses_an_unlinked_provider_as_a_registered_one_does() -> None:
    unknown = LearnerGroup(ULN, ULN, (ULN,), False, 0)
    with pytest.raises(AccessDenied) as refused:
        audience_for(Principal.parse("provider:10000001"), unknown)
    assert refused.value.code == "PROVIDER_NOT_LINKED"


def test_the_learner_and_the_uploading_ao_still_read_a_non_sharing_plr() -> None:
    assert audience_for(Principal.parse(f"learner:{ULN}"), group(2)).ao_id is None
    assert audience_for(Principal.parse("ao:RN5133"), group(2)).ao_id == "RN5133"


def test_a_learner_reads_only_their_own_or_merged_ulns() -> None:
    with pytest.raises(AccessDenied):
        audience_for(Principal.parse("learner:1026893096"), group(1))
    merged = group(1, (ULN, "1026893096"))
    assert audience_for(Principal.parse("learner:1026893096"), merged).may_include_history


def test_an_ao_sees_only_its_own_uploads() -> None:
    audience = audience_for(Principal.parse("ao:RN5133"), group(1))
    assert not audience.centre_data  # providers' (ILR) reports of the learner are never read for an AO
    rows = [achievement("RN5133"), achievement("RN9999", qan="6001167X")]
    # Centre rows of the AO's own qualification and of another: neither shows, not even as supporting records.
    centre_rows = [centre(), centre("6001167X")]
    events = learning_events(audience, rows, centre_rows, set(), {}, include_withdrawn=False, include_history=False)
    assert [event["awarding_organisation_id"] for event in events] == ["RN5133"]
    assert all(event["source"] == "AO" and not event.get("supporting_records") for event in events)


def test_withdrawn_achievements_are_hidden_unless_asked_for() -> None:
    audience = audience_for(Principal.parse(f"learner:{ULN}"), group(1))
    rows = [achievement(withdrawn=True)]
    assert learning_events(audience, rows, [], set(), {}, include_withdrawn=False, include_history=False) == []
    shown = learning_events(audience, rows, [], set(), {}, include_withdrawn=True, include_history=False)
    assert shown[0]["withdrawn"] is True


def test_ao_data_has_precedence_and_the_centre_record_supports_it() -> None:
    audience = audience_for(Principal.parse(f"learner:{ULN}"), group(1))
    events = learning_events(
        audience,
        [achievement()],
        [centre(), centre("6001167X")],
        set(),
        {},
        include_withdrawn=False,
        include_history=False,
    )
    assert sorted(event["source"] for event in events) == ["AO", "ILR"]
    ao_event = next(event for event in events if event["source"] == "AO")
    assert ao_event["subject_code"] == "600/1166/X"
    assert [record["source"] for record in ao_event["supporting_records"]] == ["ILR"]


def test_a_withdrawn_ao_record_no_longer_hides_the_centre_record() -> None:
    audience = audience_for(Principal.parse(f"learner:{ULN}"), group(1))
    events = learning_events(
        audience, [achievement(withdrawn=True)], [centre()], set(), {}, include_withdrawn=False, include_history=False
    )
    assert [event["source"] for event in events] == ["ILR"]


def test_under_data_challenge_comes_from_open_challenges() -> None:
    audience = audience_for(Principal.parse("operator:ops"), group(1))
    row = achievement()
    events = learning_events(
        audience, [row], [], {row.achievement_id}, {}, include_withdrawn=False, include_history=False
    )
    assert events[0]["under_data_challenge"] == "Y"
