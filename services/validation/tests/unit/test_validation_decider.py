"""The decider's pure steps between its two stores: which states a batch needs, the decision against
what was loaded (merges followed), and the messages it publishes."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta

from lrs_contracts.batch import BatchFormat, BatchHeader, BatchSubmitted, JobType, SubmittedRecord
from lrs_contracts.codes import BatchCode
from lrs_contracts.outcomes import BatchCompleted, BatchFailed, BatchRecordsDecided, RecordStatus
from lrs_contracts.plr import AchievementData, AchievementKey, AchievementUpdated, ResultStatus
from lrs_contracts.reference import Framework, QualificationKind
from lrs_contracts.registry import decode
from lrs_contracts.topics import BATCH_OUTCOMES, PLR_EVENTS
from lrs_domain.achievements import AchievementState, achievement_id
from lrs_domain.decision import BatchDecision, BatchJudging, SubmittedBatch, achievement_states_needed, decide_batch
from lrs_domain.identifiers import TEMPORARY_ULN
from lrs_domain.reference import AwardingOrganisation, Catalogue, Learner, Qualification, ReferenceSnapshot
from lrs_platform.keyring import (
    ERASED,
    PERSONAL_FIELDS,
    UNKEYED_RECORDS,
    KeyLookup,
    LearnerKey,
    Purpose,
    batch_key_name,
    sealed_personal,
)
from validation.batch_assembly import AssembledBatch
from validation.decider import _ChunkJudging, finish_and_write, judge_part
from validation.decision_store import OutgoingMessage
from validation.messages import OUTCOMES_PER_MESSAGE, decision_messages
from validation.personal import (
    ERASED_LEARNER,
    UNREADABLE_DETAILS,
    erased_ulns,
    learners_ulns,
    open_personal,
    sealed_without_learner_key,
    ulns_to_look_up,
    ulns_told_erased,
)

AO = "RN5001"
GCSE = "60303049"
TODAY = date(2025, 3, 1)
DECIDED_AT = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
A, B, C, UNMERGED = "3000000002", "3000000010", "3000000029", "3000000037"
CYCLE_LOW, CYCLE_HIGH = "3000000045", "3000000053"

CATALOGUE = Catalogue.of(
    [
        Qualification(
            qualification_number=GCSE,
            pathway=None,
            title="GCSE Mathematics",
            awarding_organisation_id=AO,
            awarding_organisation_name="Test Awarding Body",
            level="Level 2",
            qualification_type="GCSE (9 to 1)",
            framework=Framework.RQF,
            kind=QualificationKind.QUALIFICATION,
            grade_set=("9", "8", "7", "6", "5", "4", "3", "2", "1", "U", "X"),
        )
    ]
)


def _learner(uln: str, master: str | None = None) -> Learner:
    return Learner(uln, "Ada", "Byron", date(2001, 2, 3), 2, 1, master_uln=master)


# What the registry returns for a batch naming any of them: each named ULN's whole merge group.
REGISTRY = {
    learner.uln: learner
    for learner in (
        _learner(A, master=B),
        _learner(B, master=C),
        _learner(C),
        _learner(UNMERGED),
        _learner(CYCLE_LOW, master=CYCLE_HIGH),
        _learner(CYCLE_HIGH, master=CYCLE_LOW),
    )
}
REFERENCE = ReferenceSnapshot(CATALOGUE, {AO: AwardingOrganisation(AO, "Test Awarding Body")}, REGISTRY)


def _record(
    uln: str, line: int = 1, action: str = "Create", grade: str = "5", award_date: date = date(2024, 8, 22)
) -> SubmittedRecord:
    return SubmittedRecord(
        line=line,
        action=action,
        uln=uln,
        given_name="Ada",
        family_name="Byron",
        qualification_number=GCSE,
        award_date=award_date.isoformat(),
        grade=None if action in ("Withdraw", "Reinstate") else grade,
    )


def _recorded_under(uln: str, grade: str = "5") -> AchievementState:
    key = AchievementKey(ao_id=AO, uln=uln, qualification_number=GCSE, award_date=date(2024, 8, 22))
    return AchievementState(achievement_id(key), key, AchievementData(grade=grade), ResultStatus.FINAL, False)


def _submitted(records: Sequence[SubmittedRecord], batch_id: uuid.UUID) -> BatchSubmitted:
    return BatchSubmitted(
        batch_id=batch_id,
        ao_id=AO,
        header=BatchHeader(awarding_organisation=AO, job_type=JobType.FINAL, notification_email="r@example.org"),
        format=BatchFormat.JSON,
        record_count=len(records),
        content_sha256="0" * 64,
        size_bytes=1,
        submitted_by=f"ao:{AO}",
        received_at=DECIDED_AT,
    )


def _loaded(
    stored: Iterable[AchievementState], needed: frozenset[tuple[str, str]]
) -> dict[tuple[str, str], list[AchievementState]]:
    """What `DecisionStore.existing_states` returns: the stored states of the pairs asked for."""
    found: dict[tuple[str, str], list[AchievementState]] = {}
    for state in stored:
        pair = (state.key.uln, state.key.qualification_number)
        if pair in needed:
            found.setdefault(pair, []).append(state)
    return found


def _decide(
    *records: SubmittedRecord, stored: Sequence[AchievementState] = ()
) -> tuple[BatchDecision, list[OutgoingMessage]]:
    """The decider's `_decide` without its stores: needs → load → decide → messages."""
    batch_id = uuid.UUID(int=42)
    submitted = _submitted(records, batch_id)
    existing = _loaded(stored, achievement_states_needed(records, REFERENCE))
    decision = decide_batch(
        SubmittedBatch(batch_id, AO, submitted.header, records, submitted.received_at), REFERENCE, existing, TODAY
    )
    return decision, decision_messages(submitted, decision, "cause", DECIDED_AT)


def _plr_messages(messages: Sequence[OutgoingMessage]) -> list[OutgoingMessage]:
    return [message for message in messages if message.topic == PLR_EVENTS.name]


# --- the states a batch needs -----------------------------------------------------------------------


def test_a_batch_needs_the_states_of_every_uln_its_learners_were_ever_recorded_under() -> None:
    needed = achievement_states_needed([_record(A), _record(UNMERGED, line=2)], REFERENCE)
    assert needed == {(A, GCSE), (B, GCSE), (C, GCSE), (UNMERGED, GCSE)}
    assert achievement_states_needed([_record(C)], REFERENCE) == {(A, GCSE), (B, GCSE), (C, GCSE)}


# --- merge chains, as the decider follows them ------------------------------------------------------


def test_an_update_naming_the_first_uln_of_a_chain_updates_the_achievement_recorded_under_it() -> None:
    before_merges = _recorded_under(A, grade="5")
    decision, messages = _decide(_record(A, action="Update", grade="7"), stored=[before_merges])
    assert [outcome.status for outcome in decision.outcomes] == [RecordStatus.ACCEPTED]
    (message,) = _plr_messages(messages)
    _, event = decode(message.value)
    assert isinstance(event, AchievementUpdated)
    assert (message.key, event.achievement_id, event.data.grade) == (A, before_merges.achievement_id, "7")
    assert decision.new_states[0].key.uln == A


def test_a_create_under_the_end_of_the_chain_is_the_achievement_recorded_before_the_merges() -> None:
    before_merges = _recorded_under(A, grade="7")
    decision, messages = _decide(_record(C, grade="7"), stored=[before_merges])
    assert [(o.status, o.achievement_id) for o in decision.outcomes] == [
        (RecordStatus.NO_OP, before_merges.achievement_id)
    ]
    assert _plr_messages(messages) == []


def test_a_new_achievement_is_recorded_under_the_end_of_the_chain() -> None:
    _, messages = _decide(_record(A))
    assert [message.key for message in _plr_messages(messages)] == [C]


def test_a_merge_cycle_records_under_one_uln_whichever_uln_is_named() -> None:
    for named in (CYCLE_LOW, CYCLE_HIGH):
        _, messages = _decide(_record(named))
        assert [message.key for message in _plr_messages(messages)] == [CYCLE_LOW], named


# --- messages -----------------------------------------------------------------------------------------


def test_a_completed_batch_publishes_events_then_outcomes_in_chunks_then_its_result() -> None:
    first_day = date(2020, 1, 1)
    records = [_record(UNMERGED, line, award_date=first_day + timedelta(days=line)) for line in range(1, 1_002)]
    decision, messages = _decide(*records)
    assert decision.failure is None
    assert [message.topic for message in messages] == [PLR_EVENTS.name] * 1_001 + [BATCH_OUTCOMES.name] * 3
    payloads = [decode(message.value)[1] for message in messages[1_001:]]
    assert [type(payload) for payload in payloads] == [BatchRecordsDecided, BatchRecordsDecided, BatchCompleted]
    chunks = [payload for payload in payloads if isinstance(payload, BatchRecordsDecided)]
    assert [len(chunk.outcomes) for chunk in chunks] == [OUTCOMES_PER_MESSAGE, 1]
    assert {message.key for message in messages[1_001:]} == {str(uuid.UUID(int=42))}


def test_a_failed_batch_publishes_only_its_outcomes() -> None:
    decision, messages = _decide(_record(UNMERGED, action="Update"))  # RV012: 100% rejected
    assert decision.failure is not None and decision.failure.code is BatchCode.REJECTION_THRESHOLD
    assert {message.topic for message in messages} == {BATCH_OUTCOMES.name}
    assert isinstance(decode(messages[-1].value)[1], BatchFailed)


def test_deciding_the_same_batch_again_publishes_the_very_same_messages() -> None:
    first = _decide(_record(A), _record(UNMERGED, line=2))[1]
    again = _decide(_record(A), _record(UNMERGED, line=2))[1]
    assert first == again


# --- sealed personal details (decision 0080) --------------------------------------------------------

KEYS = {uln: LearnerKey(uln, secrets.token_bytes(32)) for uln in (A, UNMERGED)}


def _sealed(record: SubmittedRecord) -> SubmittedRecord:
    """The record as ingest sends it: its four personal fields sealed under its learner's key."""
    assert record.uln is not None
    personal = sealed_personal(KEYS[record.uln], Purpose.SUBMITTED_RECORD, record.model_dump())
    return record.model_copy(update={**dict.fromkeys(PERSONAL_FIELDS), "personal": personal})


def _tampered(token: str) -> str:
    body = bytearray(token.encode())
    body[-5] = ord("A") if body[-5] != ord("A") else ord("B")
    return body.decode()


def _decide_opened(
    *records: SubmittedRecord, keys: KeyLookup, told_erased: frozenset[str] = frozenset()
) -> BatchDecision:
    """The decider's pure step with its keys: the sealed details opened, then the rules."""
    batch = AssembledBatch(_submitted(records, uuid.UUID(int=43)), records, partition=0, last_offset=9)
    judging = BatchJudging(batch.submitted.batch_id, AO, JobType.FINAL, TODAY)
    halves = [records[: len(records) // 2], records[len(records) // 2 :]]  # as two chunks
    parts = [judge_part(judging, half, keys, REFERENCE, {}, told_erased) for half in halves]
    decision, _ = finish_and_write(batch, judging, parts, "cause")
    return decision


def test_a_batch_judged_in_chunks_publishes_the_bytes_its_decision_serialised_at_its_end_would() -> None:
    """Events are serialised as their chunk is judged, in case the batch accepts them."""
    records = tuple(_sealed(_record(A, line=line, award_date=date(2024, 8, line))) for line in (1, 2, 3))
    records += (_sealed(_record(UNMERGED, line=4)), _sealed(_record(A, line=5, award_date=date(2024, 8, 1))))
    batch = AssembledBatch(_submitted(records, uuid.UUID(int=44)), records, partition=0, last_offset=9)
    judging = BatchJudging(batch.submitted.batch_id, AO, JobType.FINAL, TODAY)
    parts = [judge_part(judging, chunk, dict(KEYS), REFERENCE, {}) for chunk in (records[:2], records[2:])]

    decision, messages = finish_and_write(batch, judging, parts, "cause")

    assert len(decision.events) == 4 and decision.outcomes[4].errors[0].code == "RV020"
    decided_at = decode(messages[0].value)[0].occurred_at
    assert messages == decision_messages(batch.submitted, decision, "cause", decided_at)


def _errors(decision: BatchDecision, index: int) -> list[tuple[str, str | None, str]]:
    return [(finding.code, finding.field, finding.message) for finding in decision.outcomes[index].errors]


def test_sealed_details_are_opened_before_the_rules_verify_the_learner() -> None:
    decision = _decide_opened(_sealed(_record(A, line=1)), _sealed(_record(UNMERGED, line=2)), keys=dict(KEYS))
    assert [outcome.status for outcome in decision.outcomes] == [RecordStatus.ACCEPTED] * 2


def test_opening_gives_the_rules_the_details_in_clear_and_drops_the_sealed_copy() -> None:
    submitted = _record(A).model_copy(update={"date_of_birth": "2001-02-03", "gender": "2"})
    opened = open_personal([_sealed(submitted)], dict(KEYS))
    assert opened.records == (submitted,) and opened.unverifiable == {}


def test_a_tampered_seal_rejects_its_record_rv004_and_the_batch_goes_on() -> None:
    good = [_sealed(_record(A, line=line, award_date=date(2024, 8, line))) for line in (1, 2, 3)]
    bad = _sealed(_record(UNMERGED, line=4))
    assert bad.personal is not None
    bad = bad.model_copy(update={"personal": _tampered(bad.personal)})
    decision = _decide_opened(*good, bad, keys=dict(KEYS))
    assert decision.failure is None
    assert [outcome.status for outcome in decision.outcomes] == [RecordStatus.ACCEPTED] * 3 + [RecordStatus.REJECTED]
    assert _errors(decision, 3) == [("RV004", "uln", UNREADABLE_DETAILS)]  # no RV021 for the fields it lacks
    assert (decision.counts.accepted, decision.counts.rejected, len(decision.events)) == (3, 1, 3)


def test_details_sealed_for_another_learner_do_not_open() -> None:
    stolen = _sealed(_record(A, line=1)).model_copy(update={"uln": UNMERGED})
    decision = _decide_opened(stolen, keys=dict(KEYS))
    assert _errors(decision, 0) == [("RV004", "uln", UNREADABLE_DETAILS)]


def test_sealed_details_without_a_key_cannot_be_read() -> None:
    decision = _decide_opened(_sealed(_record(A)), keys={})
    assert _errors(decision, 0) == [("RV004", "uln", UNREADABLE_DETAILS)]


def test_a_record_of_an_erased_learner_is_rejected_rv004_however_it_arrives() -> None:
    dropped_at_ingest = _record(A, line=1).model_copy(
        update={"given_name": None, "family_name": None, "learner_erased": True}
    )
    sealed_before_the_erasure = _sealed(_record(UNMERGED, line=2))
    in_clear = _record(UNMERGED, line=3, award_date=date(2024, 8, 23))
    decision = _decide_opened(
        dropped_at_ingest,
        sealed_before_the_erasure,
        in_clear,
        keys={A: KEYS[A], UNMERGED: ERASED},
        told_erased=frozenset({A, UNMERGED}),
    )
    for index in range(3):
        assert _errors(decision, index) == [("RV004", "uln", ERASED_LEARNER)]
    assert decision.events == ()


def test_an_ao_not_told_of_an_erasure_reads_an_erased_learners_record_as_one_whose_details_do_not_match() -> None:
    """docs/privacy.md: no AO can probe ULNs for erasures. One that holds no achievement of the learner's gets the
    very findings of a record whose details differ from a registered learner's (decision 0157)."""
    dropped_at_ingest = _record(A, line=1).model_copy(
        update={"given_name": None, "family_name": None, "learner_erased": True}
    )
    sealed_before_the_erasure = _sealed(_record(UNMERGED, line=2))
    decision = _decide_opened(dropped_at_ingest, sealed_before_the_erasure, keys={A: KEYS[A], UNMERGED: ERASED})
    mismatched = _decide_opened(
        _record(A, line=1).model_copy(update={"family_name": "Someone"}),
        _record(UNMERGED, line=2).model_copy(update={"given_name": "Else"}),
        keys=dict(KEYS),
    )
    assert decision.outcomes == mismatched.outcomes
    assert [code for code, _, _ in _errors(decision, 0)] == ["RV004"]
    assert all(ERASED_LEARNER not in message for index in (0, 1) for _, _, message in _errors(decision, index))


def test_an_ao_is_told_of_an_erasure_where_it_holds_an_achievement_under_any_of_the_learners_ulns() -> None:
    """As the AO view's `learner_erased`: a record under the merged ULN A of an AO whose achievement is under C
    (A -> B -> C) is told; one of an AO holding nothing of theirs, or holding only another learner's, is not."""
    merges = REFERENCE.merges
    erased = {A, UNMERGED}
    assert learners_ulns(erased, merges) == {A, B, C, UNMERGED}
    assert ulns_told_erased(erased, merges, {C}) == {A}
    assert ulns_told_erased(erased, merges, {UNMERGED, CYCLE_LOW}) == {UNMERGED}
    assert ulns_told_erased(erased, merges, {CYCLE_LOW}) == frozenset()
    dropped_at_ingest = _record(A, line=1).model_copy(update={"learner_erased": True})
    sealed_before_the_erasure = _sealed(_record(UNMERGED, line=2))
    assert erased_ulns([dropped_at_ingest, sealed_before_the_erasure, _record(C, line=3)], {UNMERGED: ERASED}) == erased


def test_an_unverifiable_learner_keeps_the_findings_about_the_rest_of_the_record() -> None:
    record = _sealed(_record(A, grade="Z"))
    decision = _decide_opened(record, keys={A: ERASED})
    assert [code for code, _, _ in _errors(decision, 0)] == ["RV009", "RV004"]


def test_only_the_batchs_ulns_are_looked_up_and_not_those_ingest_found_erased() -> None:
    erased = _record(A, line=1).model_copy(update={"learner_erased": True})
    assert ulns_to_look_up([erased, _sealed(_record(UNMERGED, line=2)), _record(C, line=3)]) == ({UNMERGED, C}, False)


# --- records that name no learner, sealed under their batch's own key (decision 0106) ------------------


def test_records_that_name_no_learner_are_opened_with_the_batchs_key_and_judged_as_in_clear() -> None:
    batch_key = LearnerKey(batch_key_name(uuid.UUID(int=43)), secrets.token_bytes(32))
    in_clear = (
        _record(A, line=1),
        _record("12345", line=2),
        _record(A, line=3).model_copy(update={"uln": None, "family_name": None}),
        _record("900000004X", line=4).model_copy(update={"date_of_birth": "2001-02-31", "gender": "9"}),
    )
    sealed = [_sealed(in_clear[0])]
    for record in in_clear[1:]:
        personal = sealed_personal(batch_key, Purpose.SUBMITTED_RECORD, record.model_dump())
        sealed.append(record.model_copy(update={**dict.fromkeys(PERSONAL_FIELDS), "personal": personal}))
    keys: KeyLookup = {**KEYS, UNKEYED_RECORDS: batch_key}

    assert sealed_without_learner_key(sealed, keys) and not sealed_without_learner_key(sealed[:1], keys)
    assert open_personal(sealed, keys).records == in_clear
    decided, expected = _decide_opened(*sealed, keys=keys), _decide_opened(*in_clear, keys=dict(KEYS))
    assert decided.outcomes == expected.outcomes and decided.counts == expected.counts
    assert {code for index in (1, 2, 3) for code, _, _ in _errors(decided, index)} >= {"RV001", "RV021"}
    # once the batch's key is destroyed, they cannot be opened
    shredded = _decide_opened(*sealed, keys={**KEYS, UNKEYED_RECORDS: ERASED})
    assert ("RV004", "uln", UNREADABLE_DETAILS) in _errors(shredded, 2)
    assert [code for code, _, _ in _errors(shredded, 1)] == ["RV001"]  # a badly formed ULN is the reason already


def test_the_temporary_ulns_records_are_opened_with_the_batchs_key_whatever_key_an_older_batch_left() -> None:
    """Decision 0154: ingest seals them under the batch's key, so the temporary ULN's own key is never looked up
    (one made before then, or erased, would otherwise decide how every later such record is judged)."""
    batch_key = LearnerKey(batch_key_name(uuid.UUID(int=154)), secrets.token_bytes(32))
    in_clear = _record(TEMPORARY_ULN, line=2)
    personal = sealed_personal(batch_key, Purpose.SUBMITTED_RECORD, in_clear.model_dump())
    sealed = in_clear.model_copy(update={**dict.fromkeys(PERSONAL_FIELDS), "personal": personal})

    assert ulns_to_look_up([_record(A, line=1), sealed]) == ({A}, True)
    for older in (ERASED, LearnerKey(TEMPORARY_ULN, secrets.token_bytes(32))):
        keys: KeyLookup = {**KEYS, TEMPORARY_ULN: older, UNKEYED_RECORDS: batch_key}
        assert open_personal([sealed], keys).records == (in_clear,)
        assert [code for code, _, _ in _errors(_decide_opened(sealed, keys=keys), 0)] == ["RV003"]


def test_a_mistyped_ulns_records_are_opened_with_the_batchs_key_and_its_key_is_never_looked_up() -> None:
    """Decision 0175: no learner can have a ULN with a wrong check digit, so ingest seals its records under the batch's
    key, destroyed once the batch is decided, and makes no key of the typo's (that would outlive the batch, holding a
    real learner's details where erasing the learner cannot reach)."""
    mistyped = "1000000042"
    batch_key = LearnerKey(batch_key_name(uuid.UUID(int=175)), secrets.token_bytes(32))
    in_clear = _record(mistyped, line=2)
    personal = sealed_personal(batch_key, Purpose.SUBMITTED_RECORD, in_clear.model_dump())
    sealed = in_clear.model_copy(update={**dict.fromkeys(PERSONAL_FIELDS), "personal": personal})

    assert ulns_to_look_up([_record(A, line=1), sealed]) == ({A}, True)
    keys: KeyLookup = {**KEYS, UNKEYED_RECORDS: batch_key}
    assert sealed_without_learner_key([sealed], keys)
    assert open_personal([sealed], keys).records == (in_clear,)
    assert [code for code, _, _ in _errors(_decide_opened(sealed, keys=keys), 0)] == ["RV002"]


def test_a_mistyped_uln_whose_batch_details_were_erased_is_rv002_alone_not_also_an_erased_learner() -> None:
    """Decision 0132 erases what an AO's batch carried under a ULN with a wrong check digit; a later record under it
    is still the typo it is (docs/rules.md: a ULN no learner can have is not also "not verified")."""
    mistyped = "1000000042"
    dropped_at_ingest = _record(mistyped, line=1).model_copy(
        update={"given_name": None, "family_name": None, "learner_erased": True}
    )
    decision = _decide_opened(dropped_at_ingest, keys={mistyped: ERASED})
    assert [code for code, _, _ in _errors(decision, 0)] == ["RV002"]


def test_rv008s_today_is_the_day_the_batch_was_received_in_england_whenever_it_is_decided() -> None:
    """Decision 0176: a batch received at 00:30 on 15 June in England (23:30 UTC on the 14th) and held past midnight
    by a maintenance window is judged against the 15th, as the AO's check at upload judged it; decided again, the same."""
    submitted = _submitted([_record(A)], uuid.uuid4())
    summer = submitted.model_copy(update={"received_at": datetime(2027, 6, 14, 23, 30, tzinfo=UTC)})
    winter = summer.model_copy(update={"received_at": datetime(2027, 1, 14, 23, 30, tzinfo=UTC)})
    assert _ChunkJudging(summer, 0, 0).judging.today == date(2027, 6, 15)
    assert _ChunkJudging(winter, 0, 0).judging.today == date(2027, 1, 14)
