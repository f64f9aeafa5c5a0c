"""The shared dead-letter routes send their instants as every other answer does: typed `date-time` in the OpenAPI
document, written in UTC with `Z` (`2026-12-04T18:20:05.123456Z`), not `+00:00`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from lrs_platform.parking import DeadLetterAction, ParkedRow

from .parking_clients import parking_app

PARKED_AT = datetime(2026, 12, 4, 18, 20, 5, 123456, tzinfo=UTC)
ACTED_AT = datetime(2026, 12, 4, 18, 25, tzinfo=UTC)
PARKED = ParkedRow(
    id=3,
    consumer="validation",
    topic="lrs.batch.received.v1",
    partition=0,
    offset=9,
    key=b"batch-1",
    value=None,
    timestamp_ms=0,
    reason="error",
    error="ValueError: out of range",
    attempts=1,
    event_id=None,
    event_type=None,
    parked_at=PARKED_AT,
)
ACTION = DeadLetterAction(
    action="skip",
    operator="operator:ops",
    reason="test message",
    replaced=False,
    consumer="validation",
    topic="lrs.batch.received.v1",
    partition=0,
    offset=9,
    event_id=None,
    event_type=None,
    applied=0,
    skipped=1,
    still_parked=0,
    acted_at=ACTED_AT,
)


class Office:
    async def listing(self, *args: Any) -> tuple[list[ParkedRow], int]:
        return [PARKED], 1

    async def actions(self, limit: int) -> list[DeadLetterAction]:
        return [ACTION]


def _app() -> Any:
    return parking_app(Office())


async def test_parked_at_and_acted_at_are_sent_in_utc_with_z() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://parking") as client:
        parked = await client.get("/v1/admin/dlq")
        actions = await client.get("/v1/admin/dlq/actions")

    assert parked.status_code == actions.status_code == 200, (parked.text, actions.text)
    assert parked.json()["parked"][0]["parked_at"] == "2026-12-04T18:20:05.123456Z"
    assert actions.json()["actions"][0]["acted_at"] == "2026-12-04T18:25:00Z"


def test_the_openapi_document_types_them_date_time() -> None:
    schemas = _app().openapi()["components"]["schemas"]

    assert schemas["ParkedView"]["properties"]["parked_at"]["format"] == "date-time"
    acted_at = schemas["DeadLetterActionView"]["properties"]["acted_at"]["anyOf"]
    assert {"type": "string", "format": "date-time"} in acted_at
