"""Sessions: an opaque random token in an HttpOnly cookie; the server keeps only its SHA-256.

Each session holds an API key issued for the account's principal, so the services themselves decide
what the person may see. The key is stored sealed: XORed with a SHAKE-256 stream derived from the
cookie's token, which is 256 random bits and never stored. Reading the sessions table alone
therefore opens no service; the cookie alone holds no key. A session's Sandpit key (decision 0060) is
sealed the same way with a stream of its own, so the two sealed keys never share a pad.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

_SEAL_CONTEXT = b"lrs-portal/service-key/v1\x00"
SANDPIT_SEAL_CONTEXT = b"lrs-portal/sandpit-key/v1\x00"
_NOTICE_CONTEXT = b"lrs-portal/notice/v1\x00"
LOOK_UPS_CONTEXT = b"lrs-portal/look-ups/v1\x00"
_NOTICE_NONCE_BYTES = 16


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _pad(token: str, length: int, context: bytes) -> bytes:
    return hashlib.shake_256(context + token.encode()).digest(length)


def seal(token: str, secret: str, context: bytes = _SEAL_CONTEXT) -> bytes:
    data = secret.encode()
    return bytes(a ^ b for a, b in zip(data, _pad(token, len(data), context), strict=True))


def unseal(token: str, sealed: bytes, context: bytes = _SEAL_CONTEXT) -> str:
    return bytes(a ^ b for a, b in zip(sealed, _pad(token, len(sealed), context), strict=True)).decode()


def seal_notice(token: str, notice: bytes, context: bytes = _NOTICE_CONTEXT) -> bytes:
    """A page's notice sealed like the session's keys, with a random nonce (kept in front) in its pad's
    context: a session seals many notices, and two sealed under one pad would give away their XOR. The
    learners a session looked up (`LOOK_UPS_CONTEXT`) are sealed so too, each time they change."""
    nonce = secrets.token_bytes(_NOTICE_NONCE_BYTES)
    pad = _pad(token, len(notice), context + nonce)
    return nonce + bytes(a ^ b for a, b in zip(notice, pad, strict=True))


def open_notice(token: str, sealed: bytes, context: bytes = _NOTICE_CONTEXT) -> bytes:
    nonce, body = sealed[:_NOTICE_NONCE_BYTES], sealed[_NOTICE_NONCE_BYTES:]
    return bytes(a ^ b for a, b in zip(body, _pad(token, len(body), context + nonce), strict=True))


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)

    def expiry(self, created_at: datetime, now: datetime) -> datetime:
        """Each request pushes the expiry `idle` ahead, never past `absolute` from sign-in."""
        return min(now + self.idle, created_at + self.absolute)


# How long before a session ends its page warns, with a button to stay signed in (WCAG 2.2.1 asks for a warning
# and at least 20 seconds to act): five minutes, or half the idle limit when that is shorter.
WARNING_LEAD = timedelta(minutes=5)


@dataclass(frozen=True)
class SessionClock:
    """What a page tells its script of the session it was drawn in: seconds until the session ends if nothing more
    is asked of the portal, the idle limit each request restores, how long before the end to warn, and whether the
    end is the absolute one (`final`: a request no longer pushes it back, so staying signed in cannot be offered)."""

    ends_in: int
    idle: int
    warn_before: int
    final: bool


# How long after the session's end its page goes to the sign-in page: the page counts `ends_in` from when its script
# runs, after the portal drew it, so a page told the time left to the second (rounded down, as it once was) asked for
# the sign-in page a moment before the session ended, found it live and was sent back, signed in again.
ENDED_MARGIN = timedelta(seconds=2)


def session_clock(expires_at: datetime, now: datetime, idle: timedelta) -> SessionClock:
    """The clock of a session whose expiry was just pushed forward (`SessionPolicy.expiry`): an expiry nearer than
    `idle` from now is the absolute limit's. `ends_in` is rounded up, with `ENDED_MARGIN`: the page's "signed out"
    comes once the session has surely ended."""
    left = max(expires_at - now, timedelta(0))
    return SessionClock(
        ends_in=math.ceil(left.total_seconds()) + int(ENDED_MARGIN.total_seconds()),
        idle=int(idle.total_seconds()),
        warn_before=int(min(WARNING_LEAD, idle / 2).total_seconds()),
        final=left < idle - timedelta(seconds=1),
    )


@dataclass(frozen=True)
class CookiePolicy:
    """Cookies are HttpOnly, path /; Secure unless configured for local http. The session's is SameSite=Lax (a link
    followed from an email arrives signed in; every POST needs the session's CSRF token), the sign-in form's
    SameSite=Strict."""

    secure: bool

    @property
    def session_cookie(self) -> str:
        # The __Host- prefix makes the browser refuse the cookie unless Secure, host-only, path /.
        return "__Host-lrs-portal" if self.secure else "lrs-portal"

    @property
    def sign_in_cookie(self) -> str:
        return "__Host-lrs-portal-form" if self.secure else "lrs-portal-form"
