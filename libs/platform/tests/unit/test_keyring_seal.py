"""Sealing under a learner's key: what opens, and what must not."""

from __future__ import annotations

import base64
import secrets

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from lrs_platform.keyring import (
    KeyringKey,
    KeyringNotConfigured,
    LearnerKey,
    Purpose,
    SealBroken,
    keyring_key_from,
    sealed_personal,
)

ULN = "9000000043"


def _key(uln: str = ULN) -> LearnerKey:
    return LearnerKey(uln, secrets.token_bytes(32))


@given(st.text(max_size=300))
def test_a_sealed_text_opens_to_itself_and_shows_nothing_of_it(text: str) -> None:
    key = _key()
    sealed = key.seal_text(Purpose.CHALLENGE_REASON, text)
    assert key.open_text(Purpose.CHALLENGE_REASON, sealed) == text
    assert sealed.startswith("s1.")
    if len(text) >= 4:
        assert text not in sealed


def test_the_same_value_seals_differently_each_time() -> None:
    key = _key()
    assert key.seal_text(Purpose.CHALLENGE_NOTE, "Ada") != key.seal_text(Purpose.CHALLENGE_NOTE, "Ada")


def test_another_learners_key_another_purpose_or_a_changed_byte_does_not_open() -> None:
    material = secrets.token_bytes(32)
    key = LearnerKey(ULN, material)
    sealed = sealed_personal(key, Purpose.SUBMITTED_RECORD, {"given_name": "Ada", "date_of_birth": "2001-02-03"})
    assert key.open_json(Purpose.SUBMITTED_RECORD, sealed) == {
        "given_name": "Ada",
        "family_name": None,
        "date_of_birth": "2001-02-03",
        "gender": None,
    }
    with pytest.raises(SealBroken):
        _key().open(Purpose.SUBMITTED_RECORD, sealed)
    with pytest.raises(SealBroken):
        key.open(Purpose.LEARNER_REGISTRATION, sealed)
    # the same key material under another ULN: the ULN is part of what was sealed
    with pytest.raises(SealBroken):
        LearnerKey("9000000051", material).open(Purpose.SUBMITTED_RECORD, sealed)
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(SealBroken):
        key.open(Purpose.SUBMITTED_RECORD, tampered)
    for broken in ("Ada", "s1.", "s1.!!!!", "s1.AAAA", sealed + "\u00e9"):
        with pytest.raises(SealBroken):
            key.open(Purpose.SUBMITTED_RECORD, broken)


def test_a_sealed_value_is_s1_and_the_base64url_of_nonce_ciphertext_and_tag_bound_to_purpose_and_uln() -> None:
    """The format every sealed value in the log was written in: a faster sealer must keep it."""
    material = secrets.token_bytes(32)
    nonce = secrets.token_bytes(12)
    by_hand = AESGCM(material).encrypt(nonce, b'{"given_name":"Ada"}', f"submitted-record|{ULN}".encode())
    sealed_by_hand = "s1." + base64.urlsafe_b64encode(nonce + by_hand).rstrip(b"=").decode()
    key = LearnerKey(ULN, material)
    assert key.open_json(Purpose.SUBMITTED_RECORD, sealed_by_hand) == {"given_name": "Ada"}
    sealed = key.seal_text(Purpose.CHALLENGE_NOTE, "Ada")
    body = sealed.removeprefix("s1.")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert AESGCM(material).decrypt(raw[:12], raw[12:], f"challenge-note|{ULN}".encode()) == b"Ada"


def test_the_keyring_key_is_32_bytes_of_base64_and_never_shown() -> None:
    key = KeyringKey.generate()
    assert KeyringKey.parse(key.encoded()) == key
    assert key.encoded() not in repr(key)
    assert "redacted" in repr(_key())
    for bad in ("", "not base64 at all!", KeyringKey(b"x" * 16).encoded()):
        with pytest.raises(KeyringNotConfigured):
            keyring_key_from(bad)
