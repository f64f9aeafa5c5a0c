"""An achievement event read by matching its bytes as validation writes them (decisions 0089 and 0099).

Challenges and reporting read every PLR log event for a few of its fields. Validation wrote and validated
each one, so they match the whole message against the one shape pydantic writes: every field of the envelope
and the payload in the models' order, compact, each value as its contract takes it and spelt as pydantic spells
it (a UUID in lower case, a UTC time ending `Z`, a ULN of its pattern, an integer within its bounds), the parts
its event type has, and nothing after the object. Texts are plain (no escape or control character), so their
bytes are their text. What matches is what the contract models take, read as they read it; anything else is
None, and the caller decodes the message with the validating `lrs_contracts.registry.decode`, which parks or
refuses it as the PLR projector does. `contracts/tests/test_fast_match.py` proves both halves on generated
events.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import NamedTuple

from pydantic import BaseModel

from lrs_contracts.envelope import Envelope
from lrs_contracts.fast_decode import ParsedTexts, plain_fields
from lrs_contracts.identifiers import ULN_PATTERN
from lrs_contracts.plr import (
    AchievementData,
    AchievementKey,
    AchievementRecorded,
    AchievementReinstated,
    AchievementSuperseded,
    AchievementUpdated,
    AchievementWithdrawn,
    Provenance,
    QualificationSummary,
    ResultStatus,
)
from lrs_contracts.registry import event_type_of

ACHIEVEMENT_MODELS = (
    AchievementRecorded,
    AchievementUpdated,
    AchievementSuperseded,
    AchievementWithdrawn,
    AchievementReinstated,
)


class AchievementFields(NamedTuple):
    """An achievement event's fields as its message spells them (texts as bytes), its times read. `grade` and
    `status` are None for an event without data or status, `title` and `qualification_type` but for a recording.
    The rest of the data (`pathway`, `ukprn`, `language_for_assessment`, `credits`) is None where the event has none
    or says null: `grade` tells the two apart."""

    event_type: bytes
    occurred_at: datetime
    achievement_id: bytes
    ao_id: bytes
    uln: bytes
    qualification_number: bytes
    award_date: date
    grade: bytes | None
    status: bytes | None
    title: bytes | None
    qualification_type: bytes | None
    batch_id: bytes
    pathway: bytes | None = None
    ukprn: bytes | None = None
    language_for_assessment: bytes | None = None
    credits: int | None = None


def achievement_fields(value: bytes) -> AchievementFields | None:
    """The fields of an achievement event written as validation writes it; None for any other message."""
    match = _ACHIEVEMENT_EVENT(value)
    if match is None:
        return None
    (
        event_type,
        occurred_text,
        achievement_id,
        ao_id,
        uln,
        qan,
        award_text,
        pathway,
        grade,
        ukprn,
        language,
        credits,
        status,
        title,
        kind,
        batch_id,
    ) = match.groups()
    occurred_at = _TIMES[occurred_text]
    award_date = _DATES[award_text]
    if (
        occurred_at is None
        or award_date is None
        or _SHAPES[event_type] != (grade is not None, status is not None, title is not None)
        or not (value.isascii() or _is_utf8(value))
    ):
        return None
    return AchievementFields(
        event_type,
        occurred_at,
        achievement_id,
        ao_id,
        uln,
        qan,
        award_date,
        grade,
        status,
        title,
        kind,
        batch_id,
        pathway,
        ukprn,
        language,
        int(credits) if credits is not None else None,
    )


def _time(text: bytes) -> datetime | None:
    """A time the pattern's shape allows as a moment of the calendar, or None."""
    try:
        return datetime.fromisoformat(text.decode())
    except ValueError:
        return None


def _date(text: bytes) -> date | None:
    """`YYYY-MM-DD` as a day of the calendar, or None."""
    try:
        return date.fromisoformat(text.decode())
    except ValueError:
        return None


def _is_utf8(value: bytes) -> bool:
    """Whether a message beyond ASCII is UTF-8 (pydantic refuses a JSON that is not)."""
    try:
        value.decode()
    except UnicodeDecodeError:
        return False
    return True


# Remembered: a batch's events share their time, and award dates repeat.
_TIMES = ParsedTexts(_time)
_DATES = ParsedTexts(_date)
# Groups: 1 event type, 2 occurred at, 3 achievement id, 4 AO, 5 ULN, 6 QAN, 7 award date, 8 pathway, 9 grade,
# 10 UKPRN, 11 language for assessment, 12 credits, 13 status, 14 title, 15 qualification type, 16 batch id. The
# parts of the payload (data, status, qualification) are each optional here and checked against the event type's
# (`_SHAPES`).
_ACHIEVEMENT_EVENT = re.compile(
    (
        rb'\{"event_id":"U","event_type":"(E)","occurred_at":"(T)","source":"N","correlation_id":"N",'
        rb'"causation_id":(?:"S"|null),"schema_version":1,"data":\{"event_type":"\1",'
        rb'"achievement_id":"(U)","key":\{"ao_id":"(S)","uln":"(L)","qualification_number":"(S)",'
        rb'"award_date":"([0-9]{4}-[0-9]{2}-[0-9]{2})"\},'
        rb'(?:"data":\{"pathway":C,"grade":"(S)","ukprn":C,"language_for_assessment":C,'
        rb'"credits":(?:null|(-?(?:0|[1-9][0-9]{0,17})))\},'
        rb'(?:"status":"(R)",'
        rb'(?:"qualification":\{"title":"(S)","qualification_type":"(S)","level":O,"framework":"S","kind":"S",'
        rb'"awarding_organisation_name":"S"\},)?)?)?'
        rb'"provenance":\{"batch_id":"(U)","line":[1-9][0-9]{0,17},"mis_identifier":O\}\}\}'
    )
    .replace(b"O", rb'(?:"S"|null)')
    .replace(b"C", rb'(?:"(S)"|null)')  # a text or null, the text taken
    # S a text, N one not empty: the bytes that are not `"`, `\` or a control character, named as they are (a
    # negated class costs the engine a second step a byte), taken whole (possessive: a text ends at a quote)
    .replace(b"S", rb"[\x20\x21\x23-\x5b\x5d-\xff]*+")
    .replace(b"N", rb"[\x20\x21\x23-\x5b\x5d-\xff]++")
    .replace(b"U", rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
    .replace(b"T", rb"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{6})?Z")
    .replace(b"L", ULN_PATTERN.removeprefix("^").removesuffix("$").encode())
    .replace(b"R", b"|".join(re.escape(status.value.encode()) for status in ResultStatus))
    .replace(b"E", b"|".join(re.escape(event_type_of(model).encode()) for model in ACHIEVEMENT_MODELS))
).fullmatch
# Per achievement event type as the message spells it: whether it has data, a status and a qualification.
_SHAPES = {
    event_type_of(model).encode(): tuple(part in plain_fields(model) for part in ("data", "status", "qualification"))
    for model in ACHIEVEMENT_MODELS
}
# The fields `_ACHIEVEMENT_EVENT` spells out, in order: a contract that changes them must change the pattern too.
_SPELT_OUT: dict[type[BaseModel], tuple[str, ...]] = {
    Envelope: (
        "event_id",
        "event_type",
        "occurred_at",
        "source",
        "correlation_id",
        "causation_id",
        "schema_version",
        "data",
    ),
    AchievementRecorded: ("event_type", "achievement_id", "key", "data", "status", "qualification", "provenance"),
    AchievementUpdated: ("event_type", "achievement_id", "key", "data", "status", "provenance"),
    AchievementSuperseded: ("event_type", "achievement_id", "key", "data", "provenance"),
    AchievementWithdrawn: ("event_type", "achievement_id", "key", "provenance"),
    AchievementReinstated: ("event_type", "achievement_id", "key", "provenance"),
    AchievementKey: ("ao_id", "uln", "qualification_number", "award_date"),
    AchievementData: ("pathway", "grade", "ukprn", "language_for_assessment", "credits"),
    QualificationSummary: ("title", "qualification_type", "level", "framework", "kind", "awarding_organisation_name"),
    Provenance: ("batch_id", "line", "mis_identifier"),
}
for _model, _fields in _SPELT_OUT.items():
    if plain_fields(_model) != _fields:
        raise RuntimeError(f"{_model.__name__} is spelt out as {_fields}, not {plain_fields(_model)}: teach fast_match")
