"""Decision 0121, later note of 2026-12-06, on real PostgreSQL: when a learner file or an operator's merge ends the
link a provider's registration of a ULN made (the ULN was another learner's), a "shares" choice that only that
provider made since registering it is set aside for what the file says, or for the master's learner's choice,
recorded as the operator's change with why and announced. An opt-out is never set aside, the provider's own
neither (FAQ §1, decision 0180: a file never removes one): it stays, and a merge keeps it at the master as any."""

from __future__ import annotations

from datetime import date

import asyncpg
import pytest
from tests.support.databases import prepare_validation_database

from lrs_contracts.envelope import Contract
from lrs_contracts.learner import (
    AbilityToShare,
    LearnerProviderUnlinked,
    LearnerRegistered,
    LearnerSharingChanged,
    LearnersMerged,
)
from lrs_contracts.registry import decode
from lrs_domain.reference import Learner
from lrs_platform.keyring import Keyring, KeyringKey
from validation.learner_registry import LearnerRegistry

pytestmark = pytest.mark.integration

SQUATTED, MASTER = "7770000016", "1000000043"
SQUATTER = "10009998"
OPERATOR = "operator:ops"
FILE = f"{OPERATOR} (learner file)"
NOT_SEEN, SHARES, OPTED_OUT = AbilityToShare.NOT_SEEN, AbilityToShare.SHARES, AbilityToShare.UNABLE_TO_SHARE
SET_ASIDE = f": the choice of provider {SQUATTER}, whose registration named another learner, set aside"


def _made_up(ability: int = SHARES) -> Learner:
    return Learner(SQUATTED, "Zanzibar", "Quoxley", None, 0, ability)


def _real(uln: str = SQUATTED, ability: int = SHARES) -> Learner:
    return Learner(uln, "Amelia", "Realperson", date(2004, 3, 2), 2, ability)


async def _store(pool: asyncpg.Pool) -> LearnerRegistry:
    await prepare_validation_database(pool)
    return LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))


async def _last_outbox_id(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT coalesce(max(id), 0) FROM validation.learner_outbox"))


async def _queued_after(pool: asyncpg.Pool, after_id: int) -> list[Contract]:
    rows = await pool.fetch("SELECT envelope FROM validation.learner_outbox WHERE id > $1 ORDER BY id", after_id)
    return [decode(row["envelope"])[1] for row in rows]


async def _ability(pool: asyncpg.Pool, uln: str) -> int:
    return int(await pool.fetchval("SELECT ability_to_share FROM validation.learners WHERE uln = $1", uln))


async def _changes(store: LearnerRegistry, *ulns: str) -> list[tuple[str, int, str]]:
    """Newest first."""
    return [(change.uln, change.ability_to_share, change.changed_by) for change in await store.sharing_changes(ulns)]


async def test_a_squatters_opt_out_stays_when_a_learner_file_ends_its_link(pool: asyncpg.Pool) -> None:
    """The file says the learner shares, but a file never removes an opt-out (decision 0180), the squatter's neither:
    it only denies sharing, which the learner or an operator can lift."""
    store = await _store(pool)
    assert await store.register_learner(_made_up(), registered_by_provider=SQUATTER)
    await store.change_sharing(SQUATTED, OPTED_OUT, f"provider:{SQUATTER}")
    before = await _last_outbox_id(pool)

    imported = await store.register_learners([_real()], imported_by=FILE)

    assert (imported.provider_links_ended, imported.sharing_choices_reset) == (1, 0)
    assert await _ability(pool, SQUATTED) == OPTED_OUT
    assert await _changes(store, SQUATTED) == [(SQUATTED, OPTED_OUT, f"provider:{SQUATTER}")]
    queued = await _queued_after(pool, before)
    assert [type(payload) for payload in queued] == [LearnerRegistered, LearnerProviderUnlinked]


async def test_an_opt_out_the_squatter_registered_with_stays(pool: asyncpg.Pool) -> None:
    store = await _store(pool)
    assert await store.register_learner(_made_up(OPTED_OUT), registered_by_provider=SQUATTER)

    imported = await store.register_learners([_real(ability=NOT_SEEN)], imported_by=FILE)

    assert (imported.provider_links_ended, imported.sharing_choices_reset) == (1, 0)
    assert await _ability(pool, SQUATTED) == OPTED_OUT
    assert await _changes(store, SQUATTED) == []


async def test_a_squatters_shares_choice_becomes_what_the_learner_file_says(pool: asyncpg.Pool) -> None:
    store = await _store(pool)
    assert await store.register_learner(_made_up(NOT_SEEN), registered_by_provider=SQUATTER)
    await store.change_sharing(SQUATTED, SHARES, f"provider:{SQUATTER}")
    before = await _last_outbox_id(pool)

    imported = await store.register_learners([_real(ability=NOT_SEEN)], imported_by=FILE)

    assert (imported.provider_links_ended, imported.sharing_choices_reset) == (1, 1)
    assert await _ability(pool, SQUATTED) == NOT_SEEN
    assert await _changes(store, SQUATTED) == [
        (SQUATTED, NOT_SEEN, FILE + SET_ASIDE),
        (SQUATTED, SHARES, f"provider:{SQUATTER}"),
    ]
    queued = await _queued_after(pool, before)
    assert [type(payload) for payload in queued] == [LearnerRegistered, LearnerProviderUnlinked]
    assert isinstance(queued[0], LearnerRegistered)
    assert queued[0].ability_to_share == NOT_SEEN  # the file's details and choice, announced as one
    # the same file again changes nothing more
    again = await store.register_learners([_real(ability=NOT_SEEN)], imported_by=FILE)
    assert (again.unchanged, again.sharing_choices_reset) == (1, 0)
    assert await _ability(pool, SQUATTED) == NOT_SEEN


async def test_a_squatters_choice_the_file_repeats_is_recorded_as_the_files(pool: asyncpg.Pool) -> None:
    """The file says what the squatter had chosen: nothing changes, but the history says whose choice it is now."""
    store = await _store(pool)
    assert await store.register_learner(_made_up(NOT_SEEN), registered_by_provider=SQUATTER)
    await store.change_sharing(SQUATTED, SHARES, f"provider:{SQUATTER}")
    before = await _last_outbox_id(pool)

    imported = await store.register_learners([_real(ability=SHARES)], imported_by=FILE)

    assert imported.sharing_choices_reset == 1
    assert await _ability(pool, SQUATTED) == SHARES
    assert (await _changes(store, SQUATTED))[0] == (SQUATTED, SHARES, FILE + SET_ASIDE)
    assert not any(isinstance(payload, LearnerSharingChanged) for payload in await _queued_after(pool, before))


async def test_a_squatter_that_chose_nothing_has_nothing_set_aside(pool: asyncpg.Pool) -> None:
    """Registered with the notice not seen (0) and never changed: the file's choice applies as for any learner."""
    store = await _store(pool)
    assert await store.register_learner(_made_up(NOT_SEEN), registered_by_provider=SQUATTER)

    imported = await store.register_learners([_real(ability=SHARES)], imported_by=FILE)

    assert (imported.provider_links_ended, imported.sharing_choices_reset) == (1, 0)
    assert await _ability(pool, SQUATTED) == SHARES
    assert await _changes(store, SQUATTED) == [(SQUATTED, SHARES, FILE)]


@pytest.mark.parametrize(
    "opted_out_by", [f"learner:{SQUATTED}", "operator:desk"], ids=["the learner", "an operator at the desk"]
)
async def test_an_opt_out_the_learner_or_an_operator_made_is_never_set_aside(
    pool: asyncpg.Pool, opted_out_by: str
) -> None:
    store = await _store(pool)
    assert await store.register_learner(_made_up(), registered_by_provider=SQUATTER)
    await store.change_sharing(SQUATTED, SHARES, f"provider:{SQUATTER}")
    await store.change_sharing(SQUATTED, OPTED_OUT, opted_out_by)

    imported = await store.register_learners([_real()], imported_by=FILE)

    assert (imported.provider_links_ended, imported.sharing_choices_reset) == (1, 0)
    assert await _ability(pool, SQUATTED) == OPTED_OUT  # a file never removes an opt-out (decision 0180)
    assert (await _changes(store, SQUATTED))[0] == (SQUATTED, OPTED_OUT, opted_out_by)


async def test_a_squatters_registration_from_before_sharing_changes_were_kept_is_left_as_it_is(
    pool: asyncpg.Pool,
) -> None:
    """Registered before validation migration 0122: an opt-out the learner made then was never recorded."""
    store = await _store(pool)
    assert await store.register_learner(_made_up(OPTED_OUT), registered_by_provider=SQUATTER)
    await pool.execute(
        "UPDATE validation.learner_links SET linked_at = linked_at - interval '1 day'"
        " - (now() - (SELECT applied_at FROM validation.schema_migrations WHERE version = 122))"
        " WHERE uln = $1",
        SQUATTED,
    )

    imported = await store.register_learners([_real()], imported_by=FILE)

    assert (imported.provider_links_ended, imported.sharing_choices_reset) == (1, 0)
    assert await _ability(pool, SQUATTED) == OPTED_OUT


async def test_a_merge_sets_a_squatters_shares_choice_aside_for_the_masters_choice(pool: asyncpg.Pool) -> None:
    store = await _store(pool)
    await store.register_learners([_real(MASTER, ability=NOT_SEEN)], imported_by=FILE)
    assert await store.register_learner(_made_up(), registered_by_provider=SQUATTER)
    before = await _last_outbox_id(pool)

    assert await store.merge(MASTER, SQUATTED, merged_by=OPERATOR)

    assert await _ability(pool, MASTER) == NOT_SEEN
    assert await _ability(pool, SQUATTED) == NOT_SEEN
    assert await _changes(store, MASTER, SQUATTED) == [
        (SQUATTED, NOT_SEEN, f"{OPERATOR} (merge of {SQUATTED} into {MASTER})" + SET_ASIDE),
    ]
    assert await _queued_after(pool, before) == [
        LearnerProviderUnlinked(uln=SQUATTED, provider_ukprn=SQUATTER),
        LearnerSharingChanged(uln=SQUATTED, ability_to_share=NOT_SEEN),
        LearnersMerged(master_uln=MASTER, merged_uln=SQUATTED),
    ]


async def test_a_merge_keeps_a_squatters_opt_out_at_the_master_as_any_opt_out(pool: asyncpg.Pool) -> None:
    """Never set aside (decision 0180): the merge copies it to the master (decision 0164), a denial of sharing the
    learner or an operator can lift, never a disclosure."""
    store = await _store(pool)
    await store.register_learners([_real(MASTER)], imported_by=FILE)
    assert await store.register_learner(_made_up(), registered_by_provider=SQUATTER)
    await store.change_sharing(SQUATTED, OPTED_OUT, f"provider:{SQUATTER}")
    before = await _last_outbox_id(pool)

    assert await store.merge(MASTER, SQUATTED, merged_by=OPERATOR)

    assert await _ability(pool, SQUATTED) == OPTED_OUT
    assert await _ability(pool, MASTER) == OPTED_OUT  # kept by the merge (decision 0164)
    assert await _changes(store, MASTER, SQUATTED) == [
        (MASTER, OPTED_OUT, f"merge of {SQUATTED}"),
        (SQUATTED, OPTED_OUT, f"provider:{SQUATTER}"),
    ]
    assert await _queued_after(pool, before) == [
        LearnerProviderUnlinked(uln=SQUATTED, provider_ukprn=SQUATTER),
        LearnersMerged(master_uln=MASTER, merged_uln=SQUATTED),
        LearnerSharingChanged(uln=MASTER, ability_to_share=OPTED_OUT),
    ]


async def test_a_merge_keeps_an_opt_out_the_learner_made_under_the_squatted_uln(pool: asyncpg.Pool) -> None:
    store = await _store(pool)
    await store.register_learners([_real(MASTER)], imported_by=FILE)
    assert await store.register_learner(_made_up(), registered_by_provider=SQUATTER)
    await store.change_sharing(SQUATTED, OPTED_OUT, f"learner:{SQUATTED}")

    assert await store.merge(MASTER, SQUATTED, merged_by=OPERATOR)

    assert await _ability(pool, MASTER) == OPTED_OUT  # kept by the merge (decision 0164)
    assert (await _changes(store, MASTER, SQUATTED))[0] == (MASTER, OPTED_OUT, f"merge of {SQUATTED}")
