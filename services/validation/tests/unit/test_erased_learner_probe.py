"""No AO can tell an erased learner from one whose details it has wrong by sending a deliberately bad record
(decision 0157): ingest seals an erased learner's details under the batch's own key, and the decider judges them
as any record's, then the learner as one whose details do not match. Records an older ingest wrote, with the
details dropped, are judged as before."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest

from lrs_contracts.batch import BatchFormat, BatchHeader, BatchSubmitted, JobType, SubmittedRecord
from lrs_contracts.reference import Framework, QualificationKind
from lrs_domain.decision import BatchDecision, BatchJudging
from lrs_domain.reference import AwardingOrganisation, Catalogue, Learner, Qualification, ReferenceSnapshot
from lrs_domain.rules import details_do_not_match
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
from validation.decider import finish_and_write, judge_part
from validation.personal import ERASED_LEARNER, open_personal, sealed_without_learner_key, ulns_to_look_up

AO = "RN5001"
GCSE = "60303049"
TODAY = date(2025, 3, 1)
BATCH = uuid.UUID(int=157)
PROBED, OTHER = "3000000002", "3000000037"  # the probed learner; another, live, judged in the same batch

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
ORGANISATIONS = {AO: AwardingOrganisation(AO, "Test Awarding Body")}
KEYS = {uln: LearnerKey(uln, secrets.token_bytes(32)) for uln in (PROBED, OTHER)}
BATCH_KEY = LearnerKey(batch_key_name(BATCH), secrets.token_bytes(32))

# Each a deliberately bad personal field, and a family name that is not the registered one ("Byron").
BAD_DETAILS: dict[str, dict[str, Any]] = {
    "no given name": {"given_name": None, "family_name": "Nobody"},
    "a malformed date of birth": {"family_name": "Nobody", "date_of_birth": "2001-13-45"},
    "a date of birth not a date": {"family_name": "Nobody", "date_of_birth": "yesterday"},
    "a line break in a name": {"given_name": "A\nda", "family_name": "Nobody"},
    "a gender no code has": {"family_name": "Nobody", "gender": "7"},
    "no family name": {"family_name": None, "date_of_birth": "1999-01-01"},
    "a family name too long": {"family_name": "N" * 300},
}


def _record(uln: str, line: int, **details: Any) -> SubmittedRecord:
    return SubmittedRecord(
        line=line,
        action="Create",
        uln=uln,
        given_name="Ada",
        family_name="Byron",
        qualification_number=GCSE,
        award_date="2024-08-22",
        grade="5",
    ).model_copy(update=details)


def _sealed_under(key: LearnerKey, record: SubmittedRecord, **marks: Any) -> SubmittedRecord:
    """The record as ingest sends it: its details sealed under `key`."""
    personal = sealed_personal(key, Purpose.SUBMITTED_RECORD, record.model_dump())
    return record.model_copy(update={**dict.fromkeys(PERSONAL_FIELDS), "personal": personal, **marks})


def _reference(*registered: str) -> ReferenceSnapshot:
    """The registry's answer: an erased learner's registration is never among the learners found."""
    learners = {uln: Learner(uln, "Ada", "Byron", date(2001, 2, 3), 2, 1) for uln in registered}
    return ReferenceSnapshot(CATALOGUE, ORGANISATIONS, learners)


def _decide(
    records: Sequence[SubmittedRecord],
    keys: KeyLookup,
    reference: ReferenceSnapshot,
    told_erased: frozenset[str] = frozenset(),
) -> BatchDecision:
    """The decider's pure steps, the batch judged as two chunks (the probed record in the second)."""
    submitted = BatchSubmitted(
        batch_id=BATCH,
        ao_id=AO,
        header=BatchHeader(awarding_organisation=AO, job_type=JobType.FINAL, notification_email="r@example.org"),
        format=BatchFormat.JSON,
        record_count=len(records),
        content_sha256="0" * 64,
        size_bytes=1,
        submitted_by=f"ao:{AO}",
        received_at=datetime(2025, 3, 1, 10, 0, tzinfo=UTC),
    )
    batch = AssembledBatch(submitted, tuple(records), partition=0, last_offset=9)
    judging = BatchJudging(BATCH, AO, JobType.FINAL, TODAY)
    parts = [judge_part(judging, chunk, keys, reference, {}, told_erased) for chunk in (records[:1], records[1:])]
    decision, _ = finish_and_write(batch, judging, parts, "cause")
    return decision


def _said(decision: BatchDecision) -> list[list[tuple[str, str | None, str]]]:
    return [[(error.code, error.field, error.message) for error in outcome.errors] for outcome in decision.outcomes]


def _live_and_erased(details: dict[str, Any]) -> tuple[BatchDecision, BatchDecision]:
    """The same batch for a live learner whose details the AO has wrong, and for the same ULN's learner erased."""
    other = _sealed_under(KEYS[OTHER], _record(OTHER, 1))
    probe = _record(PROBED, 2, **details)
    live = _decide([other, _sealed_under(KEYS[PROBED], probe)], dict(KEYS), _reference(PROBED, OTHER))
    # ingest found the learner erased: the record marked so, its details under the batch's own key
    erased = [other, _sealed_under(BATCH_KEY, probe, learner_erased=True)]
    keys: KeyLookup = {OTHER: KEYS[OTHER], UNKEYED_RECORDS: BATCH_KEY}  # as the decider's `_find_keys` finds them
    return live, _decide(erased, keys, _reference(OTHER))


@pytest.mark.parametrize("details", BAD_DETAILS.values(), ids=BAD_DETAILS.keys())
def test_an_erased_learners_bad_record_draws_the_findings_of_a_live_learners_whose_details_differ(
    details: dict[str, Any],
) -> None:
    live, erased = _live_and_erased(details)
    said_live = _said(live)
    assert said_live[0] == []
    assert ("RV004", "uln", details_do_not_match(PROBED)) in said_live[1]
    assert len(said_live[1]) > 1  # the bad detail's own finding, beside RV004
    assert _said(erased) == said_live
    assert [outcome.status for outcome in erased.outcomes] == [outcome.status for outcome in live.outcomes]
    assert erased.counts == live.counts


def test_the_decider_looks_for_the_batchs_own_key_for_an_erased_learners_sealed_details() -> None:
    records = [_sealed_under(KEYS[OTHER], _record(OTHER, 1))]
    records.append(_sealed_under(BATCH_KEY, _record(PROBED, 2), learner_erased=True))
    keys: KeyLookup = {OTHER: KEYS[OTHER]}
    # `_find_keys`: the learners' keys of `ulns_to_look_up`, then the batch's own when a record names none
    # and `sealed_without_learner_key`
    assert ulns_to_look_up(records) == ({OTHER}, True)
    assert sealed_without_learner_key(records, keys)
    assert sealed_without_learner_key(records, {**keys, PROBED: ERASED})  # met again after an erasure meanwhile


def test_an_ao_holding_an_achievement_of_the_erased_learner_is_told_so_beside_the_bad_details_findings() -> None:
    probe = _record(PROBED, 2, given_name=None)
    other = _sealed_under(KEYS[OTHER], _record(OTHER, 1))
    keys: KeyLookup = {OTHER: KEYS[OTHER], UNKEYED_RECORDS: BATCH_KEY}
    records = [other, _sealed_under(BATCH_KEY, probe, learner_erased=True)]
    told = _said(_decide(records, keys, _reference(OTHER), told_erased=frozenset({PROBED})))[1]
    assert ("RV004", "uln", ERASED_LEARNER) in told
    assert sorted(code for code, _, _ in told) == ["RV004", "RV021"]


def test_an_erased_learners_record_an_older_ingest_wrote_without_details_is_judged_as_before() -> None:
    """A replica may read what an ingest before this change wrote: the details dropped, so RV004 alone."""
    dropped = _record(PROBED, 2, given_name=None).model_copy(
        update={**dict.fromkeys(PERSONAL_FIELDS), "learner_erased": True}
    )
    other = _sealed_under(KEYS[OTHER], _record(OTHER, 1))
    assert ulns_to_look_up([other, dropped]) == ({OTHER}, False)  # no batch key is looked for
    keys: KeyLookup = {OTHER: KEYS[OTHER]}
    assert _said(_decide([other, dropped], keys, _reference(OTHER)))[1] == [
        ("RV004", "uln", details_do_not_match(PROBED))
    ]
    told = _decide([other, dropped], keys, _reference(OTHER), told_erased=frozenset({PROBED}))
    assert _said(told)[1] == [("RV004", "uln", ERASED_LEARNER)]


def test_an_erased_learners_details_whose_batch_key_is_gone_are_dropped_as_before() -> None:
    """The batch's key destroyed (its batch decided once already): nothing to open, RV004 alone."""
    sealed = _sealed_under(BATCH_KEY, _record(PROBED, 1, given_name=None), learner_erased=True)
    for keys in ({}, {UNKEYED_RECORDS: ERASED}):
        opened = open_personal([sealed], keys)
        assert opened.unverifiable == {0: details_do_not_match(PROBED)} and opened.details_judged == frozenset()
        assert all(getattr(opened.records[0], name) is None for name in (*PERSONAL_FIELDS, "personal"))
