"""A parked PLR event's bytes as a learner's erasure leaves them (`lrs_platform.parking.without_erased_free_text`, a
forensic walk's findings 3 and 4): a provider's centre report, parked by the PLR projector or the challenges service as
it came off the log, loses its `subject` and `provider_name` (the provider's words, which may name the learner), an
earlier achievement event its MIS identifier; nothing else of it changes, so a retry applies what the event applies for
an erased learner. Another learner's events, events of other kinds and bytes that are no event are left as they are
(the erasure's walk on real PostgreSQL: tests/integration/test_erasure_parked_centre_reports.py and
test_challenges_erasure_parked_centre_reports.py)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

from lrs_contracts.envelope import Contract
from lrs_contracts.learner import LearnerErased
from lrs_contracts.plr import AchievementKey, AchievementWithdrawn, CentreAchievementReported, Provenance
from lrs_contracts.registry import decode, encode, wrap
from lrs_platform.parking import free_text_of, without_erased_free_text

ERASED, KEPT = "7913572468", "1000000043"
NAME = "Barnaby Wrenfield"


def _bytes(payload: Contract) -> bytes:
    """As a producer writes it on the log, and a consumer parks it."""
    return encode(wrap(payload, source="tests", correlation_id="c", event_id=uuid.UUID(int=1)))


def _report(uln: str) -> CentreAchievementReported:
    return CentreAchievementReported(
        report_id=uuid.UUID(int=2),
        uln=uln,
        provider_ukprn="10004567",
        provider_name=f"Wrenfield Academy for {NAME}",
        qualification_number="60190541",
        subject=f"Art for {NAME} born 2001-02-14",
        grade="Pass",
        award_date=date(2024, 11, 5),
    )


def test_a_parked_centre_report_of_an_erased_learner_loses_its_free_text_and_nothing_else() -> None:
    parked = _bytes(_report(ERASED))
    emptied = without_erased_free_text(parked, {ERASED, "1026893096"})
    assert emptied is not None and NAME.encode() not in emptied
    _, payload = decode(emptied)  # still the event, as the consumers read it
    assert isinstance(payload, CentreAchievementReported)
    assert (payload.subject, payload.provider_name, payload.grade) == (None, None, "Pass")
    original = json.loads(parked)
    assert json.loads(emptied) == {**original, "data": {**original["data"], "subject": None, "provider_name": None}}
    assert without_erased_free_text(emptied, {ERASED}) is None  # nothing left to empty: written once


def test_a_malformed_report_as_a_poison_is_emptied_too() -> None:
    document = json.loads(_bytes(_report(ERASED)))
    document["data"]["grade"] = {"bad": "grade"}  # the contract refuses it: parked as poison
    emptied = without_erased_free_text(json.dumps(document).encode(), {ERASED})
    assert emptied is not None
    assert json.loads(emptied)["data"] == {**document["data"], "subject": None, "provider_name": None}


def test_an_earlier_achievement_events_mis_identifier_goes_as_in_the_operators_copies() -> None:
    key = AchievementKey(ao_id="RN5133", uln=ERASED, qualification_number="6001166X", award_date=date(2024, 5, 20))
    withdrawn = AchievementWithdrawn(
        achievement_id=uuid.UUID(int=3),
        key=key,
        provenance=Provenance(batch_id=uuid.UUID(int=7), line=4, mis_identifier=f"{NAME} 2001-02-14"),
    )
    emptied = without_erased_free_text(_bytes(withdrawn), {ERASED})
    assert emptied is not None
    assert json.loads(emptied)["data"]["provenance"] == {
        "batch_id": str(uuid.UUID(int=7)),
        "line": 4,
        "mis_identifier": None,
    }


def test_others_and_other_things_are_left_as_they_are() -> None:
    assert without_erased_free_text(_bytes(_report(KEPT)), {ERASED}) is None  # another learner's
    key = AchievementKey(ao_id="RN5133", uln=ERASED, qualification_number="6001166X", award_date=date(2024, 5, 20))
    provenance = Provenance(batch_id=uuid.UUID(int=7), line=4, mis_identifier=None)
    withdrawn = AchievementWithdrawn(achievement_id=uuid.UUID(int=3), key=key, provenance=provenance)
    assert without_erased_free_text(_bytes(withdrawn), {ERASED}) is None  # nothing to empty
    erasure = LearnerErased(
        uln=ERASED, erasure_id=uuid.UUID(int=4), erased_by="operator:dpo", erased_at=datetime(2026, 12, 7, tzinfo=UTC)
    )
    assert free_text_of(_bytes(erasure)) is None  # the learner log carries its learners' words sealed
    for not_an_event in (b'{"broken": true}', b"\xff\xfe", b"[]", b'{"data": {"event_type": 1}}', b"[" * 100_000):
        assert without_erased_free_text(not_an_event, {ERASED}) is None
