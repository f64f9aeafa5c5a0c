"""Decision 0121, later note of 2026-12-06, on real PostgreSQL: an operator's merge of a ULN that no learner file has
named, registered by a provider under names or a date of birth other than the master's, ends that registration's link
in the merge's transaction, announced before the merge; the same details (as RV004 compares them) or a file naming the
ULN before keep it. A learner file's merge (MasterULN) judges the details the file gives the merged ULN instead."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import asyncpg
import pytest
from tests.support.databases import prepare_validation_database

from lrs_contracts.envelope import Contract
from lrs_contracts.learner import LearnerProviderLinked, LearnerProviderUnlinked, LearnersMerged
from lrs_contracts.registry import decode
from lrs_domain.reference import Learner
from lrs_platform.keyring import Keyring, KeyringKey
from validation.learner_registry import LearnerRegistry

pytestmark = pytest.mark.integration

MASTER, MERGED = "1000000043", "7770000016"
SQUATTER, OPERATORS_OWN = "10009998", "10007890"
OPERATOR = "operator:ops"
REAL = Learner(MASTER, "Amelia", "Realperson", date(2004, 3, 2), 2, 1)


async def _store(pool: asyncpg.Pool) -> LearnerRegistry:
    await prepare_validation_database(pool)
    store = LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))
    await store.register_learners([REAL], imported_by=OPERATOR)
    return store


async def _links(pool: asyncpg.Pool) -> list[tuple[str, str, str]]:
    rows = await pool.fetch("SELECT uln, provider_ukprn, linked_by FROM validation.learner_links ORDER BY 1, 2")
    return [(row["uln"], row["provider_ukprn"], row["linked_by"]) for row in rows]


async def _last_outbox_id(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT coalesce(max(id), 0) FROM validation.learner_outbox"))


async def _announced_after(pool: asyncpg.Pool, after_id: int) -> list[Contract]:
    rows = await pool.fetch("SELECT envelope FROM validation.learner_outbox WHERE id > $1 ORDER BY id", after_id)
    kinds = LearnerProviderLinked | LearnerProviderUnlinked | LearnersMerged
    return [payload for row in rows if isinstance(payload := decode(row["envelope"])[1], kinds)]


async def test_merging_a_ulns_no_file_named_under_other_details_ends_its_registrations_link(
    pool: asyncpg.Pool,
) -> None:
    store = await _store(pool)
    assert await store.register_learner(Learner(MERGED, "Place", "Holder", None, 0, 1), registered_by_provider=SQUATTER)
    await store.link_provider(MERGED, OPERATORS_OWN, linked_by=OPERATOR)
    before = await _last_outbox_id(pool)

    assert await store.merge(MASTER, MERGED)

    assert await _links(pool) == [(MERGED, OPERATORS_OWN, OPERATOR)]
    assert await _announced_after(pool, before) == [
        LearnerProviderUnlinked(uln=MERGED, provider_ukprn=SQUATTER),
        LearnersMerged(master_uln=MASTER, merged_uln=MERGED),
    ]
    assert await store.linked_providers([MASTER, MERGED]) == {OPERATORS_OWN}
    # the same merge again changes and announces nothing
    again = await _last_outbox_id(pool)
    assert not await store.merge(MASTER, MERGED)
    assert await _announced_after(pool, again) == []


@pytest.mark.parametrize(
    "registered",
    [
        replace(REAL, uln=MERGED, given_name=" AMELIA", family_name="realperson", date_of_birth=None, gender=0),
        replace(REAL, uln=MERGED, gender=1, ability_to_share=0),
    ],
    ids=["the master's details, however written, without a date of birth", "the master's details"],
)
async def test_merging_a_ulns_registered_under_the_masters_details_keeps_its_link(
    pool: asyncpg.Pool, registered: Learner
) -> None:
    store = await _store(pool)
    assert await store.register_learner(registered, registered_by_provider=SQUATTER)
    before = await _last_outbox_id(pool)

    assert await store.merge(MASTER, MERGED)

    assert await _links(pool) == [(MERGED, SQUATTER, f"provider:{SQUATTER}")]
    assert await _announced_after(pool, before) == [LearnersMerged(master_uln=MASTER, merged_uln=MERGED)]


async def test_merging_a_uln_a_file_named_before_keeps_its_link_whatever_the_masters_details(
    pool: asyncpg.Pool,
) -> None:
    """A file naming the ULN under the details the provider registered confirmed them: the register agreed the ULN
    was that learner, and the merge says the master is the same person."""
    store = await _store(pool)
    duplicate = Learner(MERGED, "Amy", "Realperson-Jones", date(2004, 3, 2), 2, 1)
    assert await store.register_learner(duplicate, registered_by_provider=SQUATTER)
    assert (await store.register_learners([duplicate], imported_by=OPERATOR)).unchanged == 1

    assert await store.merge(MASTER, MERGED)

    assert await _links(pool) == [(MERGED, SQUATTER, f"provider:{SQUATTER}")]


@pytest.mark.parametrize(
    ("named_in_file", "ended"),
    [("Place", 0), ("Amy", 1)],
    ids=["under the details registered", "under other details"],
)
async def test_a_learner_files_merge_judges_the_details_the_file_gives_the_merged_uln(
    pool: asyncpg.Pool, named_in_file: str, ended: int
) -> None:
    """The file names the ULN it merges (MasterULN on its row), so what the file says of it is compared with what
    the provider registered, as for any learner in the file, and the merge into a master with other details ends
    nothing more: a file naming the ULN under the very details registered confirmed them."""
    store = await _store(pool)
    registered = Learner(MERGED, "Place", "Holder", None, 0, 1)
    assert await store.register_learner(registered, registered_by_provider=SQUATTER)

    in_file = replace(registered, given_name=named_in_file, master_uln=MASTER)
    imported = await store.register_learners([REAL, in_file], imported_by=OPERATOR)

    assert (imported.merged, imported.provider_links_ended) == (1, ended)
    assert await _links(pool) == ([] if ended else [(MERGED, SQUATTER, f"provider:{SQUATTER}")])
