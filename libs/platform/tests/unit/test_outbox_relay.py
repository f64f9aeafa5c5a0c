"""An outbox relay outlives PostgreSQL going away under it, whatever asyncpg raises for the lost connection:
it stopped the whole service (challenges, validation) until someone restarted it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from lrs_platform.outbox import PRUNED_AT_ONCE, Outbox


@dataclass(frozen=True)
class FlakyOutbox(Outbox):
    failures: list[BaseException] = field(default_factory=list)
    relayed: list[int] = field(default_factory=list)

    async def relay_once(self, pool: Any, producer: Any) -> int:
        if self.failures:
            raise self.failures.pop(0)
        self.relayed.append(1)
        return 0

    async def prune_some(self, pool: Any, older_than: Any = None) -> int:
        return 0


async def test_a_connection_lost_in_any_of_asyncpgs_ways_is_waited_out() -> None:
    lost = [
        asyncpg.InterfaceError("cannot call Transaction.__aexit__(): the underlying connection is closed"),
        asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress"),
        ConnectionResetError(),
    ]
    outbox = FlakyOutbox("challenges.outbox", "lrs.challenge.events.v1", failures=lost)
    relay = asyncio.create_task(outbox.relay_forever(None, None, asyncio.Event()))
    try:
        for _ in range(100):
            if outbox.relayed:
                break
            await asyncio.sleep(0.05)
    finally:
        relay.cancel()
    assert outbox.relayed and not outbox.failures


async def test_a_bug_is_not_retried_forever() -> None:
    outbox = FlakyOutbox("challenges.outbox", "lrs.challenge.events.v1", failures=[TypeError("a bug")])
    with pytest.raises(TypeError):
        await outbox.relay_forever(None, None, asyncio.Event())


@dataclass(frozen=True)
class PruningOutbox(Outbox):
    """Has two full statements' worth of old rows, then none; records what the relay did, in order."""

    calls: list[str] = field(default_factory=list)
    full: list[int] = field(default_factory=lambda: [PRUNED_AT_ONCE, PRUNED_AT_ONCE, 3])

    async def relay_once(self, pool: Any, producer: Any) -> int:
        self.calls.append("relay")
        return 0

    async def prune_some(self, pool: Any, older_than: Any = None) -> int:
        self.calls.append("prune")
        return self.full.pop(0) if self.full else 0


async def test_a_large_prune_goes_a_statement_at_a_time_between_relays() -> None:
    """The first pass over a large outbox must not hold back the rows written meanwhile."""
    outbox = PruningOutbox("validation.learner_outbox", "lrs.learner.events.v1")
    wake = asyncio.Event()
    wake.set()  # every wait ends at once: the loop goes round without sleeping
    relay = asyncio.create_task(outbox.relay_forever(None, None, wake))
    try:
        for _ in range(100):
            if outbox.calls.count("prune") >= 3:
                break
            await asyncio.sleep(0.01)
    finally:
        relay.cancel()
    assert outbox.calls[:6] == ["relay", "prune", "relay", "prune", "relay", "prune"]
