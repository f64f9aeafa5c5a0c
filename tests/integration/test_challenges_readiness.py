"""The challenges service's `/readyz` says the state of both its consumers (code review, finding 5): the PLR-record
follower's and the own-events reader's (`challenges.recovery`), each with what it has parked, as every other service
reports every consumer it runs. A parked message is put in this test's own database, not on a topic."""

from __future__ import annotations

import secrets

import asyncpg
import httpx
import pytest
from tests.integration.test_challenges import challenges_app  # noqa: F401 - fixture

from challenges.log_follower import FOLLOWER
from challenges.recovery import CONSUMER as OWN_EVENTS
from lrs_contracts.topics import CHALLENGE_EVENTS
from lrs_platform.parking import ParkedMessages, Parking

pytestmark = pytest.mark.integration


async def test_readyz_says_what_the_own_events_reader_has_parked(
    challenges_app: httpx.AsyncClient,  # noqa: F811 - fixture
    pool: asyncpg.Pool,
) -> None:
    checks = (await challenges_app.get("/readyz")).json()["checks"]
    assert checks[f"consumer {FOLLOWER}"].startswith("ok")
    assert checks[f"consumer {OWN_EVENTS}"].startswith("ok")

    parked = Parking(OWN_EVENTS, CHALLENGE_EVENTS.name, 0, 10**12, secrets.token_bytes(8), b"{}", 0, "error", None)
    await ParkedMessages(pool, "challenges_parked").park([parked], dlq_pending=False)

    checks = (await challenges_app.get("/readyz")).json()["checks"]
    assert checks[f"consumer {OWN_EVENTS}"].startswith("ok: 1 parked, 0 held behind them")
    assert "parked" not in checks[f"consumer {FOLLOWER}"], "the follower's own count, not the other's"
