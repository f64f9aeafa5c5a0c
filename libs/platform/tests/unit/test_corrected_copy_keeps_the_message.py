"""A corrected copy of any service's parked message keeps the message's time, and an achievement's id, key and
provenance, wherever the parked bytes give them readably (a poison's envelope reads
though its payload does not): the challenges service reads the PLR log, and a copy under another AO or batch, or
of another time, would put that into its copy of the learner's record, for good."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import orjson

from lrs_contracts.batch import JobType
from lrs_contracts.dead_letters import fields_changed
from lrs_contracts.outcomes import BatchCompleted, BatchCounts
from lrs_contracts.plr import AchievementKey, AchievementWithdrawn, Provenance
from lrs_contracts.registry import encode, wrap
from lrs_platform.parking import corrected_copy_refusal

EVENT = uuid.UUID(int=1)
BATCH = uuid.UUID(int=9)
ULN = "1000000043"
AT = datetime(2026, 12, 7, 22, 41, tzinfo=UTC)


def _completed(*, occurred_at: datetime = AT, correlation_id: str = str(BATCH)) -> bytes:
    completed = BatchCompleted(
        batch_id=BATCH,
        ao_id="RN5133",
        job_type=JobType.FINAL,
        notification_email="results@ao.example",
        counts=BatchCounts(total=1, accepted=1, rejected=0, no_ops=0, warnings=0),
        submitted_at=datetime(2026, 12, 4, tzinfo=UTC),
        decided_at=datetime(2026, 12, 4, tzinfo=UTC),
    )
    envelope = wrap(completed, source="validation", correlation_id=correlation_id, event_id=EVENT, occurred_at=AT)
    return encode(envelope.model_copy(update={"occurred_at": occurred_at}))


def _withdrawn(*, ao_id: str = "RN5133", batch: uuid.UUID = BATCH) -> bytes:
    key = AchievementKey(ao_id=ao_id, uln=ULN, qualification_number="6001166X", award_date=date(2024, 5, 20))
    withdrawn = AchievementWithdrawn(
        achievement_id=uuid.UUID(int=3), key=key, provenance=Provenance(batch_id=batch, line=1)
    )
    return encode(wrap(withdrawn, source="validation", correlation_id="c", event_id=EVENT, occurred_at=AT))


def _changes(*fields: str) -> str:
    return (
        f"the replacement changes the parked message's {' and '.join(fields)}: a corrected copy is the message"
        " mended, nothing else, and keeps its time, key and provenance"
    )


HALF_READ = _completed().replace(b'"accepted":1', b'"accepted":"one"')


def test_the_message_mended_and_nothing_else_is_a_corrected_copy() -> None:
    assert corrected_copy_refusal(HALF_READ, _completed(), str(BATCH).encode()) is None
    assert corrected_copy_refusal(_withdrawn(), _withdrawn(), ULN.encode()) is None


def test_a_copy_of_another_time_is_refused() -> None:
    earlier = datetime(2025, 1, 15, 9, tzinfo=UTC)
    for head in (HALF_READ, _completed()):
        said = corrected_copy_refusal(head, _completed(occurred_at=earlier), str(BATCH).encode())
        assert said == _changes("occurred_at")


def test_a_copy_may_mend_the_correlation_id() -> None:
    """Validation's Sandpit catalogue parks a row whose correlation id names no reference load: its copy mends it."""
    assert corrected_copy_refusal(_completed(), _completed(correlation_id="other"), str(BATCH).encode()) is None


def test_a_copy_of_a_plr_event_under_another_ao_or_batch_is_refused_though_the_parked_one_does_not_read() -> None:
    document: dict[str, Any] = orjson.loads(_withdrawn())
    document["data"]["unknown"] = 1  # fails its contract: what a copy mends
    poison = orjson.dumps(document)
    assert corrected_copy_refusal(poison, _withdrawn(), ULN.encode()) is None
    said = corrected_copy_refusal(poison, _withdrawn(ao_id="RN9001", batch=uuid.UUID(int=8)), ULN.encode())
    assert said == _changes("data.key.ao_id", "data.provenance.batch_id")


def test_what_is_no_json_object_holds_the_copy_to_nothing_here() -> None:
    assert fields_changed(b"\x00 not json", _completed()) == []
    assert fields_changed(b"[1]", _completed()) == []
