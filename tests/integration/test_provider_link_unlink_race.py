"""An operator's link of a provider (`POST /v1/admin/learners/{uln}/providers`, which announces the link again) and
an unlink of it (`DELETE /v1/admin/learners/{uln}/providers/{ukprn}`) at once: the learner log's last word on the
link is the registry's (decision 0121). Both lock the learner's rows before they change or announce a link, so one
waits for the other, and the outbox (published in id order) has their announcements in the order the registry applied
them.

The interleaving the review found is forced: the link is held between its `INSERT ... ON CONFLICT DO NOTHING`, which
found the link there, and queueing its `linked`; the unlink starts meanwhile. Before, the link held only FOR SHARE
of the learner's row and the unlink none: the unlink deleted the link and queued its `unlinked` first, the link then
queued `linked` after it, and the registry said "not linked" while the PLR projector, reading the log, kept the link
(a rebuild too). Now the unlink waits for the link's row lock, and ends the link after it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import asyncpg
import pytest
from tests.support.databases import prepare_validation_database
from tests.support.learners import random_uln
from tests.support.waiting import eventually

from lrs_contracts.learner import AbilityToShare, LearnerProviderLinked, LearnerProviderUnlinked
from lrs_contracts.registry import decode
from lrs_domain.reference import Learner
from lrs_platform.database import create_pool
from lrs_platform.keyring import Keyring, KeyringKey
from validation import learner_registry
from validation.learner_registry import LearnerRegistry, ProvidersLinksEnded

pytestmark = pytest.mark.integration

OPERATOR = "operator:ops"
FILE = "operator:ops (learner file)"


async def _last_word(pool: asyncpg.Pool, uln: str, ukprn: str) -> type | None:
    """The kind of the learner log's last announcement of the provider's link under `uln`, as the outbox orders it
    (the relay publishes in id order)."""
    rows = await pool.fetch("SELECT envelope FROM validation.learner_outbox WHERE partition_key = $1 ORDER BY id", uln)
    said = [
        type(event)
        for event in (decode(row["envelope"])[1] for row in rows)
        if isinstance(event, LearnerProviderLinked | LearnerProviderUnlinked) and event.provider_ukprn == ukprn
    ]
    return said[-1] if said else None


@pytest.mark.parametrize("merged", [False, True], ids=["one-uln", "linked-under-the-merged-uln"])
async def test_a_link_and_an_unlink_at_once_leave_the_log_saying_what_the_registry_holds(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch, merged: bool
) -> None:
    pool = await create_pool(fresh_database_url, max_size=4)
    try:
        await prepare_validation_database(pool)
        store = LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))
        master_uln, other_uln = random_uln(), random_uln()
        master = Learner(master_uln, "Amelia", "Realperson", date(2004, 3, 2), 2, AbilityToShare.SHARES)
        await store.register_learners(
            [master, Learner(other_uln, "Amelia", "Realperson", date(2004, 3, 2), 2, AbilityToShare.SHARES)],
            imported_by=FILE,
        )
        # the link lives under `linked_uln`; the operator unlinks naming `named_uln` (the master, when merged: the
        # unlink ends the provider's links under every ULN of the learner)
        linked_uln = named_uln = master_uln
        if merged:
            assert await store.merge(master_uln, other_uln, merged_by=OPERATOR)
            linked_uln = other_uln
        ukprn = f"{uuid.uuid4().int % 10**8:08d}"
        await store.link_provider(linked_uln, ukprn, OPERATOR)

        # the link again, held once its INSERT ... DO NOTHING found the link there, before it queues its `linked`
        found, release = asyncio.Event(), asyncio.Event()
        queue = learner_registry._queue

        async def held_before_queueing(
            connection: asyncpg.Connection, uln: str, event: learner_registry.LearnerEvent
        ) -> None:
            if isinstance(event, LearnerProviderLinked):
                found.set()
                await release.wait()
            await queue(connection, uln, event)

        monkeypatch.setattr(learner_registry, "_queue", held_before_queueing)
        linking = asyncio.create_task(store.link_provider(linked_uln, ukprn, OPERATOR))
        await asyncio.wait_for(found.wait(), timeout=10)
        unlinking = asyncio.create_task(store.unlink_provider(named_uln, ukprn, unlinked_by=OPERATOR))

        async def unlink_done_or_waiting() -> bool:
            if unlinking.done():
                return True
            waiting: int = await pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return waiting == 1

        # the unlink either went ahead (the race: it deletes the link the link found, and queues first) or waits for
        # the link's lock
        await eventually(unlink_done_or_waiting, within=10, what="the unlink done, or waiting on the link's lock")
        release.set()
        await asyncio.wait_for(linking, timeout=10)
        ended = await asyncio.wait_for(unlinking, timeout=10)

        assert ended == ProvidersLinksEnded((linked_uln,), 0)
        linked = ukprn in await store.linked_providers([master_uln, other_uln])
        last = await _last_word(pool, linked_uln, ukprn)
        # the log's last word is the registry's: the projector (and a rebuild) let the provider read what the
        # registry lets it
        assert last is (LearnerProviderLinked if linked else LearnerProviderUnlinked), (linked, last)
        # the link committed first, and the unlink ended it
        assert not linked
    finally:
        await pool.close()
