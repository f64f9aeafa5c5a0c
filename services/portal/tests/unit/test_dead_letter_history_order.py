"""The dead-letter history orders every service's retries and skips by when they were made, as instants: the
services write them in UTC with `Z` and leave out a fraction of a second that is zero, so `…18:25:00Z` is before
`…18:25:00.000001Z` although, as text, it sorts after it."""

from __future__ import annotations

from typing import Any

import httpx
from services.portal.tests.unit.stubbed_portal import stubbed_portal

from portal.accounts import Role


def _action(consumer: str, reason: str, acted_at: str) -> dict[str, Any]:
    return {
        "action": "skip",
        "operator": "operator:ops",
        "reason": reason,
        "replaced": False,
        "consumer": consumer,
        "topic": "lrs.batch.outcomes.v1",
        "partition": 0,
        "offset": 41,
        "event_id": None,
        "event_type": None,
        "applied": 0,
        "skipped": 1,
        "still_parked": 0,
        "acted_at": acted_at,
    }


def _answering(body: dict[str, Any]) -> Any:
    return lambda _: httpx.Response(200, json=body)


def test_actions_of_the_same_second_are_listed_newest_first() -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in(Role.OPERATOR)
    earlier = _action("notifier", "the earlier skip", "2026-12-04T18:25:00Z")
    later = _action("ingest.batch-view", "the later skip", "2026-12-04T18:25:00.000001Z")
    offset = _action("reporting", "the latest skip", "2026-12-04T19:25:00.5+01:00")
    portal.on("GET", "notifier/v1/admin/dlq/actions", _answering({"actions": [earlier]}))
    portal.on("GET", "ingest/v1/admin/dlq/actions", _answering({"actions": [later]}))
    portal.on("GET", "reporting/v1/admin/dlq/actions", _answering({"actions": [offset]}))

    shown = client.get("/ops/dead-letters/history")

    assert shown.status_code == 200
    said = " ".join(shown.text.split())
    assert said.index("the latest skip") < said.index("the later skip") < said.index("the earlier skip")
