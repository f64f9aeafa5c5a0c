"""Two first challenge contacts of one AO at once (a code review): each read no contact before it, and the
address the second replaced was never told it no longer receives the AO's challenges (decision 0155's notice)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from tests.support.databases import migrated_connection

from notifier.emails import ChallengeContact
from notifier.store import ContactStore

pytestmark = pytest.mark.integration


async def test_two_first_contacts_at_once_tell_the_address_that_was_replaced(fresh_database_url: str) -> None:
    async with migrated_connection(fresh_database_url, "notifier", "notifier.migrations"):
        pass
    pool = await asyncpg.create_pool(fresh_database_url, min_size=4, max_size=8)
    assert pool is not None
    try:
        contacts, untold = ContactStore(pool), []
        for n in range(20):
            ao_id = f"RN{700000 + n}"
            first = ChallengeContact("Ann", "Able", "01632 960000", f"a{n}@ao.example")
            second = ChallengeContact("Bob", "Baker", "01632 960001", f"b{n}@ao.example")
            await asyncio.gather(contacts.put(ao_id, first, f"ao:{ao_id}"), contacts.put(ao_id, second, f"ao:{ao_id}"))
            kept = await pool.fetchval("SELECT email FROM notifier.challenge_contacts WHERE ao_id = $1", ao_id)
            told = await pool.fetch("SELECT old_email FROM notifier.contact_change_notices WHERE ao_id = $1", ao_id)
            replaced = {first.email, second.email} - {kept}
            if [row["old_email"] for row in told] != list(replaced):
                untold.append(ao_id)
        assert untold == [], f"{len(untold)} of 20 AOs: the address replaced was not told"
    finally:
        await pool.close()
