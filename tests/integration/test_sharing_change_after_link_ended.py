"""A provider let into the sharing route while linked, whose link a learner file or a merge ends before its change
is written, is refused then (decision 0121): the route checked the link before reading the body, so the store checks
it again once it holds the learner's row, and nothing of the provider's is recorded for the learner."""

from __future__ import annotations

from datetime import date

import asyncpg
import pytest
from tests.support.databases import prepare_validation_database

from lrs_contracts.learner import AbilityToShare
from lrs_domain.reference import Learner
from lrs_platform.keyring import Keyring, KeyringKey
from validation.learner_registry import LearnerRegistry, ProviderNoLongerLinkedError

pytestmark = pytest.mark.integration

SQUATTED, MASTER = "7770000016", "1000000043"
SQUATTER = "10009998"
OPERATOR = "operator:ops"


def _made_up() -> Learner:
    return Learner(SQUATTED, "Zanzibar", "Quoxley", None, 0, AbilityToShare.NOT_SEEN)


def _real(uln: str) -> Learner:
    return Learner(uln, "Amelia", "Realperson", date(2004, 3, 2), 2, AbilityToShare.SHARES)


async def _store(pool: asyncpg.Pool) -> LearnerRegistry:
    await prepare_validation_database(pool)
    return LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))


async def _ability(pool: asyncpg.Pool, uln: str) -> int:
    return int(await pool.fetchval("SELECT ability_to_share FROM validation.learners WHERE uln = $1", uln))


async def test_a_change_written_after_a_learner_file_ended_the_link_is_refused(pool: asyncpg.Pool) -> None:
    store = await _store(pool)
    assert await store.register_learner(_made_up(), registered_by_provider=SQUATTER)
    assert await store.linked_providers([SQUATTED]) == {SQUATTER}  # what the route saw before reading the body

    imported = await store.register_learners([_real(SQUATTED)], imported_by=f"{OPERATOR} (learner file)")
    assert imported.provider_links_ended == 1

    with pytest.raises(ProviderNoLongerLinkedError):
        await store.change_sharing(
            SQUATTED, AbilityToShare.UNABLE_TO_SHARE, f"provider:{SQUATTER}", provider_ukprn=SQUATTER
        )
    assert await _ability(pool, SQUATTED) == AbilityToShare.SHARES
    assert f"provider:{SQUATTER}" not in [change.changed_by for change in await store.sharing_changes([SQUATTED])]


async def test_a_change_written_after_a_merge_ended_the_link_never_reaches_the_master(pool: asyncpg.Pool) -> None:
    store = await _store(pool)
    assert await store.register_learner(_made_up(), registered_by_provider=SQUATTER)
    assert await store.register_learners([_real(MASTER)], imported_by=f"{OPERATOR} (learner file)")

    assert await store.merge(MASTER, SQUATTED, merged_by=OPERATOR)

    with pytest.raises(ProviderNoLongerLinkedError):
        await store.change_sharing(
            SQUATTED, AbilityToShare.UNABLE_TO_SHARE, f"provider:{SQUATTER}", provider_ukprn=SQUATTER
        )
    assert await _ability(pool, MASTER) == AbilityToShare.SHARES


async def test_a_linked_provider_and_a_provider_linked_to_another_uln_of_the_learner_still_change_it(
    pool: asyncpg.Pool,
) -> None:
    store = await _store(pool)
    assert await store.register_learners([_real(MASTER)], imported_by=f"{OPERATOR} (learner file)")
    await store.link_provider(MASTER, SQUATTER, OPERATOR)
    assert await store.register_learners([_real("1000000051")], imported_by=f"{OPERATOR} (learner file)")
    assert await store.merge(MASTER, "1000000051", merged_by=OPERATOR)

    recorded = await store.change_sharing(
        "1000000051", AbilityToShare.UNABLE_TO_SHARE, f"provider:{SQUATTER}", provider_ukprn=SQUATTER
    )

    assert recorded.uln == MASTER
    assert await _ability(pool, MASTER) == AbilityToShare.UNABLE_TO_SHARE
