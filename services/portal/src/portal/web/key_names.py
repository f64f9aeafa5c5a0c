"""A key a page names, as the identity store the portal issues keys in knows it (never its secret: the store keeps
none to show): the batch page's key that sent a batch, the challenges page's keys that acknowledged and resolved a
challenge, the Challenge contact page's key that last changed the contact."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from lrs_platform.credential_store import SESSION_KEY_LABEL, StoredKey
from lrs_platform.identity import Principal, PrincipalKind

# The keys of a principal read to find a live key by its id (a key revoked is found by its id alone): an AO's keys in
# use and its people's sessions open now.
LIVE_KEYS_READ = 2_000


def _whose(key: StoredKey) -> dict[str, Any]:
    """A key the batch page names, never its secret (the store has none to give): its label, whose it is (a portal
    session's person, from its label), who made it and when it was revoked."""
    label = key.label or ""
    person = label.removeprefix(SESSION_KEY_LABEL).strip() if label.startswith(SESSION_KEY_LABEL) else None
    return {
        "key_id": key.key_id,
        "known": True,
        "label": key.label,
        "principal": str(key.principal),
        "person": person,
        "created_by": key.created_by,
        "revoked_at": key.revoked_at,
    }


async def key_named(request: Request, key_id: str | None, used_by: str | None) -> dict[str, Any] | None:
    """The key `used_by` (a principal, like a batch's `submitted_by` or a challenge's `resolved_by`) acted with, as the
    identity store the portal issues keys in knows it: an AO's key (its label, like "AQA exams office script"), a
    person's portal session key ("portal session: aqa.jo"), or an operator's. None when no key is named; `known` False
    when the store has none by that id of that principal's kind (or the portal has no store to ask)."""
    if not key_id:
        return None
    unknown = {"key_id": key_id, "known": False}
    store = getattr(request.app.state, "credentials", None)
    try:
        principal = Principal.parse(str(used_by or ""))
    except ValueError:
        return unknown
    if store is None or principal.kind not in (PrincipalKind.AO, PrincipalKind.OPERATOR):
        return unknown
    # every label: a session's key too (the key lists leave those out)
    revoked = await store.revoked_listed(key_id, principal.kind)
    if revoked is not None:
        return _whose(revoked)
    live = await store.listing(principal.kind, principal=principal, limit=LIVE_KEYS_READ)
    found = next((key for key in live if key.key_id == key_id), None)
    return _whose(found) if found is not None else unknown
