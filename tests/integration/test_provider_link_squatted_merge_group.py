"""Decision 0121, later notes of 2026-12-06: a squatter that registered two ULNs under the same made-up details, which
an operator merged together (neither named by a learner file, the same details: nothing ends then), loses its
registration links on both once the register's learner (named by a learner file) is merged with that learner, either
way: into the first ULN (the squatted side the master), or the first ULN into the real learner (the squatted side
merged). Otherwise the link left on the other ULN, one of the merged learner's, still reads their PLR. Only ULNs of the
squatted side that no file has named and whose details are not the real learner's lose theirs; a "shares" choice only
the squatter made at the end of the squatted side's chain is set aside for the real learner's; an opt-out stays."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date

import asyncpg
import httpx
import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import register
from tests.support.databases import prepare_validation_database
from tests.support.learners import new_learner, random_uln
from tests.support.waiting import eventually

from lrs_contracts.learner import AbilityToShare, LearnerProviderUnlinked, LearnerSharingChanged, LearnersMerged
from lrs_contracts.registry import decode
from lrs_domain.reference import Learner
from lrs_platform.keyring import Keyring, KeyringKey
from validation.learner_registry import LearnerRegistry

pytestmark = pytest.mark.integration

SQUATTER = "10009998"
OPERATOR = "operator:ops"
FILE = f"{OPERATOR} (learner file)"
NOT_SEEN, SHARES, OPTED_OUT = AbilityToShare.NOT_SEEN, AbilityToShare.SHARES, AbilityToShare.UNABLE_TO_SHARE
SET_ASIDE = f": the choice of provider {SQUATTER}, whose registration named another learner, set aside"


async def _store(pool: asyncpg.Pool) -> LearnerRegistry:
    await prepare_validation_database(pool)
    return LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))


async def _squatted_pair(
    store: LearnerRegistry, ability: AbilityToShare = NOT_SEEN, *, first_merged_into_second: bool = False
) -> tuple[str, str, str]:
    """Two ULNs the squatter registered as "Zanzibar Quoxley", the second merged into the first by an operator (or the
    first into the second), and a learner a file named: (first, second, real)."""
    first, second, real = random_uln(), random_uln(), random_uln()
    made_up = Learner(first, "Zanzibar", "Quoxley", None, 0, ability)
    assert await store.register_learner(made_up, registered_by_provider=SQUATTER)
    assert await store.register_learner(replace(made_up, uln=second), registered_by_provider=SQUATTER)
    assert await store.merge(*((second, first) if first_merged_into_second else (first, second)), merged_by=OPERATOR)
    assert await store.linked_providers([first, second]) == {SQUATTER}  # the same details: nothing ended
    await store.register_learners(
        [Learner(real, "Amelia", "Realperson", date(2004, 3, 2), 2, NOT_SEEN)], imported_by=FILE
    )
    return first, second, real


async def _last_outbox_id(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT coalesce(max(id), 0) FROM validation.learner_outbox"))


async def _announced_after(pool: asyncpg.Pool, after_id: int) -> list[tuple[str, object]]:
    """The unlinks, sharing changes and merges queued after `after_id`, each with its key."""
    rows = await pool.fetch(
        "SELECT partition_key, envelope FROM validation.learner_outbox WHERE id > $1 ORDER BY id", after_id
    )
    kinds = LearnerProviderUnlinked | LearnersMerged | LearnerSharingChanged
    announced = [(row["partition_key"], decode(row["envelope"])[1]) for row in rows]
    return [(key, payload) for key, payload in announced if isinstance(payload, kinds)]


async def _ability(pool: asyncpg.Pool, uln: str) -> int:
    return int(await pool.fetchval("SELECT ability_to_share FROM validation.learners WHERE uln = $1", uln))


async def test_merging_the_real_learner_into_a_squatted_uln_ends_the_links_of_every_uln_merged_with_it(
    pool: asyncpg.Pool,
) -> None:
    store = await _store(pool)
    first, second, real = await _squatted_pair(store)
    before = await _last_outbox_id(pool)

    assert await store.merge(first, real, merged_by=OPERATOR)

    assert await store.linked_providers([first, second, real]) == frozenset()
    unlinked = [(first, LearnerProviderUnlinked(uln=first, provider_ukprn=SQUATTER))]
    unlinked.append((second, LearnerProviderUnlinked(uln=second, provider_ukprn=SQUATTER)))
    assert await _announced_after(pool, before) == [
        *sorted(unlinked),
        (first, LearnersMerged(master_uln=first, merged_uln=real)),
    ]


async def test_merging_a_squatted_uln_into_the_real_learner_ends_the_links_of_every_uln_merged_into_it(
    pool: asyncpg.Pool,
) -> None:
    store = await _store(pool)
    first, second, real = await _squatted_pair(store)
    before = await _last_outbox_id(pool)

    assert await store.merge(real, first, merged_by=OPERATOR)

    assert await store.linked_providers([first, second, real]) == frozenset()
    unlinked = [(first, LearnerProviderUnlinked(uln=first, provider_ukprn=SQUATTER))]
    unlinked.append((second, LearnerProviderUnlinked(uln=second, provider_ukprn=SQUATTER)))
    assert await _announced_after(pool, before) == [
        *sorted(unlinked),
        (real, LearnersMerged(master_uln=real, merged_uln=first)),
    ]


async def test_a_uln_of_the_squatted_side_a_file_named_keeps_its_link(pool: asyncpg.Pool) -> None:
    """The file named it under the details the squatter registered: the register agreed the ULN is that learner."""
    store = await _store(pool)
    first, second, real = await _squatted_pair(store)
    named = Learner(second, "Zanzibar", "Quoxley", None, 0, NOT_SEEN)
    assert (await store.register_learners([named], imported_by=FILE)).unchanged == 1

    assert await store.merge(first, real, merged_by=OPERATOR)

    assert await store.linked_providers([first]) == frozenset()
    assert await store.linked_providers([second]) == {SQUATTER}


async def test_the_squatters_shares_at_the_end_of_the_masters_chain_is_set_aside(pool: asyncpg.Pool) -> None:
    """The master (the first ULN) is merged on into the second: the second's choice is every read's after the merge,
    and the squatter's "shares" there becomes the real learner's choice. An opt-out stays."""
    store = await _store(pool)
    shares = await _squatted_pair(store, SHARES, first_merged_into_second=True)
    opted_out = await _squatted_pair(store, OPTED_OUT, first_merged_into_second=True)
    for first, second, real in (shares, opted_out):
        assert await store.merge(first, real, merged_by=OPERATOR)

        assert await store.linked_providers([first, second, real]) == frozenset()
    first, second, real = shares
    assert await _ability(pool, second) == NOT_SEEN
    assert (await store.sharing_changes([second]))[0].changed_by == (
        f"{OPERATOR} (merge of {real} into {first})" + SET_ASIDE
    )
    assert await _ability(pool, opted_out[1]) == OPTED_OUT


@pytest.mark.parametrize("named_first", [True, False], ids=["the master named", "the merged ULN named"])
async def test_a_learner_file_naming_one_of_two_merged_squatted_ulns_ends_the_links_of_both(
    pool: asyncpg.Pool, named_first: bool
) -> None:
    """The same by a learner file that gives one of the two ULNs the real learner's details: the other, merged with
    it either way, is that learner's too."""
    store = await _store(pool)
    first, second, _ = await _squatted_pair(store)
    named = first if named_first else second
    before = await _last_outbox_id(pool)

    imported = await store.register_learners(
        [Learner(named, "Amelia", "Realperson", date(2004, 3, 2), 2, NOT_SEEN)], imported_by=FILE
    )

    assert imported.provider_links_ended == 2
    assert await store.linked_providers([first, second]) == frozenset()
    unlinked = [item for item in await _announced_after(pool, before) if isinstance(item[1], LearnerProviderUnlinked)]
    assert sorted(unlinked) == sorted(
        (uln, LearnerProviderUnlinked(uln=uln, provider_ukprn=SQUATTER)) for uln in (first, second)
    )


@pytest.mark.parametrize("first_merged_into_second", [False, True], ids=["the second merged", "the first merged"])
async def test_a_learner_file_naming_the_merged_uln_sets_aside_the_squatters_shares_at_the_end_of_its_chain(
    pool: asyncpg.Pool, first_merged_into_second: bool
) -> None:
    """The file names the ULN merged into the other: the other, the end of the chain, holds the choice every read of
    the learner applies, and the squatter's "shares" there becomes what the file says, as a merge sets it aside. An
    opt-out stays."""
    store = await _store(pool)
    shares = await _squatted_pair(store, SHARES, first_merged_into_second=first_merged_into_second)
    opted_out = await _squatted_pair(store, OPTED_OUT, first_merged_into_second=first_merged_into_second)
    imported = []
    before = await _last_outbox_id(pool)
    for first, second, _ in (shares, opted_out):
        named = first if first_merged_into_second else second
        file = [Learner(named, "Amelia", "Realperson", date(2004, 3, 2), 2, NOT_SEEN)]
        imported.append(await store.register_learners(file, imported_by=FILE))

    end, opted_out_end = (shares[1], opted_out[1]) if first_merged_into_second else (shares[0], opted_out[0])
    assert [(each.provider_links_ended, each.sharing_choices_reset) for each in imported] == [(2, 1), (2, 0)]
    assert await _ability(pool, end) == NOT_SEEN
    [change, *_] = await store.sharing_changes([end])
    assert (change.ability_to_share, change.changed_by) == (NOT_SEEN, FILE + SET_ASIDE)
    assert (end, LearnerSharingChanged(uln=end, ability_to_share=NOT_SEEN)) in await _announced_after(pool, before)
    assert await _ability(pool, opted_out_end) == OPTED_OUT
    assert await store.sharing_changes([opted_out_end]) == []


# The whole system, as the review reproduced it: the squatter's PLR read and the providers an operator is shown


def _provider() -> str:
    return f"provider:{uuid.uuid4().int % 10**8:08d}"


def _code(answer: httpx.Response) -> tuple[int, str | None]:
    return answer.status_code, answer.json().get("code") if answer.status_code >= 400 else None


async def _squatted_through_the_api(system: SystemUnderTest, squatter: str) -> tuple[str, str, dict[str, str]]:
    first, second = new_learner()["uln"], new_learner()["uln"]
    real = new_learner()
    await register(system, [real])  # named by a learner file: the register's learner
    async with await system.client("validation", squatter) as client:
        for uln in (first, second):
            made_up = await client.post(
                "/v1/learners", json={"uln": uln, "given_name": "Zanzibar", "family_name": "Quoxley"}
            )
            assert made_up.status_code == 201, made_up.text
    async with await system.client("validation", OPERATOR) as operator:
        merged = await operator.post(f"/v1/learners/{first}/merge", json={"merged_uln": second})
    assert merged.status_code == 204, merged.text
    return first, second, real


async def _squatter_reaches_nothing(system: SystemUnderTest, squatter: str, ulns: list[str], real: str) -> None:
    async with await system.client("validation", OPERATOR) as operator:
        providers = await operator.get(f"/v1/learners/{real}/providers")
    assert providers.status_code == 200, providers.text
    assert providers.json()["providers"] == []

    async def merged_without_the_squatters_reach() -> bool:
        async with await system.client("plr-projector", OPERATOR) as client:
            answer = await client.get(f"/v1/learners/{real}/plr")
        async with await system.client("plr-projector", squatter) as client:
            read = _code(await client.get(f"/v1/learners/{real}/plr"))
        return set(ulns) <= set(answer.json()["ulns"]) and read == (403, "PROVIDER_NOT_LINKED")

    assert await eventually(merged_without_the_squatters_reach, within=30, what="the merges projected, no reach")


@pytest.mark.parametrize("real_merged_into_the_squatted", [True, False], ids=["into the squatted", "into the real"])
async def test_a_squatter_of_two_merged_ulns_reads_nothing_of_the_learner_merged_with_them(
    system: SystemUnderTest, real_merged_into_the_squatted: bool
) -> None:
    squatter = _provider()
    first, second, real = await _squatted_through_the_api(system, squatter)
    master, merged = (first, real["uln"]) if real_merged_into_the_squatted else (real["uln"], first)

    async with await system.client("validation", OPERATOR) as operator:
        answer = await operator.post(f"/v1/learners/{master}/merge", json={"merged_uln": merged})
    assert answer.status_code == 204, answer.text

    await _squatter_reaches_nothing(system, squatter, [first, second, real["uln"]], real["uln"])
