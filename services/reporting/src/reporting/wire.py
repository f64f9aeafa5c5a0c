"""What reporting needs from its busiest events, read from their JSON without building models (decision 0037).

Nearly all of what reporting reads is the PLR log (one event per accepted record) and decided chunks
(1,000 per-record outcomes each), and of an event it needs a few fields: of a PLR event its batch,
AO and qualification (and the qualification's type when recorded); of a chunk its rejected records'
codes, found without parsing the accepted ones. Validation validated these events when it wrote
them, so a PLR event is read by matching its whole message as validation writes it (decision 0099),
and a chunk by the contracts' fast builders: each takes only what the contract models take, so reporting
counts no event the PLR projector parks. One not shaped as validation writes it goes to the validating
decoder (`lrs_contracts.registry.decode`), which has the last word: it either gives the models, or
raises and the message is poison as before.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Container
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from lrs_contracts.envelope import Envelope
from lrs_contracts.fast_decode import NotFast, builder_for, decode_fast
from lrs_contracts.fast_match import ACHIEVEMENT_MODELS, achievement_fields
from lrs_contracts.outcomes import BatchRecordsDecided, RecordStatus
from lrs_contracts.plr import AchievementRecorded
from lrs_contracts.registry import decode, decode_envelope, event_type_of
from reporting.store import PlrLogWrite

ACHIEVEMENT_EVENTS = ACHIEVEMENT_MODELS
DECIDED_CHUNK = event_type_of(BatchRecordsDecided)


def parse(value: bytes) -> Any:
    """The event's JSON. A message that is not JSON fails its contract: raises the validating decoder's refusal
    (pydantic's ValidationError), so that it is parked at its first attempt as `invalid: Invalid JSON: …`, as every
    consumer parks it."""
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        decode_envelope(value)
        raise  # only if the decoder took what orjson refused


def event_type_in(document: Any) -> str | None:
    return document.get("event_type") if isinstance(document, dict) else None


class PlrLogWrites:
    """Of a run of PLR log events: the latest broker time per batch and qualification, and each
    recorded qualification's type but those in `known_types`. Events other than achievements' (centre
    reports) add nothing.

    An achievement event written as validation writes it is read from the match of its whole message
    (`lrs_contracts.fast_match`: its time, AO, qualification and batch, and a recording's qualification type);
    any other event is decoded, by the contracts' fast builders or else validated (decision 0099)."""

    def __init__(self, known_types: Container[str] = frozenset()) -> None:
        self._latest: dict[tuple[str, str], tuple[str, int]] = {}
        """(batch id as written, QAN) -> (AO, latest time in microseconds since the epoch)"""
        self.types: dict[str, str] = {}
        self._known_types = known_types

    def add(self, value: bytes, timestamp_ms: int) -> None:
        """`timestamp_ms` is the broker's time of the message; none (0 or -1) takes the event's `occurred_at`."""
        event = achievement_fields(value)
        if event is not None:
            moment = timestamp_ms * 1000 if timestamp_ms > 0 else _microseconds(event.occurred_at)
            kind = event.qualification_type
            self._add(
                event.batch_id.decode(),
                event.qualification_number.decode(),
                event.ao_id.decode(),
                moment,
                kind.decode() if kind is not None else None,
            )
            return
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
            envelope, event = decode_fast(value)
        except NotFast:
            envelope, event = decode(value)  # a type the contracts do not know is parked (UnknownEventType)
        if not isinstance(event, ACHIEVEMENT_EVENTS):
            return
        qualification_type = event.qualification.qualification_type if isinstance(event, AchievementRecorded) else None
        moment = timestamp_ms * 1000 if timestamp_ms > 0 else _microseconds(envelope.occurred_at)
        qan = event.key.qualification_number
        self._add(str(event.provenance.batch_id), qan, event.key.ao_id, moment, qualification_type)


def rejection_codes_of(value: bytes, document: Any) -> tuple[uuid.UUID, int, dict[str, int]]:
    """Of a decided chunk's message (`document`: its JSON), as its models read it: its batch id, chunk index and
    rejected records per code (a record with two codes counts under both, a code twice on one record once).
    Built by the contracts' fast builders, which take only what the models take; otherwise validated, and one
    the models refuse is poison."""
    try:
        chunk: Any = _CHUNK(_ENVELOPE(document).data)
    except Exception:  # NotFast, or a validator's refusal: the validating decoder has the last word
        _, chunk = decode(value)
    assert isinstance(chunk, BatchRecordsDecided)
    counts: Counter[str] = Counter()
    for outcome in chunk.outcomes:
        if outcome.status is RecordStatus.REJECTED and outcome.errors:
            counts.update({finding.code for finding in outcome.errors})
    return chunk.batch_id, chunk.chunk_index, dict(counts)


_ENVELOPE = builder_for(Envelope)
_CHUNK = builder_for(BatchRecordsDecided)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _microseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _datetime(microseconds: int) -> datetime:
    return _EPOCH + timedelta(microseconds=microseconds)
