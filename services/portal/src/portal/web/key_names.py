"""A key a page names, as the identity store the portal issues keys in knows it (never its secret: the store keeps
none to show): the batch page's key that sent a batch, the challenges page's keys that acknowledged and resolved a
challenge, the Challenge contact page's key that last changed the contact. `own_key` keeps an AO's pages (and what is
said of its challenge contact) to the AO's own keys."""

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


async def own_key(request: Request, key_id: str | None, ao_id: str) -> dict[str, Any] | None:
    """A key of the AO's own that one of its pages names, as `key_named` names keys to operators: a portal user's
    session key by the person signed in, an API key by its label. None when no id is given; `known` False when the
    identity store holds no key of the AO's by that id. Never another principal's key: the store finds a revoked key
    by its id among every AO's, so one of another AO's (or an operator's) is said as not found, whatever id a service
    gives: an AO reads its own keys' labels and its own people's usernames, never another's."""
    principal = f"ao:{ao_id}"
    key = await key_named(request, key_id, principal)
    if key is not None and key.get("known") and key.get("principal") != principal:
        key = {"key_id": key["key_id"], "known": False}
    return key
