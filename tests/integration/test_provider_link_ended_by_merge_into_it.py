"""Decision 0121, later note of 2026-12-06, the other way round, on real PostgreSQL: an operator's merge of a learner
a learner file has named (the register's learner) INTO a ULN that no file has named, registered by a provider under
names or a date of birth other than the merged learner's (a squatted ULN made the master), ends that registration's
link in the merge's transaction, announced before the merge, as a merge of the squatted ULN into the real learner's
master does: otherwise the squatter, linked to the master, would reach the merged learner's PLR. A "shares" choice only
the squatter made under the master, which every read applies after the merge, is set aside for the merged learner's.
The same details, a file naming the master before, or a merged learner no file has named keep the master's link."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import asyncpg
import pytest
from tests.support.databases import prepare_validation_database

from lrs_contracts.envelope import Contract
from lrs_contracts.learner import (
    AbilityToShare,
    LearnerProviderLinked,
    LearnerProviderUnlinked,
    LearnerSharingChanged,
    LearnersMerged,
)
from lrs_contracts.registry import decode
from lrs_domain.reference import Learner
from lrs_platform.keyring import Keyring, KeyringKey
from validation.learner_registry import LearnerRegistry

pytestmark = pytest.mark.integration

SQUATTED, REAL_ULN = "7770000016", "1000000043"
SQUATTER, GENUINE, OPERATORS_OWN = "10009998", "10004567", "10007890"
OPERATOR = "operator:ops"
FILE = f"{OPERATOR} (learner file)"
NOT_SEEN, SHARES, OPTED_OUT = AbilityToShare.NOT_SEEN, AbilityToShare.SHARES, AbilityToShare.UNABLE_TO_SHARE
REAL = Learner(REAL_ULN, "Amelia", "Realperson", date(2004, 3, 2), 2, NOT_SEEN)
MADE_UP = Learner(SQUATTED, "Zanzibar", "Quoxley", None, 0, SHARES)
SET_ASIDE = f": the choice of provider {SQUATTER}, whose registration named another learner, set aside"


async def _store(pool: asyncpg.Pool) -> LearnerRegistry:
    await prepare_validation_database(pool)
    return LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))


async def _links(pool: asyncpg.Pool) -> list[tuple[str, str, str]]:
    rows = await pool.fetch("SELECT uln, provider_ukprn, linked_by FROM validation.learner_links ORDER BY 1, 2")
    return [(row["uln"], row["provider_ukprn"], row["linked_by"]) for row in rows]


async def _last_outbox_id(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT coalesce(max(id), 0) FROM validation.learner_outbox"))


async def _announced_after(pool: asyncpg.Pool, after_id: int) -> list[Contract]:
    rows = await pool.fetch(
        "SELECT partition_key, envelope FROM validation.learner_outbox WHERE id > $1 ORDER BY id", after_id
    )
    kinds = LearnerProviderLinked | LearnerProviderUnlinked | LearnersMerged | LearnerSharingChanged
    announced = [(row["partition_key"], decode(row["envelope"])[1]) for row in rows]
    # each keyed by its ULN: the master's unlink and the merge (keyed by the master) go to one partition, in order
    assert all(
        key in (getattr(payload, "uln", None), getattr(payload, "master_uln", None)) for key, payload in announced
    ), announced
    return [payload for _, payload in announced if isinstance(payload, kinds)]


async def _ability(pool: asyncpg.Pool, uln: str) -> int:
    return int(await pool.fetchval("SELECT ability_to_share FROM validation.learners WHERE uln = $1", uln))


async def test_merging_a_learner_named_by_a_file_into_a_squatted_uln_ends_the_squatters_link(
    pool: asyncpg.Pool,
) -> None:
    store = await _store(pool)
    await store.register_learners([REAL], imported_by=FILE)
    assert await store.register_learner(MADE_UP, registered_by_provider=SQUATTER)
    await store.link_provider(SQUATTED, OPERATORS_OWN, linked_by=OPERATOR)
    before = await _last_outbox_id(pool)

    assert await store.merge(SQUATTED, REAL_ULN, merged_by=OPERATOR)

    assert await _links(pool) == [(SQUATTED, OPERATORS_OWN, OPERATOR)]
    assert await store.linked_providers([SQUATTED, REAL_ULN]) == {OPERATORS_OWN}
    assert await _announced_after(pool, before) == [
        LearnerProviderUnlinked(uln=SQUATTED, provider_ukprn=SQUATTER),
        # the squatter's "shares", every read's after the merge, set aside for the real learner's choice
        LearnerSharingChanged(uln=SQUATTED, ability_to_share=NOT_SEEN),
        LearnersMerged(master_uln=SQUATTED, merged_uln=REAL_ULN),
    ]
    assert await _ability(pool, SQUATTED) == NOT_SEEN
    [set_aside] = [change for change in await store.sharing_changes([SQUATTED]) if SET_ASIDE in change.changed_by]
    assert (set_aside.ability_to_share, set_aside.changed_by) == (
        NOT_SEEN,
        f"{OPERATOR} (merge of {REAL_ULN} into {SQUATTED})" + SET_ASIDE,
    )
    # the same merge again changes and announces nothing
    again = await _last_outbox_id(pool)
    assert not await store.merge(SQUATTED, REAL_ULN, merged_by=OPERATOR)
    assert await _announced_after(pool, again) == []


async def test_an_opt_out_the_squatter_made_under_the_master_stays(pool: asyncpg.Pool) -> None:
    """Never set aside (decision 0180): it only denies sharing, which the learner or an operator can lift."""
    store = await _store(pool)
    await store.register_learners([replace(REAL, ability_to_share=SHARES)], imported_by=FILE)
    assert await store.register_learner(replace(MADE_UP, ability_to_share=OPTED_OUT), registered_by_provider=SQUATTER)

    assert await store.merge(SQUATTED, REAL_ULN, merged_by=OPERATOR)

    assert await store.linked_providers([SQUATTED, REAL_ULN]) == frozenset()
    assert await _ability(pool, SQUATTED) == OPTED_OUT


async def test_merging_a_learner_no_file_named_into_a_master_no_file_named_keeps_the_masters_link(
    pool: asyncpg.Pool,
) -> None:
    """Nothing says the merged learner's details are the register's: the master's are the learner's (the operator chose
    it), and the merged ULN's registration loses its link (the other direction, as before)."""
    store = await _store(pool)
    assert await store.register_learner(replace(REAL, ability_to_share=SHARES), registered_by_provider=GENUINE)
    assert await store.register_learner(MADE_UP, registered_by_provider=SQUATTER)
    before = await _last_outbox_id(pool)

    assert await store.merge(SQUATTED, REAL_ULN, merged_by=OPERATOR)

    assert await _links(pool) == [(SQUATTED, SQUATTER, f"provider:{SQUATTER}")]
    announced = await _announced_after(pool, before)
    assert announced[0] == LearnerProviderUnlinked(uln=REAL_ULN, provider_ukprn=GENUINE)
    assert announced[-1] == LearnersMerged(master_uln=SQUATTED, merged_uln=REAL_ULN)
    assert await _ability(pool, SQUATTED) == SHARES


@pytest.mark.parametrize(
    "registered",
    [
        replace(REAL, uln=SQUATTED, given_name=" AMELIA", family_name="realperson", date_of_birth=None, gender=0),
        replace(REAL, uln=SQUATTED, gender=1, ability_to_share=SHARES),
    ],
    ids=["the merged learner's details, however written, without a date of birth", "the merged learner's details"],
)
async def test_a_master_registered_under_the_merged_learners_details_keeps_its_link(
    pool: asyncpg.Pool, registered: Learner
) -> None:
    store = await _store(pool)
    await store.register_learners([REAL], imported_by=FILE)
    assert await store.register_learner(registered, registered_by_provider=SQUATTER)
    before = await _last_outbox_id(pool)

    assert await store.merge(SQUATTED, REAL_ULN, merged_by=OPERATOR)

    assert await _links(pool) == [(SQUATTED, SQUATTER, f"provider:{SQUATTER}")]
    assert await _announced_after(pool, before) == [LearnersMerged(master_uln=SQUATTED, merged_uln=REAL_ULN)]


async def test_a_master_a_file_named_before_keeps_its_link_whatever_the_merged_learners_details(
    pool: asyncpg.Pool,
) -> None:
    store = await _store(pool)
    await store.register_learners([REAL], imported_by=FILE)
    assert await store.register_learner(MADE_UP, registered_by_provider=SQUATTER)
    assert (await store.register_learners([MADE_UP], imported_by=FILE)).unchanged == 1

    assert await store.merge(SQUATTED, REAL_ULN, merged_by=OPERATOR)

    assert await _links(pool) == [(SQUATTED, SQUATTER, f"provider:{SQUATTER}")]


async def test_a_learner_files_merge_into_a_squatted_master_it_does_not_name_ends_the_squatters_link(
    pool: asyncpg.Pool,
) -> None:
    """The file names the real learner (with MasterULN the squatted ULN): the master is judged against the details
    the file gives them, and the import counts the link and the choice set aside."""
    store = await _store(pool)
    assert await store.register_learner(MADE_UP, registered_by_provider=SQUATTER)

    imported = await store.register_learners([replace(REAL, master_uln=SQUATTED)], imported_by=FILE)

    assert (imported.merged, imported.provider_links_ended, imported.sharing_choices_reset) == (1, 1, 1)
    assert await _links(pool) == []
    assert await _ability(pool, SQUATTED) == NOT_SEEN
    assert (await store.sharing_changes([SQUATTED]))[0].changed_by == (
        f"{FILE} (merge of {REAL_ULN} into {SQUATTED})" + SET_ASIDE
    )
