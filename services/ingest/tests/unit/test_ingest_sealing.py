"""Which records name a learner to seal under (exactly the ULNs a learner can have: ten ASCII digits, not 0
first, with their check digit, the temporary ULN excepted), and that the others' details are sealed under their
batch's own key."""

from __future__ import annotations

import re
import secrets
import tracemalloc
import uuid

from hypothesis import given
from hypothesis import strategies as st

from ingest.sealing import names_to_issue, sealed_encoded_records
from ingest.submission import encoded_record
from lrs_contracts.batch import SubmittedRecord
from lrs_domain.identifiers import TEMPORARY_ULN, has_valid_uln_check_digit, uln_check_digit
from lrs_platform.keyring import (
    ERASED,
    PERSONAL_FIELDS,
    UNKEYED_RECORDS,
    KeyLookup,
    LearnerKey,
    Purpose,
    batch_key_name,
)

_TEN_DIGITS = re.compile(r"[0-9]{10}")
# digits str.isdigit accepts beside 0-9: Arabic-Indic four, superscript two
_OTHER_DIGITS = "\u0664\u00b2"
BATCH = uuid.UUID("00000000-0000-4000-8000-000000000106")


def _record(uln: str | None) -> SubmittedRecord:
    return SubmittedRecord(line=1, action="Create", uln=uln, given_name="Ada", family_name="Lovelace")


def _with_check_digit(first_nine: int) -> str:
    digits = str(first_nine)
    return digits + str(uln_check_digit(digits) or 0)  # a remainder of 0: no digit completes it, 0 is wrong


@given(
    st.one_of(
        st.text(max_size=12),
        st.text(alphabet="0123456789" + _OTHER_DIGITS, min_size=9, max_size=11),
        st.integers(100_000_000, 999_999_999).map(_with_check_digit),
    )
)
def test_a_record_is_keyed_to_its_uln_when_a_learner_can_have_it(uln: str) -> None:
    learns = _TEN_DIGITS.fullmatch(uln) and uln[0] != "0" and uln != TEMPORARY_ULN and has_valid_uln_check_digit(uln)
    learner = {uln} if learns else set()
    assert names_to_issue([_record(uln), _record(None)], BATCH) == learner | {batch_key_name(BATCH)}
    assert names_to_issue([_record(uln)], BATCH) == (learner or {batch_key_name(BATCH)})
    without_details = SubmittedRecord(line=1, action="Create", uln=uln)
    assert names_to_issue([without_details, without_details.model_copy(update={"uln": None})], BATCH) == learner


def test_the_temporary_ulns_records_are_sealed_under_their_batchs_key_never_under_a_key_of_its_own() -> None:
    """Every AO's records under 9999999999 are different people's: one key for them all would hold them all, and
    erasing it would drop every later such record's details (decision 0154)."""
    assert names_to_issue([_record(TEMPORARY_ULN)], BATCH) == {batch_key_name(BATCH)}
    assert names_to_issue([SubmittedRecord(line=1, action="Create", uln=TEMPORARY_ULN)], BATCH) == set()


def test_records_are_sealed_under_their_learners_or_their_batchs_key_an_erased_learners_under_the_batchs() -> None:
    sealed_uln, erased_uln, unkeyed = "9000000059", "9000000067", "90000000\u0664" + "3"
    key = LearnerKey(sealed_uln, secrets.token_bytes(32))
    batch_key = LearnerKey(batch_key_name(BATCH), secrets.token_bytes(32))
    records = [_record(sealed_uln), _record(erased_uln), _record(unkeyed), _record(None)]
    encoded = sealed_encoded_records(records, {sealed_uln: key, erased_uln: ERASED, UNKEYED_RECORDS: batch_key})
    out = [SubmittedRecord.model_validate_json(value) for value in encoded]
    assert [record.uln for record in out[2:]] == [unkeyed, None]
    assert encoded == [encoded_record(record) for record in out]
    assert out[0].personal is not None and all(getattr(out[0], name) is None for name in PERSONAL_FIELDS)
    assert key.open_json(Purpose.SUBMITTED_RECORD, out[0].personal)["family_name"] == "Lovelace"
    # an erased learner's: marked, and sealed under the batch's own key for validation to judge (decision 0157)
    assert out[1].learner_erased and out[1].personal is not None and out[1].given_name is None
    assert batch_key.open_json(Purpose.SUBMITTED_RECORD, out[1].personal)["given_name"] == "Ada"
    # with no batch key (destroyed, or an older ingest's call) its details are dropped, as before
    (dropped,) = sealed_encoded_records(records[1:2], {erased_uln: ERASED, UNKEYED_RECORDS: ERASED})
    assert SubmittedRecord.model_validate_json(dropped).personal is None


def test_no_personal_value_of_a_record_that_names_no_learner_goes_in_clear() -> None:
    batch_key = LearnerKey(batch_key_name(BATCH), secrets.token_bytes(32))
    details = {"given_name": "Grace", "family_name": "Hopper", "date_of_birth": "1906-12-09", "gender": "Female"}
    records = [
        SubmittedRecord(line=line, action="Create", uln=uln, **details)
        for line, uln in enumerate(
            (None, "", "12345", "900000004X", "90000000433", "90000000\u00b243", "9000000051", TEMPORARY_ULN),
            start=1,
        )
    ]
    encoded = sealed_encoded_records(records, {UNKEYED_RECORDS: batch_key})
    for record, value in zip(records, encoded, strict=True):
        assert not any(text.encode() in value for text in details.values())
        out = SubmittedRecord.model_validate_json(value)
        assert all(getattr(out, name) is None for name in PERSONAL_FIELDS) and out.uln == record.uln
        assert out.personal is not None and batch_key.open_json(Purpose.SUBMITTED_RECORD, out.personal) == details
        assert encoded_record(out) == value
    # a record with no details needs no key; once the batch's key is destroyed its records' details are dropped
    assert sealed_encoded_records([SubmittedRecord(line=1, action="Create")], {}) == [
        encoded_record(SubmittedRecord(line=1, action="Create"))
    ]
    (dropped,) = sealed_encoded_records(records[:1], {UNKEYED_RECORDS: ERASED})
    assert SubmittedRecord.model_validate_json(dropped) == SubmittedRecord(line=1, action="Create")


def test_a_records_values_are_written_as_pydantic_writes_the_record_whatever_they_hold() -> None:
    # every character a value can hold (no lone surrogate: no format gives one), 4,096 a value
    characters = [chr(code) for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF]
    for start in range(0, len(characters), 4_096):
        text = "".join(characters[start : start + 4_096])
        record = SubmittedRecord(line=7, action=text, uln="x", grade='"\\/', personal=text[::-1], learner_erased=True)
        assert sealed_encoded_records([record], {}) == [encoded_record(record)]


def test_encoded_records_hold_the_memory_of_their_bytes_not_of_the_encoders_buffer() -> None:
    sealed_uln, erased_uln = "9000000059", "9000000067"
    keys: KeyLookup = {sealed_uln: LearnerKey(sealed_uln, secrets.token_bytes(32)), erased_uln: ERASED}
    keys[UNKEYED_RECORDS] = LearnerKey(batch_key_name(BATCH), secrets.token_bytes(32))
    records = [_record(uln) for uln in (sealed_uln, erased_uln, None) for _ in range(300)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        encoded = sealed_encoded_records(records, keys)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # each value's bytes and its object's header, and the list: orjson's own bytes held ~4 KB each
    assert held < sum(len(value) + 64 for value in encoded) + 16 * len(encoded)
