"""Decision 0121, later note of 2026-12-06: a provider's registration of an unregistered ULN links it, and a
learner file that replaces the names or date of birth it registered ends that link, in the import's transaction,
announced on the learner log, unless a file had named the learner before. An operator's link stays, and so does every
link when the details stay the same or a date of birth is only added or left out (decision 0187)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import asyncpg
import pytest
from tests.support.databases import prepare_validation_database

from lrs_contracts.envelope import Contract
from lrs_contracts.learner import LearnerProviderLinked, LearnerProviderUnlinked, LearnerRegistered
from lrs_contracts.registry import decode
from lrs_domain.reference import Learner
from lrs_platform.keyring import Keyring, KeyringKey
from validation.learner_registry import LearnerRegistry, RegistryImport

pytestmark = pytest.mark.integration

SQUATTED, KEPT = "7770000016", "1000000043"
SQUATTER, VOUCHED, OPERATORS_OWN = "10009998", "10004567", "10007890"
OPERATOR = "operator:ops"


def _learner(uln: str, given_name: str, family_name: str, born: date | None) -> Learner:
    return Learner(uln, given_name, family_name, born, 2, 1)


async def _store(pool: asyncpg.Pool) -> LearnerRegistry:
    await prepare_validation_database(pool)
    return LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))


async def _links(pool: asyncpg.Pool) -> list[tuple[str, str, str]]:
    rows = await pool.fetch("SELECT uln, provider_ukprn, linked_by FROM validation.learner_links ORDER BY 1, 2")
    return [(row["uln"], row["provider_ukprn"], row["linked_by"]) for row in rows]


async def _queued_after(pool: asyncpg.Pool, after_id: int) -> list[Contract]:
    rows = await pool.fetch("SELECT envelope FROM validation.learner_outbox WHERE id > $1 ORDER BY id", after_id)
    return [decode(row["envelope"])[1] for row in rows]


async def _announced_after(pool: asyncpg.Pool, after_id: int) -> list[Contract]:
    queued = await _queued_after(pool, after_id)
    return [payload for payload in queued if isinstance(payload, LearnerProviderLinked | LearnerProviderUnlinked)]


async def _last_outbox_id(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT coalesce(max(id), 0) FROM validation.learner_outbox"))


async def test_a_learner_file_replacing_the_registered_details_ends_the_registering_providers_link_only(
    pool: asyncpg.Pool,
) -> None:
    store = await _store(pool)
    placeholder = _learner(SQUATTED, "Placeholder", "Placeholder", None)
    assert await store.register_learner(placeholder, registered_by_provider=SQUATTER)
    await store.link_provider(SQUATTED, OPERATORS_OWN, linked_by=OPERATOR)
    before = await _last_outbox_id(pool)

    real = _learner(SQUATTED, "Amelia", "Realperson", date(2004, 3, 2))
    imported = await store.register_learners([real], imported_by=OPERATOR)

    assert imported == RegistryImport(new=0, updated=1, unchanged=0, merged=0, provider_links_ended=1)
    assert await _links(pool) == [(SQUATTED, OPERATORS_OWN, OPERATOR)]
    queued = await _queued_after(pool, before)
    assert [type(payload) for payload in queued] == [LearnerRegistered, LearnerProviderUnlinked]  # replaced, then ended
    assert queued[1] == LearnerProviderUnlinked(uln=SQUATTED, provider_ukprn=SQUATTER)
    assert await store.linked_providers([SQUATTED]) == {OPERATORS_OWN}

    # the same file again, or the provider registering what it registered before, ends or links nothing more
    again = await store.register_learners([real], imported_by=OPERATOR)
    assert again == RegistryImport(new=0, updated=0, unchanged=1, merged=0, provider_links_ended=0)
    assert not await store.register_learner(real, registered_by_provider=SQUATTER)
    assert await _links(pool) == [(SQUATTED, OPERATORS_OWN, OPERATOR)]


async def test_the_same_details_again_however_written_end_no_link(pool: asyncpg.Pool) -> None:
    """Names as RV004 compares them (trimmed, caseless) and the same date of birth are the same learner: a file that
    only corrects their case, the gender or the ability to share ends nothing."""
    store = await _store(pool)
    registered = _learner(KEPT, "Lily", "McCarthy", date(2005, 1, 2))
    assert await store.register_learner(registered, registered_by_provider=SQUATTER)
    before = await _last_outbox_id(pool)

    corrected = replace(registered, given_name="LILY", family_name=" mccarthy", gender=9, ability_to_share=2)
    imported = await store.register_learners([corrected], imported_by=OPERATOR)

    assert (imported.updated, imported.provider_links_ended) == (1, 0)
    assert await _links(pool) == [(KEPT, SQUATTER, f"provider:{SQUATTER}")]
    assert await _announced_after(pool, before) == []


@pytest.mark.parametrize(
    "replaced",
    [
        {"given_name": "Amelia"},
        {"family_name": "Realperson"},
        {"date_of_birth": date(2004, 3, 2)},
    ],
    ids=["given name", "family name", "date of birth"],
)
async def test_any_of_the_names_or_the_date_of_birth_replaced_ends_the_link(
    pool: asyncpg.Pool, replaced: dict[str, object]
) -> None:
    store = await _store(pool)
    registered = _learner(KEPT, "Lily", "McCarthy", date(2005, 1, 2))
    assert await store.register_learner(registered, registered_by_provider=SQUATTER)

    imported = await store.register_learners([replace(registered, **replaced)], imported_by=OPERATOR)  # type: ignore[arg-type]

    assert imported.provider_links_ended == 1
    assert await _links(pool) == []


async def test_a_link_an_operator_vouched_for_outlives_the_learner_file(pool: asyncpg.Pool) -> None:
    """An operator linking a provider that registered the learner makes the link the operator's: a file that
    replaces the details then leaves it."""
    store = await _store(pool)
    registered = _learner(KEPT, "Lily", "Mc Carthy", None)
    assert await store.register_learner(registered, registered_by_provider=VOUCHED)
    await store.link_provider(KEPT, VOUCHED, linked_by=OPERATOR)

    imported = await store.register_learners(
        [replace(registered, family_name="McCarthy", date_of_birth=date(2005, 1, 2))], imported_by=OPERATOR
    )

    assert imported.provider_links_ended == 0
    assert await _links(pool) == [(KEPT, VOUCHED, OPERATOR)]


@pytest.mark.parametrize(
    ("registered_born", "file_born"),
    [(None, date(2005, 1, 2)), (date(2005, 1, 2), None)],
    ids=["a date of birth added", "the date of birth left out"],
)
async def test_a_date_of_birth_added_or_left_out_ends_no_link(
    pool: asyncpg.Pool, registered_born: date | None, file_born: date | None
) -> None:
    """As RV004 compares them (decision 0187): a date of birth only one side gives contradicts nothing."""
    store = await _store(pool)
    registered = _learner(KEPT, "Lily", "McCarthy", registered_born)
    assert await store.register_learner(registered, registered_by_provider=SQUATTER)
    before = await _last_outbox_id(pool)

    imported = await store.register_learners([replace(registered, date_of_birth=file_born)], imported_by=OPERATOR)

    assert (imported.updated, imported.provider_links_ended) == (1, 0)
    assert await _links(pool) == [(KEPT, SQUATTER, f"provider:{SQUATTER}")]
    assert await _announced_after(pool, before) == []


async def test_a_learner_a_file_named_before_keeps_the_link_through_a_later_files_correction(
    pool: asyncpg.Pool,
) -> None:
    """Once a file has named the learner under the details the provider registered, the register has agreed the ULN
    is theirs: a later file correcting their family name or date of birth ends nothing."""
    store = await _store(pool)
    registered = _learner(KEPT, "Lily", "McCarthy", date(2005, 1, 2))
    assert await store.register_learner(registered, registered_by_provider=SQUATTER)
    confirmed = await store.register_learners([registered], imported_by=OPERATOR)  # the same details: unchanged
    assert (confirmed.unchanged, confirmed.provider_links_ended) == (1, 0)
    before = await _last_outbox_id(pool)

    married = replace(registered, family_name="Smith", date_of_birth=date(2005, 2, 1))
    imported = await store.register_learners([married], imported_by=OPERATOR)

    assert (imported.updated, imported.provider_links_ended) == (1, 0)
    assert await _links(pool) == [(KEPT, SQUATTER, f"provider:{SQUATTER}")]
    assert await _announced_after(pool, before) == []
