"""Ingest reads the maintenance topic from its start before its first announcement (decision 0070's later note of
2026-12-07: a restored database announces its schedule anew). The cluster enforces ACLs, so without Read on that
topic the read fails for ever and ingest never announces a schedule again: live and Sandpit alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

BASE = Path(__file__).resolve().parents[1] / "base"


def _operations(path: Path, user: str, topic: str) -> set[str]:
    users = [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc and doc["kind"] == "KafkaUser"]
    (found,) = [doc for doc in users if doc["metadata"]["name"] == user]
    acls: list[dict[str, Any]] = found["spec"]["authorization"]["acls"]
    return {
        operation
        for acl in acls
        if acl["resource"]["type"] == "topic"
        and acl["resource"]["patternType"] == "literal"
        and acl["resource"]["name"] == topic
        for operation in acl["operations"]
    }


@pytest.mark.parametrize(
    ("path", "user", "topic"),
    [
        (BASE / "kafka" / "users.yaml", "lrs-ingest", "lrs.operations.maintenance.v1"),
        (BASE / "sandpit" / "kafka.yaml", "lrs-sandpit-ingest", "sandpit.lrs.operations.maintenance.v1"),
    ],
)
def test_ingest_may_read_the_schedule_it_announces(path: Path, user: str, topic: str) -> None:
    assert {"Read", "Write", "Describe"} <= _operations(path, user, topic)
