"""The dead-letter pages say when a parked event was last tried beside when it was first parked: the projector keeps
`parked_at` across failed retries and says `last_tried_at` (null until a retry or skip left it parked, said
"never"). The other services say no such time, and nothing is shown for it there rather than a "never" they did
not say."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal

from portal.accounts import Role

PROJECTOR_DLQ = "plr-projector/v1/admin/dlq"
NOTIFIER_DLQ = "notifier/v1/admin/dlq"
ULN = "1000000043"


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def _parked(offset: int, last_tried_at: str | None) -> dict[str, Any]:
    """A parked event as the projector lists it (`dead_letters.parked_view`)."""
    return {
        "topic": "lrs.plr.events.v1",
        "partition": 2,
        "offset": offset,
        "learner": ULN,
        "reason": "error" if offset == 977 else "blocked",
        "error": "KeyError" if offset == 977 else None,
        "event_id": None,
        "event_type": None,
        "attempts": 2,
        "parked_at": "2026-12-01T10:00:00+00:00",
        "last_tried_at": last_tried_at,
    }


def _answering(body: dict[str, Any]) -> Any:
    return lambda _: httpx.Response(200, json=body)


def _cells(page: str, table: str) -> list[str]:
    shown = page[page.index(f'data-table="{table}"') :]
    shown = shown[: shown.index("</table>")]
    return [
        cell.split(">", 1)[1].split("<", 1)[0] for cell in shown.split("<td class")[1:] if "data-last-tried" in cell
    ]


def test_the_listing_says_when_each_parked_event_was_last_tried(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    rows = [_parked(977, "2026-12-06T01:19:00+00:00"), _parked(978, None)]
    portal.on("GET", PROJECTOR_DLQ, _answering({"parked": rows, "total": 2}))
    notifier_row = {
        "id": 7,
        "consumer": "notifier",
        "topic": "lrs.batch.outcomes.v1",
        "partition": 0,
        "offset": 47,
        "key": "batch-7",
        "reason": "error",
        "error": "unreadable",
        "attempts": 3,
        "event_id": None,
        "event_type": None,
        "parked_at": "2026-12-01T10:00:00+00:00",
    }
    portal.on("GET", NOTIFIER_DLQ, _answering({"parked": [notifier_row], "total": 1}))

    page = client.get("/ops/dead-letters").text

    assert '<th scope="col" class="govuk-table__header">Last tried (UK time)</th>' in page
    assert _cells(page, "dlq-plr-projector") == ["6 Dec 2026, 01:19", "never"]  # UK time is GMT in December
    assert _cells(page, "dlq-notifier") == [""]  # the notifier says no such time


def test_the_skip_confirmation_says_when_the_poison_was_last_tried(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)
    rows = [_parked(977, "2026-12-06T01:19:00+00:00"), _parked(978, None)]
    portal.on("GET", PROJECTOR_DLQ, _answering({"parked": rows, "total": 2}))

    confirming = client.get("/ops/dead-letters/plr-projector/lrs.plr.events.v1:2:977/skip")

    assert confirming.status_code == 200, confirming.text
    assert '<dt class="govuk-summary-list__key">Last tried</dt>' in confirming.text
    assert "data-last-tried>6 Dec 2026, 01:19 (UK time)</dd>" in confirming.text
