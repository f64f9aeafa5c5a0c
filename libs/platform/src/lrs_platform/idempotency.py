"""The `Idempotency-Key` header, as every route that takes one reads it (ingest's batches, the projector's centre
reports): visible ASCII only, so that it is stored and compared as it was sent."""

from __future__ import annotations

import re

_USABLE_KEY = re.compile(r"[\x21-\x7e]{1,255}")
# The header is one Item: a request sending it twice (a proxy or client library appending headers) is refused with this
SENT_TWICE = "Idempotency-Key was sent more than once: send one."


class UnusableIdempotencyKey(ValueError):
    def __init__(self) -> None:
        super().__init__("Idempotency-Key must be 1 to 255 visible ASCII characters (e.g. a UUID).")


def idempotency_key_of(raw: str | None) -> str | None:
    """The key as sent (a structured-field string may come quoted), or None when none was sent. Raises
    UnusableIdempotencyKey for an empty, blank, spaced or non-ASCII one, rather than taking it as none."""
    if raw is None:
        return None
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not _USABLE_KEY.fullmatch(key):
        raise UnusableIdempotencyKey
    return key
