"""Personal data leaves ingest sealed (decision 0080): a record's given name, family name, date of birth
and gender travel on Kafka only under its learner's key, so erasing the key makes them unreadable in
every segment and backup.

Every format's records pass through `sealed_encoded_records`, which encodes them as they stand in the
batch's chunks, part by part, with the keys of a part's learners fetched (and created where new) in one
keyring call while the part before it is sealed (`ingest.service`). A record whose ULN is not ten digits names no learner to key it to: it goes as it came, and validation rejects
it (RV001); the submissions topic keeps it for its retention only (docs/privacy.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import orjson

from lrs_contracts.batch import SubmittedRecord
from lrs_platform.keyring import PERSONAL_FIELDS, Erased, KeyLookup, LearnerKey, Purpose, sealed_personal

_WITHOUT_PERSONAL_FIELDS = dict.fromkeys(PERSONAL_FIELDS)
_ERASED = {**_WITHOUT_PERSONAL_FIELDS, "learner_erased": True}


class LearnerKeys(Protocol):
    """`lrs_platform.keyring.Keyring` as ingest uses it."""

    async def issue(self, ulns: Iterable[str]) -> KeyLookup: ...


def keyed_uln(record: SubmittedRecord) -> str | None:
    """The ULN a record's personal fields are sealed under, or None when it names no learner."""
    uln = record.uln
    return uln if uln is not None and _is_learner_uln(uln) else None


def _is_learner_uln(uln: str) -> bool:
    """Ten ASCII digits (`[0-9]{10}`, as a check of its length and characters: no regular expression per record)."""
    return len(uln) == 10 and uln.isascii() and uln.isdigit()


def learner_ulns(records: Iterable[SubmittedRecord]) -> set[str]:
    return {uln for uln in map(keyed_uln, records) if uln is not None}


def sealed_encoded_records(records: Sequence[SubmittedRecord], keys: Mapping[str, LearnerKey | Erased]) -> list[bytes]:
    """Each record's JSON as it stands in its chunk, with its personal fields sealed into `personal`, or
    dropped (`learner_erased`) for an erased learner. `keys` holds a key, or ERASED, for every ULN
    `learner_ulns` named.

    The sealed values are written as they are made, with no record object in between: orjson writes a
    record's values (its `__dict__`, every field in the model's order) byte for byte as pydantic's
    `to_json` writes the record (`ingest.submission.encoded_record`; a unit test holds them equal).
    orjson's bytes keep the whole buffer it wrote into (~4 KB): each is copied to its own length, so a
    batch's 10,000 held until they are chunked take ~6 MB, not ~40."""
    encoded: list[bytes] = []
    append = encoded.append
    dumps = orjson.dumps
    for record in records:
        values = record.__dict__
        uln = values["uln"]
        if uln is None or not _is_learner_uln(uln):
            append(memoryview(dumps(values)).tobytes())
            continue
        key = keys[uln]
        if isinstance(key, Erased):
            append(memoryview(dumps({**values, **_ERASED})).tobytes())
        else:
            personal = sealed_personal(key, Purpose.SUBMITTED_RECORD, values)
            append(memoryview(dumps({**values, **_WITHOUT_PERSONAL_FIELDS, "personal": personal})).tobytes())
    return encoded
