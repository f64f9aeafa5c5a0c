"""Personal data leaves ingest sealed (decision 0080): a record's given name, family name, date of birth
and gender travel on Kafka only under its learner's key, so erasing the key makes them unreadable in
every segment and backup.

Every format's records pass through `sealed_encoded_records`, which encodes them as they stand in the
batch's chunks, part by part, with the keys of a part's learners fetched (and created where new) in one
keyring call while the part before it is sealed (`ingest.service`). A record whose ULN is missing, not
ten digits, with a wrong check digit, or the temporary ULN names no learner to key it to: its details are
sealed the same way under a key of its batch's own (`batch_key_name`, issued in the same keyring call), which
validation destroys once the batch is decided (decisions 0106, 0154, 0175). Validation rejects such a record
as before (RV001, RV021, RV002, RV003). An erased learner's record (the keyring answers ERASED for its ULN) is
marked `learner_erased` and its details are sealed under the batch's own key too, issued then: validation judges
them as for a live learner, so that a deliberately bad detail draws the same findings (decision 0157).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import orjson

from lrs_contracts.batch import SubmittedRecord
from lrs_domain.identifiers import is_valid_uln
from lrs_platform.keyring import (
    ERASED,
    PERSONAL_FIELDS,
    UNKEYED_RECORDS,
    Erased,
    KeyLookup,
    LearnerKey,
    Purpose,
    batch_key_name,
    sealed_personal,
)

_WITHOUT_PERSONAL_FIELDS = dict.fromkeys(PERSONAL_FIELDS)
if PERSONAL_FIELDS != ("given_name", "family_name", "date_of_birth", "gender"):
    raise AssertionError("sealed_encoded_records names the personal fields one by one")
_ERASED = {**_WITHOUT_PERSONAL_FIELDS, "learner_erased": True}


class LearnerKeys(Protocol):
    """`lrs_platform.keyring.Keyring` as ingest uses it."""

    async def issue(self, ulns: Iterable[str]) -> KeyLookup: ...


def names_to_issue(records: Iterable[SubmittedRecord], batch_id: uuid.UUID) -> set[str]:
    """The ULNs of the learners `records` name, and the batch's own key's name when a record that names
    none has details to seal."""
    names: set[str] = set()
    add = names.add
    unkeyed = False
    for record in records:
        values = record.__dict__
        uln = values["uln"]
        if uln is not None and is_valid_uln(uln):
            add(uln)
        elif not unkeyed:
            unkeyed = _has_details(values)
    if unkeyed:
        add(batch_key_name(batch_id))
    return names


def erased_learners_details(records: Iterable[SubmittedRecord], keys: KeyLookup) -> bool:
    """Whether some record of a learner `keys` answers ERASED for has details to seal under the batch's own key.
    Only then is that key issued for them (`_learner_keys` in `ingest.service`): validation looks for it, and
    destroys it, only when such a record's details are sealed (`validation.personal.ulns_to_look_up`)."""
    return any(
        (uln := record.uln) is not None and keys.get(uln) is ERASED and _has_details(record.__dict__)
        for record in records
    )


def _has_details(values: Mapping[str, object]) -> bool:
    return (
        values["given_name"] is not None
        or values["family_name"] is not None
        or values["date_of_birth"] is not None
        or values["gender"] is not None
    )


def _erased_learners(values: Mapping[str, object], batch_key: LearnerKey | Erased | None) -> dict[str, object]:
    """An erased learner's record, marked so (`learner_erased`), with its details sealed under the batch's own key
    (`_learner_keys` in `ingest.service` issues it once such a record has details): validation judges
    them as any record's and the learner as one whose details do not match (decision 0157). Without that key
    (destroyed, the batch decided) the details are dropped, as before."""
    if batch_key is None or isinstance(batch_key, Erased) or not _has_details(values):
        return {**values, **_ERASED}
    return {**values, **_ERASED, "personal": sealed_personal(batch_key, Purpose.SUBMITTED_RECORD, values)}


def sealed_encoded_records(records: Sequence[SubmittedRecord], keys: Mapping[str, LearnerKey | Erased]) -> list[bytes]:
    """Each record's JSON as it stands in its chunk, with its personal fields sealed into `personal`. `keys`
    holds a key, or ERASED, for every ULN `names_to_issue` named, and under UNKEYED_RECORDS the batch's own
    key when it named that or an erased learner's record has details: the details of a record that names no
    learner, or an erased one (marked `learner_erased`), are sealed under it (a record with none goes as it came).

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
        if uln is None or not is_valid_uln(uln):
            if _has_details(values):
                key = keys[UNKEYED_RECORDS]
                personal = None if isinstance(key, Erased) else sealed_personal(key, Purpose.SUBMITTED_RECORD, values)
                values = {**values, **_WITHOUT_PERSONAL_FIELDS, "personal": personal}
            append(memoryview(dumps(values)).tobytes())
            continue
        key = keys[uln]
        if isinstance(key, Erased):
            append(memoryview(dumps(_erased_learners(values, keys.get(UNKEYED_RECORDS)))).tobytes())
        else:
            # a copy of the record's values with the personal ones replaced in place (every key is there
            # already): half the time of a display merging three dictionaries
            sealed = values.copy()
            sealed["given_name"] = sealed["family_name"] = sealed["date_of_birth"] = sealed["gender"] = None
            sealed["personal"] = sealed_personal(key, Purpose.SUBMITTED_RECORD, values)
            append(memoryview(dumps(sealed)).tobytes())
    return encoded
