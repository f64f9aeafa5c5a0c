"""An achievement event matched as validation writes it (`lrs_contracts.fast_match`) is read exactly as the
models read it, and nothing the models refuse is matched.

Events are generated from the committed JSON-Schema snapshots, as in `test_fast_decode.py`, then written as
validation writes them (`encode` of the decoded models); mutated copies of those bytes (a field removed, added
or replaced, written compact in the same order) are matched only where the models read them alike.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from tests.support.event_examples import JSON_VALUES, envelopes, json_paths, mutate

from lrs_contracts.envelope import Contract, Envelope
from lrs_contracts.fast_match import ACHIEVEMENT_MODELS, AchievementFields, achievement_fields
from lrs_contracts.plr import AchievementRecorded
from lrs_contracts.registry import UnknownEventType, decode, encode, event_type_of, wrap

EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ACHIEVEMENT_TYPES = sorted(event_type_of(model) for model in ACHIEVEMENT_MODELS)


def _as_the_models_read(envelope: Envelope, payload: Contract) -> AchievementFields:
    dumped = payload.model_dump(mode="json")
    data, status = dumped.get("data"), dumped.get("status")
    qualification = dumped.get("qualification")

    def spelt(text: str | None) -> bytes | None:
        return None if text is None else text.encode()

    return AchievementFields(
        envelope.event_type.encode(),
        envelope.occurred_at,
        str(dumped["achievement_id"]).encode(),
        dumped["key"]["ao_id"].encode(),
        dumped["key"]["uln"].encode(),
        dumped["key"]["qualification_number"].encode(),
        payload.key.award_date,  # type: ignore[attr-defined]
        spelt(data["grade"]) if data else None,
        spelt(status),
        spelt(qualification["title"]) if qualification else None,
        spelt(qualification["qualification_type"]) if qualification else None,
        str(dumped["provenance"]["batch_id"]).encode(),
        spelt(data["pathway"]) if data else None,
        spelt(data["ukprn"]) if data else None,
        spelt(data["language_for_assessment"]) if data else None,
        data["credits"] if data else None,
    )


def _as_written(document: dict[str, Any]) -> bytes:
    """The event as `wrap` and `encode` write it: the payload's fields in the model's order."""
    envelope, payload = decode(json.dumps(document).encode())
    return encode(envelope.model_copy(update={"data": payload.model_dump(mode="json")}))


@pytest.mark.parametrize("event_type", ACHIEVEMENT_TYPES)
@EXAMPLES
@given(data=st.data())
def test_an_event_as_validation_writes_it_is_matched_and_read_as_the_models_read_it(
    event_type: str, data: st.DataObject
) -> None:
    written = _as_written(data.draw(envelopes(event_type)))
    envelope, payload = decode(written)
    fields = achievement_fields(written)
    if fields is None:
        # left to the validating decoder: only a text with an escape, or an integer of 19 digits or more
        assert b"\\" in written or re.search(rb":-?[0-9]{19,}[,}]", written)
        return
    assert fields == _as_the_models_read(envelope, payload)


@pytest.mark.parametrize("event_type", ACHIEVEMENT_TYPES)
@EXAMPLES
@given(data=st.data(), change=st.sampled_from(["remove", "add", "replace"]), replacement=JSON_VALUES)
def test_a_changed_event_is_matched_only_where_the_models_read_it_alike(
    event_type: str, data: st.DataObject, change: str, replacement: Any
) -> None:
    document = json.loads(_as_written(data.draw(envelopes(event_type))))
    path = data.draw(st.sampled_from(json_paths(document)[1:]))
    mutate(document, path, change, replacement)
    changed = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    try:
        envelope, payload = decode(changed)
    except (ValidationError, UnknownEventType, ValueError):
        assert achievement_fields(changed) is None
        return
    fields = achievement_fields(changed)
    assert fields is None or fields == _as_the_models_read(envelope, payload)


RECORDED = AchievementRecorded.model_validate(
    {
        "achievement_id": uuid.UUID(int=7),
        "key": {"ao_id": "RN5133", "uln": "9000000043", "qualification_number": "6001166X", "award_date": "2024-05-20"},
        "data": {"grade": "7"},
        "status": "F",
        "qualification": {
            "title": "GCSE Maths",
            "qualification_type": "GCSE",
            "framework": "RQF",
            "kind": "qualification",
            "awarding_organisation_name": "AQA",
        },
        "provenance": {"batch_id": str(uuid.UUID(int=8)), "line": 1},
    }
)
WRITTEN = encode(
    wrap(RECORDED, source="validation", correlation_id="batch", occurred_at=datetime(2024, 6, 1, 9, tzinfo=UTC))
)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b'T09:00:00Z"', b'T09:00:00+00:00"'),  # UTC, but not as pydantic writes it
        (b'T09:00:00Z"', b'T09:00:00+01:00"'),
        (b'T09:00:00Z"', b'T25:00:00Z"'),
        (b'"award_date":"2024-05-20"', b'"award_date":"2024-02-30"'),
        (b"}}}", b"}}} "),
        (b'"source":', b'"source":"x","source":'),
        (b'"achievement_id":"0', b'"achievement_id":"A'),
        (b'"ao_id":"', b'"ao_id":"\xff'),
        (b'"uln":"9000000043"', b'"uln":"900000004"'),
        (b'"status":"F"', b'"status":"X"'),
        (b',"provenance":', b',"extra":null,"provenance":'),
    ],
)
def test_what_validation_never_writes_is_not_matched(old: bytes, new: bytes) -> None:
    assert achievement_fields(WRITTEN) is not None
    assert old in WRITTEN
    assert achievement_fields(WRITTEN.replace(old, new, 1)) is None
