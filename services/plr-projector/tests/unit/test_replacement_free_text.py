"""An operator's corrected copy of a parked PLR event, as an erasure leaves it (`store.without_erased_free_text`): the
free text that may name an erased learner is set to null (a centre report's `subject` and `provider_name`, an
achievement event's MIS identifier), and nothing else of it changes, so that it still projects what the event itself
projects for an erased learner. Copies of other learners, of events of other kinds or of bytes that are no event are
left as they are (the erasure's walk on real PostgreSQL: tests/integration/test_erasure_replaced_reports.py)."""

from __future__ import annotations

import json
import uuid
from datetime import date

from lrs_contracts.envelope import Contract
from lrs_contracts.learner import LearnerSharingChanged
from lrs_contracts.plr import (
    AchievementKey,
    AchievementWithdrawn,
    CentreAchievementReported,
    Provenance,
)
from lrs_contracts.registry import encode, wrap
from lrs_platform.parking import without_erased_free_text
from plr_projector.projection import PLR_TOPIC, Message, decode_message

ERASED, KEPT = "1000000043", "1026893096"
NAME = "Zephyrina Quixblatt"


def _bytes(payload: Contract) -> bytes:
    return encode(wrap(payload, source="tests", correlation_id="c", event_id=uuid.UUID(int=1)))


def _report(uln: str) -> CentreAchievementReported:
    return CentreAchievementReported(
        report_id=uuid.UUID(int=2),
        uln=uln,
        provider_ukprn="10004567",
        provider_name=f"Tutoring for {NAME}",
        qualification_number="60337965",
        subject=f"Physics for {NAME}",
        grade="Merit",
        award_date=date(2024, 11, 5),
    )


def _withdrawn(uln: str, mis_identifier: str | None) -> AchievementWithdrawn:
    key = AchievementKey(ao_id="RN5133", uln=uln, qualification_number="6001166X", award_date=date(2024, 5, 20))
    provenance = Provenance(batch_id=uuid.UUID(int=7), line=4, mis_identifier=mis_identifier)
    return AchievementWithdrawn(achievement_id=uuid.UUID(int=3), key=key, provenance=provenance)


def _decoded(value: bytes) -> Contract:
    payload = decode_message(Message(PLR_TOPIC, 0, 1, None, value, 0)).payload
    assert payload is not None
    return payload


def test_an_erased_learners_centre_report_loses_its_free_text_and_nothing_else() -> None:
    emptied = without_erased_free_text(_bytes(_report(ERASED)), {ERASED})

    assert emptied is not None and NAME.encode() not in emptied
    assert _decoded(emptied) == _report(ERASED).model_copy(update={"subject": None, "provider_name": None})
    assert json.loads(emptied)["event_id"] == str(uuid.UUID(int=1))  # still the copy of the parked event


def test_an_achievement_events_mis_identifier_goes_and_nothing_else() -> None:
    emptied = without_erased_free_text(_bytes(_withdrawn(ERASED, f"{NAME} 2003-04-17")), {ERASED})

    assert emptied is not None
    assert _decoded(emptied) == _withdrawn(ERASED, None)


def test_what_holds_nothing_to_empty_or_is_not_an_erased_learners_plr_event_is_left() -> None:
    assert without_erased_free_text(_bytes(_report(KEPT)), {ERASED}) is None  # another learner's
    assert without_erased_free_text(_bytes(_withdrawn(ERASED, None)), {ERASED}) is None  # nothing to empty
    assert (
        without_erased_free_text(
            _bytes(_report(ERASED).model_copy(update={"subject": None, "provider_name": None})), {ERASED}
        )
        is None
    )
    assert without_erased_free_text(_bytes(LearnerSharingChanged(uln=ERASED, ability_to_share=1)), {ERASED}) is None
    for not_an_event in (b"\xff not json", b"[]", b'{"data": "x"}', b'{"data": {"event_type": ["x"]}}', b"null"):
        assert without_erased_free_text(not_an_event, {ERASED}) is None
