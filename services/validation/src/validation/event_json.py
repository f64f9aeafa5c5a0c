"""The JSON of a batch's events, written from pieces the batch repeats (decision 0096).

Nearly every event of a batch is an `AchievementRecorded`, and pydantic's serialiser
(`payload_json`) writes each one whole, its result's data and its qualification's catalogue facts
included, although a batch shares those models between thousands of events (`lrs_domain.decision`
builds one per distinct value). Here an `AchievementRecorded` is written by orjson, with the JSON of
each shared model written once and spliced in: byte for byte what `payload_json` writes
(`tests/unit/test_event_json.py` compares them on events generated from the schema snapshot). Any
other event, or a value orjson does not write as pydantic does, is left to `payload_json`.
"""

from __future__ import annotations

from typing import Any

import orjson

from lrs_contracts.envelope import Contract
from lrs_contracts.fast_decode import payload_json
from lrs_contracts.plr import AchievementKey, AchievementRecorded, Provenance

_FIELDS: dict[type[Contract], tuple[str, ...]] = {
    AchievementRecorded: ("event_type", "achievement_id", "key", "data", "status", "qualification", "provenance"),
    AchievementKey: ("ao_id", "uln", "qualification_number", "award_date"),
    Provenance: ("batch_id", "line", "mis_identifier"),
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
        try:
            return orjson.dumps(
                {
                    "event_type": values["event_type"],
                    "achievement_id": values["achievement_id"],
                    "key": {
                        "ao_id": key_values["ao_id"],
                        "uln": key_values["uln"],
                        "qualification_number": key_values["qualification_number"],
                        "award_date": key_values["award_date"],
                    },
                    "data": self._piece(values["data"]),
                    "status": values["status"],
                    "qualification": self._piece(values["qualification"]),
                    "provenance": {
                        "batch_id": provenance_values["batch_id"],
                        "line": provenance_values["line"],
                        "mis_identifier": provenance_values["mis_identifier"],
                    },
                }
            )
        except orjson.JSONEncodeError:  # what orjson does not write (a lone surrogate, an integer past 64 bits)
            return payload_json(event)

    def _piece(self, model: Any) -> orjson.Fragment:
        known = self._pieces.get(id(model))
        if known is None:
            known = self._pieces[id(model)] = (model, orjson.Fragment(payload_json(model)))
        return known[1]
