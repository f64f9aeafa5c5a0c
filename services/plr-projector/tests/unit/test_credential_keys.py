"""Signing keys at rest: sealed under the key-encryption key, bound to their key id."""

from __future__ import annotations

import base64
import secrets

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from plr_projector.credential_keys import KeyEncryptionKey, SigningKeyUnavailable, seal, unseal

KEK = KeyEncryptionKey(bytes(range(32)))


def raw(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.private_bytes_raw()


def test_a_sealed_key_unseals_to_the_same_key_and_does_not_hold_it_in_clear() -> None:
    private_key = Ed25519PrivateKey.generate()
    sealed = seal(KEK, "20260301-0a0b0c0d", private_key)

    assert raw(private_key) not in sealed
    assert raw(unseal(KEK, "20260301-0a0b0c0d", sealed)) == raw(private_key)


def test_another_key_encryption_key_cannot_unseal() -> None:
    sealed = seal(KEK, "k1", Ed25519PrivateKey.generate())

    with pytest.raises(SigningKeyUnavailable, match="rotate"):
        unseal(KeyEncryptionKey(secrets.token_bytes(32)), "k1", sealed)


def test_a_sealed_key_cannot_be_passed_off_under_another_key_id() -> None:
    sealed = seal(KEK, "k1", Ed25519PrivateKey.generate())

    with pytest.raises(SigningKeyUnavailable):
        unseal(KEK, "k2", sealed)


@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode])
def test_the_key_encryption_key_is_32_bytes_of_base64_in_either_alphabet(encode: object) -> None:
    secret = bytes([251, 255, 190] * 10 + [1, 2])  # bytes whose encodings differ between the alphabets
    text = encode(secret).decode().rstrip("=")  # type: ignore[operator]

    assert KeyEncryptionKey.parse(f" {text}\n").secret == secret


@pytest.mark.parametrize("text", ["c2hvcnQ=", base64.b64encode(bytes(33)).decode(), "not base64 at all!"])
def test_a_key_encryption_key_that_is_not_32_bytes_of_base64_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="key-encryption key"):
        KeyEncryptionKey.parse(text)


def test_the_key_encryption_key_is_not_in_its_repr() -> None:
    assert bytes(range(32)).hex() not in repr(KEK)
    assert str(bytes(range(32))) not in repr(KEK)
