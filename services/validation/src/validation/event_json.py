"""The JSON of a batch's events and outcome chunks, written by orjson (decision 0096).

Nearly every event of a batch is an `AchievementRecorded`, and pydantic's serialiser
(`payload_json`) writes each one whole, its result's data and its qualification's catalogue facts
included, although a batch shares those models between thousands of events (`lrs_domain.decision`
builds one per distinct value). Here an `AchievementRecorded` is written by orjson, with the JSON of
each shared model written once and spliced in; a chunk of 1,000 outcomes is written by one orjson call
over the outcomes' own fields. Both byte for byte what `payload_json` writes
(`tests/unit/test_event_json.py` compares them on payloads generated from the schema snapshots). Any
other event, or a value orjson does not write, is left to `payload_json`.
"""

from __future__ import annotations

from typing import Any

import orjson

from lrs_contracts.envelope import Contract
from lrs_contracts.fast_decode import payload_json
from lrs_contracts.outcomes import BatchRecordsDecided, Finding, RecordOutcome
from lrs_contracts.plr import AchievementKey, AchievementRecorded, Provenance

_FIELDS: dict[type[Contract], tuple[str, ...]] = {
    AchievementRecorded: ("event_type", "achievement_id", "key", "data", "status", "qualification", "provenance"),
    AchievementKey: ("ao_id", "uln", "qualification_number", "award_date"),
    Provenance: ("batch_id", "line", "mis_identifier"),
    BatchRecordsDecided: ("event_type", "batch_id", "ao_id", "chunk_index", "outcomes"),
    RecordOutcome: (
        "line",
        "mis_identifier",
        "action",
        "uln_masked",
        "status",
        "errors",
        "warnings",
        "achievement_id",
    ),
    Finding: ("code", "field", "message"),
}
if any(tuple(model.model_fields) != fields for model, fields in _FIELDS.items()):
    raise AssertionError("an event's fields changed: teach validation.event_json their order")


class EventJson:
    """`payload_json(event)` for the events of one batch. The shared models' JSON is remembered by
    identity: each model is kept here beside its JSON, so no other object can take its identity."""

    __slots__ = ("_pieces",)

    def __init__(self) -> None:
        self._pieces: dict[int, tuple[Contract, orjson.Fragment]] = {}

    def __call__(self, event: Contract) -> bytes:
        if event.__class__ is not AchievementRecorded:
            return payload_json(event)
        values = event.__dict__
        key_values, provenance_values = values["key"].__dict__, values["provenance"].__dict__
        pieces = self._pieces
        data, qualification = values["data"], values["qualification"]
        # the shared models' pieces looked up here: `_piece` only for one not seen yet
        data_piece = pieces.get(id(data)) or self._piece(data)
        qualification_piece = pieces.get(id(qualification)) or self._piece(qualification)
        try:
            written = orjson.dumps(
                {
                    "event_type": values["event_type"],
                    "achievement_id": values["achievement_id"],
                    # a model's fields stand in its `__dict__` in their declared order (`records_decided_json`)
                    "key": key_values,
                    "data": data_piece[1],
                    "status": values["status"],
                    "qualification": qualification_piece[1],
                    "provenance": provenance_values,
                }
            )
        except orjson.JSONEncodeError:  # what orjson does not write (a lone surrogate, an integer past 64 bits)
            return payload_json(event)
        # orjson's bytes keep the whole buffer it wrote into (8 KB for an event of ~700 bytes), and a
        # batch's events' JSON waits for its end marker: kept as an exact copy
        return bytes(memoryview(written))

    def _piece(self, model: Any) -> tuple[Contract, orjson.Fragment]:
        known = self._pieces.get(id(model))
        if known is None:
            known = self._pieces[id(model)] = (model, orjson.Fragment(payload_json(model)))
        return known


def records_decided_json(decided: BatchRecordsDecided) -> bytes:
    """`payload_json(decided)` in one orjson call: a model's fields stand in its `__dict__` in their
    declared order (pydantic, `model_copy` and `lrs_domain.trusted` all build them so), and the
    outcomes' values are of types orjson writes as pydantic does."""
    values = decided.__dict__
    try:
        return orjson.dumps(
            {
                "event_type": values["event_type"],
                "batch_id": values["batch_id"],
                "ao_id": values["ao_id"],
                "chunk_index": values["chunk_index"],
                "outcomes": [outcome.__dict__ for outcome in values["outcomes"]],
            },
            default=_finding_fields,
        )
    except orjson.JSONEncodeError:
        return payload_json(decided)


def _finding_fields(value: Any) -> dict[str, Any]:
    if value.__class__ is not Finding:
        raise TypeError(f"not written here: {type(value).__name__}")
    fields: dict[str, Any] = value.__dict__
    return fields
