"""Every committed schema snapshot is what its model says now, descriptions included: the compatibility check alone
lets a description go stale, and the snapshots are what analysts and other teams read (docs/events.md)."""

from __future__ import annotations

import json

import pytest

from lrs_contracts.compatibility import snapshot_path
from lrs_contracts.registry import EVENT_TYPES, schema_of


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_the_committed_snapshot_is_the_models_schema(event_type: str) -> None:
    committed = json.loads(snapshot_path(event_type).read_text(encoding="utf-8"))
    assert committed == schema_of(EVENT_TYPES[event_type]), (
        "regenerate: .venv/bin/python -m lrs_contracts.compatibility, then scripts/dev/export_asyncapi.py"
    )
