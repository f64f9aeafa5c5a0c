"""A direct entry's batch reference (decision 0152).

The portal's direct-entry form sends the one achievement typed into it as a batch of one record, under a reference it
makes from the form's own id: `PORTAL-` and the id's first eight hex digits, in capitals. Nothing else on the batch's
events says that it came from the form, so the portal (its batch pages) and the notifier (its email) both know a
direct entry by this reference and its one record, and both read it here.

Public API: `direct_entry_reference(entry_id)`, `is_direct_entry_reference(reference)`.
"""

from __future__ import annotations

import re

_DIRECT_ENTRY_REFERENCE = re.compile(r"PORTAL-[0-9A-F]{8}")


def direct_entry_reference(entry_id: str) -> str:
    """The batch reference the form gives the entry of `entry_id` (the form's uuid4)."""
    return f"PORTAL-{entry_id[:8].upper()}"


def is_direct_entry_reference(reference: str | None) -> bool:
    """Whether `reference` is one the direct-entry form gives. An AO's own batch may be named like it: with one record,
    its words (one achievement) still fit."""
    return reference is not None and _DIRECT_ENTRY_REFERENCE.fullmatch(reference) is not None
