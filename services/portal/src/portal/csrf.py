"""CSRF protection for every form.

Signed-in forms carry the session's own random token (the synchronizer-token pattern); the sign-in
form, before any session exists, carries the value of a random SameSite=Strict cookie set with the
form (double submit). Either way a page on another site can neither read nor guess the token.
"""

from __future__ import annotations

import hmac
import secrets

FIELD = "csrf_token"
HEADER = "x-csrf-token"


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def tokens_match(expected: str | None, submitted: str | None) -> bool:
    if not expected or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())
