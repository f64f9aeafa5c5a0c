"""`GET /v1/deliveries?batch=ID` says when the notifier holds the batch's messages in its own dead letters (the tracer
walk, finding 7): `lrs emails show` of a batch whose outcome the notifier had parked listed guesses ("the batch may not
be decided yet … or its outcome held in the dead letters") while the notifier had the batch's key in its parked table.
Now the answer carries `X-LRS-Held-In-Dead-Letters` (since when, how many), the list staying the list it was."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from services.notifier.tests.unit.test_deliveries_of_a_batch import BATCH, CHALLENGE, Deliveries, kept

from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.parking import ParkedRow
from notifier.api import HELD_HEADER, deliveries_router

OUTCOMES = "lrs.batch.outcomes.v1"
PARKED_AT = datetime(2026, 12, 8, 2, 13, 5, tzinfo=UTC)


def parked(offset: int, parked_at: datetime, reason: str = "error") -> ParkedRow:
    return ParkedRow(
        id=offset,
        consumer="notifier",
        topic=OUTCOMES,
        partition=3,
        offset=offset,
        key=str(BATCH).encode(),
        value=b"\xff\xfenot json",
        timestamp_ms=0,
        reason=reason,
        error="ValueError: not JSON",
        attempts=1,
        event_id=None,
        event_type=None,
        parked_at=parked_at,
    )


class Office:
    """The dead-letter office's listing, in memory: what it was asked, and the rows it holds in its order."""

    def __init__(self, *rows: ParkedRow) -> None:
        self.rows = list(rows)
        self.asked: list[tuple[str | None, str | None, str | None, int]] = []

    async def listing(
        self, consumer: str | None = None, topic: str | None = None, key: str | None = None, limit: int = 500
    ) -> tuple[list[ParkedRow], int]:
        self.asked.append((consumer, topic, key, limit))
        held = [row for row in self.rows if row.topic == topic and row.key == (key or "").encode()]
        return held[:limit], len(held)


def _client(office: Office, deliveries: Deliveries | None = None) -> httpx.AsyncClient:
    app = build_app("notifier", title="Notifier", description="", lifespan=noop_lifespan)
    app.include_router(deliveries_router)
    app.state.deliveries = deliveries or Deliveries()
    app.state.dead_letter_office = office
    app.state.batch_outcomes_topic = OUTCOMES
    app.dependency_overrides[current_principal] = lambda: Principal.parse("operator:desk")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifier")


async def test_a_batch_whose_outcome_the_notifier_parked_is_said_held_since_the_first_was_parked() -> None:
    office = Office(parked(41, PARKED_AT), parked(42, PARKED_AT + timedelta(seconds=3), reason="blocked"))
    async with _client(office) as client:
        answer = await client.get("/v1/deliveries", params={"batch": str(BATCH).upper()})

    assert (answer.status_code, answer.json()) == (200, [])  # the answer stays the list it was
    assert json.loads(answer.headers[HELD_HEADER]) == {"since": "2026-12-08T02:13:05Z", "messages": 2}
    assert office.asked == [("notifier", OUTCOMES, str(BATCH), 1)]  # the batch id's text, as the topic's key


async def test_it_is_said_beside_an_email_the_batch_has_too() -> None:
    """A message of the batch parked after its email went (a junk message on its key): held all the same."""
    async with _client(Office(parked(7, PARKED_AT)), Deliveries(kept())) as client:
        answer = await client.get("/v1/deliveries", params={"batch": str(BATCH)})
    assert len(answer.json()) == 1
    assert json.loads(answer.headers[HELD_HEADER])["messages"] == 1


async def test_nothing_is_said_when_nothing_of_the_batch_is_parked_nor_for_a_challenge() -> None:
    other = Office(parked(7, PARKED_AT))
    async with _client(other) as client:
        unparked = await client.get("/v1/deliveries", params={"batch": str(uuid.uuid4())})
        challenge = await client.get("/v1/deliveries", params={"challenge": str(CHALLENGE)})
    assert HELD_HEADER not in unparked.headers
    assert HELD_HEADER not in challenge.headers  # a challenge's events are keyed by their achievement
    assert len(other.asked) == 1
