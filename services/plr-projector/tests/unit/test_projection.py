"""The projection as pure functions: rows in, events in, row changes out."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from tests.support.projector import summary

from lrs_contracts.challenge import ChallengeRaised, ChallengeRaisedV1, ChallengeResolution, ChallengeResolved
from lrs_contracts.envelope import Contract
from lrs_contracts.learner import (
    AbilityToShare,
    LearnerErased,
    LearnerProviderLinked,
    LearnerProviderUnlinked,
    LearnerRegistered,
    LearnerRegisteredV1,
    LearnerSharingChanged,
    LearnersMerged,
)
from lrs_contracts.plr import (
    AchievementData,
    AchievementKey,
    AchievementRecorded,
    AchievementReinstated,
    AchievementSuperseded,
    AchievementUpdated,
    AchievementWithdrawn,
    CentreAchievementReported,
    Provenance,
    ResultStatus,
)
from lrs_contracts.registry import encode, wrap
from plr_projector.projection import (
    CHALLENGE_TOPIC,
    LEARNER_TOPIC,
    PLR_TOPIC,
    BatchChanges,
    EventMeta,
    LearnerRow,
    Message,
    OperatorAction,
    Parked,
    ProjectionError,
    ProviderLinkRow,
    Snapshot,
    decode_message,
    evolve_achievement,
    needs_of,
    plr_learner,
    project_batch,
    stream_key,
)
from plr_projector.store import parked_row

from .log_messages import T0, ULN, project

OTHER_ULN = "1026893096"
BATCH = uuid.UUID(int=7)


def key(uln: str = ULN, ao: str = "RN5133", qan: str = "6001166X", award: date = date(2024, 5, 20)) -> AchievementKey:
    return AchievementKey(ao_id=ao, uln=uln, qualification_number=qan, award_date=award)


def provenance(line: int = 1) -> Provenance:
    return Provenance(batch_id=BATCH, line=line)


def recorded(status: ResultStatus = ResultStatus.FINAL, grade: str = "7", **key_args: Any) -> AchievementRecorded:
    return AchievementRecorded(
        achievement_id=uuid.UUID(int=1),
        key=key(**key_args),
        data=AchievementData(grade=grade),
        status=status,
        qualification=summary(),
        provenance=provenance(),
    )


def updated(status: ResultStatus, grade: str, **key_args: Any) -> AchievementUpdated:
    return AchievementUpdated(
        achievement_id=uuid.UUID(int=1),
        key=key(**key_args),
        data=AchievementData(grade=grade),
        status=status,
        provenance=provenance(),
    )


def superseded(grade: str, **key_args: Any) -> AchievementSuperseded:
    return AchievementSuperseded(
        achievement_id=uuid.UUID(int=1), key=key(**key_args), data=AchievementData(grade=grade), provenance=provenance()
    )


def withdrawn(**key_args: Any) -> AchievementWithdrawn:
    return AchievementWithdrawn(achievement_id=uuid.UUID(int=1), key=key(**key_args), provenance=provenance())


def reinstated(**key_args: Any) -> AchievementReinstated:
    return AchievementReinstated(achievement_id=uuid.UUID(int=1), key=key(**key_args), provenance=provenance())


class Log:
    """Appends records to an in-memory partition, with increasing offsets and times."""

    def __init__(self) -> None:
        self.offset = 0

    def message(
        self,
        payload: Contract | bytes,
        *,
        key: str | None = ULN,
        topic: str = PLR_TOPIC,
        event_id: uuid.UUID | None = None,
    ) -> Message:
        moment = T0 + timedelta(minutes=self.offset)
        value = (
            payload
            if isinstance(payload, bytes)
            else encode(wrap(payload, source="tests", correlation_id="c", event_id=event_id, occurred_at=moment))
        )
        encoded = None if key is None else key.encode()
        message = Message(topic, 0, self.offset, encoded, value, int(moment.timestamp() * 1000))
        self.offset += 1
        return message


META = EventMeta(uuid.UUID(int=99), T0)


def test_a_recorded_achievement_is_version_one_with_its_load_date() -> None:
    row, entry = evolve_achievement(None, recorded(ResultStatus.PROVISIONAL), META) or pytest.fail("no change")
    assert (row.status, row.withdrawn, row.version, row.grade) == ("P", False, 1, "7")
    assert row.date_loaded == T0
    assert (entry.change, entry.version, entry.status) == ("recorded", 1, "P")


def test_final_supersedes_provisional_and_keeps_both_in_history() -> None:
    log = Log()
    changes = project([log.message(recorded(ResultStatus.PROVISIONAL, grade="6")), log.message(superseded("7"))])
    (row,) = changes.achievements.values()
    assert (row.status, row.grade, row.version) == ("F", "7", 2)
    assert [(entry.change, entry.status, entry.grade) for entry in changes.history] == [
        ("recorded", "P", "6"),
        ("superseded", "F", "7"),
    ]


def test_a_final_record_of_a_provisional_achievement_supersedes_it() -> None:
    log = Log()
    changes = project([log.message(recorded(ResultStatus.PROVISIONAL)), log.message(recorded(ResultStatus.FINAL))])
    (row,) = changes.achievements.values()
    assert row.status == "F"
    assert changes.history[-1].change == "superseded"


@pytest.mark.parametrize(
    "late",
    [recorded(ResultStatus.PROVISIONAL, grade="4"), updated(ResultStatus.PROVISIONAL, grade="4")],
    ids=["recorded", "updated"],
)
def test_a_late_provisional_never_replaces_a_final(late: object) -> None:
    log = Log()
    changes = project([log.message(recorded(ResultStatus.FINAL, grade="7")), log.message(late)])  # type: ignore[arg-type]
    (row,) = changes.achievements.values()
    assert (row.status, row.grade, row.version) == ("F", "7", 1)
    assert len(changes.history) == 1
    assert changes.outcomes[("lrs.plr.events.v1", "applied")] == 2


def test_withdraw_hides_reinstate_restores_and_history_shows_both() -> None:
    log = Log()
    changes = project([log.message(recorded()), log.message(withdrawn()), log.message(reinstated())])
    (row,) = changes.achievements.values()
    assert row.withdrawn is False
    assert [(entry.change, entry.withdrawn) for entry in changes.history] == [
        ("recorded", False),
        ("withdrawn", True),
        ("reinstated", False),
    ]


def test_withdrawing_twice_changes_nothing_the_second_time() -> None:
    log = Log()
    changes = project([log.message(recorded()), log.message(withdrawn()), log.message(withdrawn())])
    assert [entry.change for entry in changes.history] == ["recorded", "withdrawn"]


def test_recording_onto_a_withdrawn_achievement_recreates_it_keeping_the_withdrawal() -> None:
    log = Log()
    changes = project([log.message(recorded(grade="5")), log.message(withdrawn()), log.message(recorded(grade="6"))])
    (row,) = changes.achievements.values()
    assert (row.withdrawn, row.grade, row.version) == (False, "6", 3)
    assert [entry.change for entry in changes.history] == ["recorded", "withdrawn", "recreated"]


def test_update_of_a_missing_achievement_is_a_projection_error() -> None:
    with pytest.raises(ProjectionError):
        evolve_achievement(None, updated(ResultStatus.FINAL, "5"), META)


def test_an_event_naming_another_achievement_at_the_same_key_is_parked() -> None:
    log = Log()
    foreign = withdrawn().model_copy(update={"achievement_id": uuid.UUID(int=2)})
    changes = project([log.message(recorded()), log.message(foreign)])
    (parked,) = changes.parked
    assert "applied to achievement" in (parked.error or "")
    assert [entry.change for entry in changes.history] == ["recorded"]


def test_duplicate_event_ids_apply_once() -> None:
    log = Log()
    event_id = uuid.uuid4()
    first = log.message(recorded(), event_id=event_id)
    again = log.message(recorded(grade="9"), event_id=event_id)
    changes = project([first, again])
    assert changes.outcomes[("lrs.plr.events.v1", "duplicate")] == 1
    assert next(iter(changes.achievements.values())).grade == "7"
    already = project([log.message(recorded(grade="8"), event_id=event_id)], Snapshot(seen_event_ids={event_id}))
    assert not already.achievements


def test_a_malformed_event_parks_its_learner_and_not_others() -> None:
    log = Log()
    messages = [
        log.message(recorded()),
        log.message(b'{"not": "an envelope"}'),
        log.message(withdrawn()),
        log.message(recorded(uln=OTHER_ULN), key=OTHER_ULN),
    ]
    changes = project(messages)
    assert [(parked.message.offset, parked.reason) for parked in changes.parked] == [(1, "error"), (2, "blocked")]
    assert {row.uln for row in changes.achievements.values()} == {ULN, OTHER_ULN}
    assert [entry.change for entry in changes.history if entry.uln == ULN] == ["recorded"]


def test_events_of_an_already_parked_learner_wait() -> None:
    log = Log()
    changes = project([log.message(recorded())], Snapshot(parked_streams={("lrs.plr.events.v1", ULN): (0, 0)}))
    assert [parked.reason for parked in changes.parked] == ["blocked"]
    assert not changes.achievements


def test_a_projection_error_parks_with_its_message() -> None:
    log = Log()
    changes = project([log.message(withdrawn())])
    (parked,) = changes.parked
    assert parked.reason == "error"
    assert "no achievement" in (parked.error or "")
    assert parked.event_type == "lrs.achievement.withdrawn.v1"


def test_an_event_on_the_wrong_topic_is_parked() -> None:
    log = Log()
    changes = project([log.message(recorded(), topic=LEARNER_TOPIC)])
    assert changes.parked[0].error == "lrs.achievement.recorded.v1 does not belong on lrs.learner.events.v1"


def test_validation_errors_never_quote_values() -> None:
    log = Log()
    bad = recorded().model_dump(mode="json")
    bad["key"]["uln"] = "Jane Smith 1990-01-01"
    from lrs_contracts.registry import encode, wrap

    raw = encode(wrap(recorded(), source="t", correlation_id="c")).replace(b'"1000000043"', b'"Jane Smith"', 1)
    decoded = decode_message(log.message(raw))
    assert decoded.error is not None
    assert "Jane" not in decoded.error


def test_an_event_failing_its_contract_is_parked_naming_the_id_and_type_its_envelope_gives() -> None:
    log = Log()
    envelope = wrap(recorded(), source="t", correlation_id="c")
    document = json.loads(encode(envelope))
    del document["data"]["data"]["grade"]
    (parked,) = project([log.message(json.dumps(document).encode())]).parked
    assert (parked.reason, parked.event_id, parked.event_type) == (
        "error",
        envelope.event_id,
        "lrs.achievement.recorded.v1",
    )
    assert (parked.error or "").startswith("invalid: ")


def test_bytes_that_are_not_json_are_parked_saying_so_without_an_empty_location() -> None:
    (parked,) = project([Log().message(b"garbage")]).parked
    assert parked.error is not None
    assert parked.error.startswith("invalid: Invalid JSON")


def test_operator_actions_skip_or_replace_a_position() -> None:
    log = Log()
    poison = log.message(b"garbage")
    fixed = log.message(recorded()).value
    skipped = decode_message(poison, {poison.position: OperatorAction("skip")})
    replaced = decode_message(poison, {poison.position: OperatorAction("replace", fixed)})
    assert skipped.skipped
    assert replaced.payload is not None


def test_centre_records_are_kept_per_provider_and_qualification() -> None:
    log = Log()
    report = CentreAchievementReported(
        report_id=uuid.uuid4(), uln=ULN, provider_ukprn="10000001", qualification_number="600/1166/X", grade="B"
    )
    changes = project([log.message(report)])
    (row,) = changes.centre.values()
    assert row.qualification_number == "6001166X"


def test_learner_sharing_and_merges() -> None:
    log = Log()
    messages = [
        log.message(
            LearnerRegistered(uln=ULN, personal="s1.sealed", ability_to_share=AbilityToShare.SHARES),
            topic=LEARNER_TOPIC,
        ),
        log.message(
            LearnerSharingChanged(uln=ULN, ability_to_share=AbilityToShare.UNABLE_TO_SHARE), topic=LEARNER_TOPIC
        ),
        log.message(LearnersMerged(master_uln=OTHER_ULN, merged_uln=ULN), key=OTHER_ULN, topic=LEARNER_TOPIC),
    ]
    decoded = [decode_message(message) for message in messages]
    assert needs_of(decoded).learner_ulns == {ULN}
    changes = project_batch(Snapshot(), decoded)
    learner = changes.learners[ULN]
    assert (learner.registered, learner.ability_to_share, learner.master_uln) == (True, 2, OTHER_ULN)


def test_a_provider_link_is_kept_once_however_often_it_is_announced() -> None:
    log = Log()
    link = LearnerProviderLinked(uln=ULN, provider_ukprn="10000001")
    decoded = [decode_message(log.message(link, topic=LEARNER_TOPIC)) for _ in range(2)]
    changes = project_batch(Snapshot(), decoded)
    assert changes.links == {ProviderLinkRow(ULN, "10000001")}
    assert changes.learners == {}
    assert changes.outcomes == {(LEARNER_TOPIC, "applied"): 2}


def test_a_provider_link_ended_is_the_streams_last_word_on_it() -> None:
    """`lrs.learner.provider.unlinked.v1` (decision 0121, 2026-12-06): the link goes from the model, unless the
    learner's stream links the provider again after it; another provider's link stays."""
    log = Log()
    link, other = ProviderLinkRow(ULN, "10000001"), ProviderLinkRow(ULN, "10000002")
    linked = LearnerProviderLinked(uln=ULN, provider_ukprn=link.provider_ukprn)
    unlinked = LearnerProviderUnlinked(uln=ULN, provider_ukprn=link.provider_ukprn)
    other_linked = LearnerProviderLinked(uln=ULN, provider_ukprn=other.provider_ukprn)

    def fold(*events: Contract) -> tuple[set[ProviderLinkRow], set[ProviderLinkRow]]:
        changes = project_batch(
            Snapshot(), [decode_message(log.message(event, topic=LEARNER_TOPIC)) for event in events]
        )
        assert changes.outcomes == {(LEARNER_TOPIC, "applied"): len(events)}
        return changes.links, changes.unlinks

    assert fold(linked, other_linked, unlinked) == ({other}, {link})
    assert fold(unlinked) == (set(), {link})  # a link the model may hold from an earlier batch
    assert fold(linked, unlinked, linked) == ({link}, set())


def test_a_provider_link_ended_is_kept_as_ended_whatever_the_stream_says_after() -> None:
    """Every `lrs.learner.provider.unlinked.v1` is kept in `provider_links_ended` (decision 0121, later note of
    2026-12-06): the PLR shows none of that provider's centre reports for the learner while it is linked to none of
    their ULNs, and a link again shows them, so the row stays after the link is made again (the read weighs both);
    a link alone ends nothing."""
    log = Log()
    link = ProviderLinkRow(ULN, "10000001")
    linked = LearnerProviderLinked(uln=ULN, provider_ukprn=link.provider_ukprn)
    unlinked = LearnerProviderUnlinked(uln=ULN, provider_ukprn=link.provider_ukprn)

    def ended(*events: Contract) -> set[ProviderLinkRow]:
        changes = project_batch(
            Snapshot(), [decode_message(log.message(event, topic=LEARNER_TOPIC)) for event in events]
        )
        whole = BatchChanges()
        whole.add(changes)  # kept when a poll's parts are put together
        return whole.ended_links

    assert ended(linked, unlinked) == {link}
    assert ended(linked, unlinked, linked) == {link}
    assert ended(unlinked, unlinked) == {link}
    assert ended(linked) == set()


@pytest.mark.parametrize(
    "registration",
    [
        LearnerRegisteredV1(uln=ULN, given_name="A", family_name="B", ability_to_share=AbilityToShare.SHARES),
        LearnerRegistered(uln=ULN, personal="s1.sealed", ability_to_share=AbilityToShare.SHARES),
    ],
    ids=["v1 in clear", "v2 sealed"],
)
def test_a_registration_of_either_version_registers_the_learner_and_their_choice(registration: Contract) -> None:
    log = Log()
    decoded = [decode_message(log.message(registration, topic=LEARNER_TOPIC))]
    assert needs_of(decoded).learner_ulns == {ULN}
    changes = project_batch(Snapshot(), decoded)
    assert changes.learners == {ULN: LearnerRow(ULN, True, int(AbilityToShare.SHARES), None)}
    assert changes.outcomes == {(LEARNER_TOPIC, "applied"): 1}


def test_an_erasure_is_recorded_and_leaves_the_learner_and_their_achievements_as_they_were() -> None:
    log = Log()
    erased = LearnerErased(uln=ULN, erasure_id=uuid.uuid4(), erased_by="operator:dpo", erased_at=T0)
    messages = [
        log.message(recorded()),
        log.message(LearnerRegistered(uln=ULN, personal="s1.sealed"), topic=LEARNER_TOPIC),
        log.message(erased, topic=LEARNER_TOPIC),
        log.message(LearnerSharingChanged(uln=ULN, ability_to_share=AbilityToShare.SHARES), topic=LEARNER_TOPIC),
    ]
    changes = project(messages)
    assert changes.parked == []
    assert changes.outcomes == {(PLR_TOPIC, "applied"): 1, (LEARNER_TOPIC, "applied"): 3}
    assert changes.learners == {ULN: LearnerRow(ULN, True, int(AbilityToShare.SHARES), None)}
    assert changes.erased_ulns == {ULN}  # no centre report is taken for them any more
    assert [row.grade for row in changes.achievements.values()] == ["7"]


def test_merge_and_registration_commute() -> None:
    log = Log()
    register = log.message(LearnerRegistered(uln=ULN, personal="s1.sealed"), topic=LEARNER_TOPIC)
    merge = log.message(LearnersMerged(master_uln=OTHER_ULN, merged_uln=ULN), key=OTHER_ULN, topic=LEARNER_TOPIC)
    one = project([register, merge]).learners
    other = project([merge, register]).learners
    assert one == other


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_challenges_track_their_latest_state(version: str) -> None:
    log = Log()
    achievement_id, challenge_id = uuid.uuid4(), uuid.uuid4()
    ids = {"challenge_id": challenge_id, "achievement_id": achievement_id, "ao_id": "RN5133", "uln": ULN}
    raised = ChallengeRaisedV1(**ids, reason="x") if version == "v1" else ChallengeRaised(**ids, reason_sealed="s1.x")
    resolved = ChallengeResolved(
        challenge_id=challenge_id,
        achievement_id=achievement_id,
        ao_id="RN5133",
        resolution=ChallengeResolution.CORRECTED,
    )
    key = str(achievement_id)
    assert project([log.message(raised, key=key, topic=CHALLENGE_TOPIC)]).challenges[challenge_id].state == "raised"
    both = project(
        [log.message(raised, key=key, topic=CHALLENGE_TOPIC), log.message(resolved, key=key, topic=CHALLENGE_TOPIC)]
    )
    assert both.challenges[challenge_id].state == "resolved"


# --- whose achievements a PLR shows -------------------------------------------------------------

A, B, C = "3000000002", "3000000010", "3000000029"


def _learner_row(uln: str, master: str | None = None) -> LearnerRow:
    return LearnerRow(uln, True, 1, master)


def test_every_uln_of_a_merge_chain_reads_one_plr_with_the_end_of_the_chain_as_master() -> None:
    rows = [_learner_row(A, B), _learner_row(B, C), _learner_row(C)]
    for asked in (A, B, C):
        learner = plr_learner(asked, rows)
        assert (learner.recorded_uln, sorted(learner.ulns)) == (C, [A, B, C]), asked


def test_a_merge_cycle_has_one_master_whichever_uln_is_read() -> None:
    rows = [_learner_row(A, B), _learner_row(B, A)]
    assert {plr_learner(asked, rows).recorded_uln for asked in (A, B)} == {A}


def test_an_unmerged_or_unknown_uln_reads_its_own_plr() -> None:
    assert plr_learner(C, [_learner_row(A, B)]).ulns == (C,)


def test_a_key_no_text_column_can_hold_still_names_a_stream_to_park() -> None:
    """A NUL in a poison's key made its parked row impossible to store, and the projector stopped on it."""
    assert stream_key(b"1000000043\x00") == "1000000043\ufffd"
    assert stream_key(b"1000000043") == "1000000043"


def test_messages_without_a_key_hold_nothing_back() -> None:
    """Keyless messages were one stream per topic: one poison held every later keyless message behind it."""
    log = Log()
    messages = [
        log.message(b"garbage", key=None),
        log.message(recorded(), key=None),
        log.message(b"more garbage", key=None),
        log.message(recorded(uln=OTHER_ULN), key=None),
        log.message(withdrawn()),
    ]
    changes = project(messages)
    assert [(parked.message.offset, parked.reason) for parked in changes.parked] == [(0, "error"), (2, "error")]
    assert {row.uln for row in changes.achievements.values()} == {ULN, OTHER_ULN}
    assert [entry.change for entry in changes.history if entry.uln == ULN] == ["recorded", "withdrawn"]


def test_messages_with_an_empty_key_hold_nothing_back_either() -> None:
    """An empty key names no stream a route could name: treated as none."""
    log = Log()
    messages = [log.message(b"garbage", key=""), log.message(recorded(), key="")]
    changes = project(messages)
    assert [(parked.message.offset, parked.reason) for parked in changes.parked] == [(0, "error")]
    assert changes.parked[0].message.stream[1] == f"keyless:{messages[0].topic}:{messages[0].partition}:0"
    assert [row.uln for row in changes.achievements.values()] == [ULN]


def _restarted_after(parked: Parked) -> Snapshot:
    """The parked streams as a restart reads them back from the stored rows (`ReadModel.parked_streams`)."""
    row = parked_row(parked)
    return Snapshot(parked_streams={(row[0], row[3]): (row[1], row[2])})  # (topic, park_key): (partition, offset)


def test_a_parked_message_without_a_key_holds_nothing_back_after_a_restart() -> None:
    log = Log()
    (parked,) = project([log.message(b"garbage", key=None)]).parked
    changes = project([log.message(recorded(), key=None)], _restarted_after(parked))
    assert changes.parked == []
    assert [row.uln for row in changes.achievements.values()] == [ULN]


def test_a_keyed_stream_still_waits_behind_its_poison_after_a_restart() -> None:
    log = Log()
    (parked,) = project([log.message(b"garbage")]).parked
    held = project([log.message(recorded())], _restarted_after(parked))
    assert [item.reason for item in held.parked] == ["blocked"]


def test_events_before_the_parked_head_are_applied_again_not_held_behind_it() -> None:
    """A replay reads a parked learner's earlier events again: they were applied before the poison was
    parked, so they are applied again (duplicates, as copies are), and the poison stays the stream's head."""
    log = Log()
    earlier = log.message(recorded())
    (poison,) = project([log.message(b"garbage")]).parked
    later = log.message(recorded(grade="8"))
    replayed = project([earlier, later], _restarted_after(poison))
    assert [(item.message.offset, item.reason) for item in replayed.parked] == [(later.offset, "blocked")]
    assert [row.uln for row in replayed.achievements.values()] == [ULN]
