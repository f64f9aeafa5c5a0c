"""What reporting needs from its busiest events, read from their JSON without building models (decision 0037).

Nearly all of what reporting reads is the PLR log (one event per accepted record) and decided chunks
(1,000 per-record outcomes each), and of an event it needs a few fields: of a PLR event its batch,
AO and qualification (and the qualification's type when recorded); of a chunk its rejected records'
codes, found without parsing the accepted ones. Validation validated these events when it wrote
them, so they are read as plain JSON, and a PLR event mostly from its head and its batch alone
(decision 0099). One not shaped as validation writes it goes to the validating
decoder (`lrs_contracts.registry.decode`), which has the last word: it either gives the models, or
raises and the message is poison as before.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Container
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from lrs_contracts.fast_decode import rejections_by_code
from lrs_contracts.outcomes import BatchRecordsDecided
from lrs_contracts.plr import (
    AchievementRecorded,
    AchievementReinstated,
    AchievementSuperseded,
    AchievementUpdated,
    AchievementWithdrawn,
)
from lrs_contracts.registry import UnknownEventType, decode, event_type_of
from reporting.store import PlrLogWrite

ACHIEVEMENT_EVENTS = (
    AchievementRecorded,
    AchievementUpdated,
    AchievementSuperseded,
    AchievementWithdrawn,
    AchievementReinstated,
)
_ACHIEVEMENT_TYPES = frozenset(event_type_of(model) for model in ACHIEVEMENT_EVENTS)
_RECORDED = event_type_of(AchievementRecorded)
_RECORDED_HEAD = _RECORDED.encode()
DECIDED_CHUNK = event_type_of(BatchRecordsDecided)
_TYPE = (str, type(None))
"""What a qualification type read from an event may be (None: the event names only the QAN)."""


def parse(value: bytes) -> Any:
    """The event's JSON; a message that is not JSON is poison (orjson's error is a ValueError)."""
    return orjson.loads(value)


def event_type_in(document: Any) -> str | None:
    return document.get("event_type") if isinstance(document, dict) else None


class PlrLogWrites:
    """Of a run of PLR log events: the latest broker time per batch and qualification, and each
    recorded qualification's type but those in `known_types`. Events other than achievements' (centre
    reports) add nothing.

    An achievement event with a broker time is read from its head (its type, AO and qualification, as
    validation writes them) and its provenance's batch, unless it records a qualification whose type is
    not in `known_types`: only those are parsed whole (decision 0099)."""

    def __init__(self, known_types: Container[str] = frozenset()) -> None:
        self._latest: dict[tuple[str, str], tuple[str, int]] = {}
        """(batch id as written, QAN) -> (AO, latest time in microseconds since the epoch)"""
        self.types: dict[str, str] = {}
        self._known_types = known_types

    def add(self, value: bytes, timestamp_ms: int) -> None:
        """`timestamp_ms` is the broker's time of the message; none (0 or -1) takes the event's `occurred_at`."""
        if timestamp_ms > 0 and (head := _ACHIEVEMENT_HEAD(value)) is not None:
            event_type, ao_id, qan_text = head.groups()
            qan = qan_text.decode()
            if event_type != _RECORDED_HEAD or qan in self._known_types:
                provenance = value.rfind(_PROVENANCE, head.end())
                batch = _PLAIN_TEXT(value, provenance + len(_PROVENANCE)) if provenance > 0 else None
                if batch is not None:
                    self._add(batch[1].decode(), qan, ao_id.decode(), timestamp_ms * 1000, None)
                    return
        document = parse(value)
        event_type = event_type_in(document)
        try:
            if event_type in _ACHIEVEMENT_TYPES:
                data = document["data"]
                key = data["key"]
                batch_id, qan, ao_id = data["provenance"]["batch_id"], key["qualification_number"], key["ao_id"]
                qualification_type = data["qualification"]["qualification_type"] if event_type == _RECORDED else None
                moment = (
                    timestamp_ms * 1000
                    if timestamp_ms > 0
                    else _microseconds(datetime.fromisoformat(document["occurred_at"]))
                )
                if (
                    type(batch_id) is str
                    and type(qan) is str
                    and type(ao_id) is str
                    and type(qualification_type) in _TYPE
                ):
                    self._add(batch_id, qan, ao_id, moment, qualification_type)
                    return
        except (KeyError, TypeError, ValueError):
            pass
        self._add_validated(value, timestamp_ms)

    def writes(self) -> list[PlrLogWrite]:
        """One per batch and qualification; a batch id spelled two ways is one batch."""
        by_slot: dict[tuple[uuid.UUID, str], PlrLogWrite] = {}
        for (batch_text, qan), (ao_id, moment) in self._latest.items():
            slot = (uuid.UUID(batch_text), qan)
            written_at = _datetime(moment)
            known = by_slot.get(slot)
            if known is None or known.written_at < written_at:
                by_slot[slot] = PlrLogWrite(slot[0], qan, ao_id, written_at)
        return list(by_slot.values())

    def _add(self, batch_id: str, qan: str, ao_id: str, moment: int, qualification_type: str | None) -> None:
        if qualification_type is not None and qan not in self._known_types:
            self.types[qan] = qualification_type
        slot = (batch_id, qan)
        known = self._latest.get(slot)
        if known is None or known[1] < moment:
            self._latest[slot] = (ao_id, moment)

    def _add_validated(self, value: bytes, timestamp_ms: int) -> None:
        try:
            envelope, event = decode(value)
        except UnknownEventType:
            return
        if not isinstance(event, ACHIEVEMENT_EVENTS):
            return
        qualification_type = event.qualification.qualification_type if isinstance(event, AchievementRecorded) else None
        moment = timestamp_ms * 1000 if timestamp_ms > 0 else _microseconds(envelope.occurred_at)
        qan = event.key.qualification_number
        self._add(str(event.provenance.batch_id), qan, event.key.ao_id, moment, qualification_type)


def rejection_codes_of(value: bytes, document: Any) -> tuple[uuid.UUID, int, dict[str, int]]:
    """Of a decided chunk's message; one not shaped as validation writes it is validated first."""
    found = rejections_by_code(document.get("data"))
    if found is not None:
        return found
    _, chunk = decode(value)
    assert isinstance(chunk, BatchRecordsDecided)
    validated = rejections_by_code(chunk.model_dump(mode="json"))
    assert validated is not None
    return validated


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The head of an achievement event up to its qualification, as validation writes it (compact, the
# envelope's fields in order, then the payload's type again, its id and key; as challenges reads it,
# decision 0089). Texts (S) are plain: no escape, so their bytes are their text. Groups: 1 event type,
# 2 AO, 3 QAN.
_ACHIEVEMENT_HEAD = re.compile(
    (
        rb'\{"event_id":"S","event_type":"(E)","occurred_at":"S","source":"S","correlation_id":"S",'
        rb'"causation_id":(?:"S"|null),"schema_version":[0-9]+,"data":\{"event_type":"\1",'
        rb'"achievement_id":"S","key":\{"ao_id":"(S)","uln":"S","qualification_number":"(S)",'
    )
    .replace(b"S", rb'[^"\\\x00-\x1f]*')
    .replace(b"E", b"|".join(re.escape(event_type.encode()) for event_type in sorted(_ACHIEVEMENT_TYPES)))
).match
# The payload's provenance, its last field: found from the end (a `,"` is never inside a JSON string).
_PROVENANCE = b',"provenance":{"batch_id":"'
_PLAIN_TEXT = re.compile(rb'([^"\\\x00-\x1f]*)"').match


def _microseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _datetime(microseconds: int) -> datetime:
    return _EPOCH + timedelta(microseconds=microseconds)
