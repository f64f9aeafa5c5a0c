"""A direct entry's content held in the portal's sent forms (decision 0190) on PostgreSQL: of several sends of the same
entry at once, from other forms (two tabs, two colleagues of one AO, two portal replicas), exactly one holds it; the
others are told which form's send does, until it lets go. A hold its send never let go of (its process stopped) is
taken over once older than the most a send holds it, by exactly one; a send whose hold was taken over lets go of
nothing but its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from tests.support.portal_accounts import portal_stores

from portal.accounts import LockoutPolicy
from portal.store import SentForms

pytestmark = pytest.mark.integration

HELD_AT_MOST = timedelta(minutes=2)


@pytest.fixture
async def forms(fresh_database_url: str) -> AsyncIterator[tuple[SentForms, Any]]:
    async with portal_stores(fresh_database_url, LockoutPolicy()) as portal:
        yield SentForms(portal.pool), portal.pool


async def test_of_many_sends_of_one_entry_at_once_exactly_one_holds_it_until_it_lets_go(
    forms: tuple[SentForms, Any],
) -> None:
    store, pool = forms
    key = uuid.uuid4()
    sends = [f"direct-entry {uuid.uuid4()}" for _ in range(8)]

    answers = await asyncio.gather(
        *(store.hold(f"ao.{n}", key, send, held_at_most=HELD_AT_MOST) for n, send in enumerate(sends))
    )

    holding = [send for send, answer in zip(sends, answers, strict=True) if answer is None]
    assert len(holding) == 1
    others = [answer for answer in answers if answer is not None]
    assert {answer.form for answer in others} == set(holding) and all(a.outcome is None for a in others)
    waiting = next(send for send in sends if send not in holding)
    assert (await store.hold("ao.x", key, waiting, held_at_most=HELD_AT_MOST)) is not None  # still held

    await store.let_go(key, waiting)  # not its hold: nothing let go
    assert (await store.hold("ao.x", key, waiting, held_at_most=HELD_AT_MOST)) is not None
    await store.let_go(key, holding[0])

    assert (await store.hold("ao.x", key, waiting, held_at_most=HELD_AT_MOST)) is None  # the next send holds it
    assert await pool.fetchval("SELECT count(*) FROM portal.sent_forms") == 1


async def test_a_hold_never_let_go_is_taken_over_once_stale_by_exactly_one_send(forms: tuple[SentForms, Any]) -> None:
    store, pool = forms
    key = uuid.uuid4()
    stopped = f"direct-entry {uuid.uuid4()}"
    assert await store.hold("ao.demo", key, stopped, held_at_most=HELD_AT_MOST) is None
    await pool.execute("UPDATE portal.sent_forms SET sent_at = now() - interval '3 minutes' WHERE form_id = $1", key)
    sends = [f"direct-entry {uuid.uuid4()}" for _ in range(6)]

    answers = await asyncio.gather(*(store.hold("ao.second", key, send, held_at_most=HELD_AT_MOST) for send in sends))

    [taker] = [send for send, answer in zip(sends, answers, strict=True) if answer is None]
    assert all(answer.form == taker for answer in answers if answer is not None)
    await store.let_go(key, stopped)  # the stopped send, back at last: the hold is no longer its
    assert await pool.fetchval("SELECT form FROM portal.sent_forms WHERE form_id = $1", key) == taker


async def test_another_forms_claim_is_untouched_by_holds(forms: tuple[SentForms, Any]) -> None:
    """The forms that act once (decision 0190) and the holds share the table, each keyed by its own id."""
    store, _ = forms
    form_id, key = uuid.uuid4(), uuid.uuid4()
    assert await store.claim("operator.demo", form_id, "issue_key") is None
    await store.done(form_id, {"url": "/ops/accounts"})

    assert await store.hold("ao.demo", key, "direct-entry x", held_at_most=HELD_AT_MOST) is None
    await store.let_go(key, "direct-entry x")

    first = await store.claim("operator.demo", form_id, "issue_key")
    assert first is not None and first.outcome == {"url": "/ops/accounts"}
