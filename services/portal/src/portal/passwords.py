"""Passwords hashed with argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile)."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified when the username is unknown, so that an unknown name takes as long as a wrong password.
_DECOY_HASH = _hasher.hash(secrets.token_urlsafe(16))

_WORDS_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DECOY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """Four groups of five unambiguous characters (about 100 bits), easy to read out and type."""
    groups = ("".join(secrets.choice(_WORDS_ALPHABET) for _ in range(5)) for _ in range(4))
    return "-".join(groups)
