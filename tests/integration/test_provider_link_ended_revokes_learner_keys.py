"""Decision 0121, later note of 2026-12-06: where the register says a ULN a provider registered is another learner (a
learner file replaces the details no file had named, or a merge into a learner registered under other details), the
ULN's `learner:<ULN>` API keys are revoked with the provider's link, in the same transaction: a key made while the ULN
held the provider's details would otherwise read the register's learner's PLR (and, merged, their master's), get a
credential of it, raise challenges and change their sharing. The Sandpit's copy of the registry revokes the Sandpit's
keys of the ULN as it copies `lrs.learner.provider.unlinked.v1`, those made by the time live ended the link only (an
event applied late leaves a key made since for the register's learner). A ULN whose link stays keeps its keys. Each
revoked key says who revoked it (`lrs credentials list`'s `revoked_by`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime

import asyncpg
import pytest
from aiokafka.structs import ConsumerRecord
from tests.integration.test_validation_erasure import on_learner_topic
from tests.support.databases import prepare_validation_database

from lrs_contracts.environments import LIVE_TOPICS, Environment
from lrs_contracts.learner import LearnerProviderUnlinked, LearnerRegisteredV1
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import LEARNER_EVENTS
from lrs_domain.reference import Learner
from lrs_platform.credential_store import CredentialStore, IssuedKey
from lrs_platform.database import create_pool
from lrs_platform.identity import Principal, PrincipalKind
from lrs_platform.keyring import Keyring, KeyringKey
from validation.learner_registry import LearnerRegistry
from validation.sandpit import RegistryFollower

pytestmark = pytest.mark.integration

REAL_ULN, SQUATTED, KEPT = "1000000043", "7770000016", "5550005009"
SQUATTER = "10009998"
OPERATOR = "operator:ops"
REAL = Learner(REAL_ULN, "Amelia", "Realperson", date(2004, 3, 2), 2, 1)
MADE_UP = Learner(SQUATTED, "Mallory", "Other", date(2005, 6, 6), 0, 1)


async def _registry(pool: asyncpg.Pool) -> tuple[LearnerRegistry, CredentialStore]:
    await prepare_validation_database(pool)
    registry = LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))
    await registry.register_learners([REAL], imported_by=OPERATOR)
    assert await registry.register_learner(MADE_UP, registered_by_provider=SQUATTER)
    # a ULN the same provider registered under the details a file then gives it: its link, and key, stay
    kept = Learner(KEPT, "Willow", "Evans", date(2006, 1, 1), 0, 1)
    assert await registry.register_learner(kept, registered_by_provider=SQUATTER)
    return registry, CredentialStore(pool)


async def _learner_key(store: CredentialStore, uln: str) -> IssuedKey:
    key = await store.issue(Principal(PrincipalKind.LEARNER, uln))
    assert await store.authenticate(key.token) is not None
    return key


async def _works(pool: asyncpg.Pool, key: IssuedKey) -> bool:
    return await CredentialStore(pool).authenticate(key.token) is not None  # a fresh store: nothing cached


async def _revoked_by(store: CredentialStore, key: IssuedKey) -> str | None:
    [stored] = [each for each in await store.listing(include_revoked=True) if each.key_id == key.key_id]
    assert stored.revoked_at is not None
    return stored.revoked_by


async def test_a_learner_file_replacing_a_provider_registered_ulns_details_revokes_its_learner_keys(
    pool: asyncpg.Pool,
) -> None:
    registry, store = await _registry(pool)
    squatted_key, kept_key, real_key = [await _learner_key(store, uln) for uln in (SQUATTED, KEPT, REAL_ULN)]

    imported = await registry.register_learners(
        [
            Learner(SQUATTED, "Genuine", "Owner", date(2006, 8, 8), 2, 1),
            Learner(KEPT, "Willow", "Evans", date(2006, 1, 1), 2, 1),
        ],
        imported_by=OPERATOR,
    )

    assert imported.provider_links_ended == 1
    assert not await _works(pool, squatted_key)
    assert await _works(pool, kept_key) and await _works(pool, real_key)
    # `lrs credentials list` says who revoked it and why
    assert (
        await _revoked_by(store, squatted_key) == f"validation: registration link ended by {OPERATOR} (decision 0121)"
    )


async def test_merging_a_provider_registered_uln_into_a_learner_under_other_details_revokes_its_learner_keys(
    pool: asyncpg.Pool,
) -> None:
    registry, store = await _registry(pool)
    squatted_key, real_key = [await _learner_key(store, uln) for uln in (SQUATTED, REAL_ULN)]

    assert await registry.merge(REAL_ULN, SQUATTED, merged_by=OPERATOR)

    assert not await _works(pool, squatted_key)  # it reached the master's record through the merge
    assert await _works(pool, real_key)
    assert await _revoked_by(store, squatted_key) == (
        f"validation: registration link ended by {OPERATOR} (merge of {SQUATTED} into {REAL_ULN}) (decision 0121)"
    )
    # a key made again by an operator after the merge (decision 0135: a merged ULN's key reads the master's) stays:
    # the merge again ends nothing
    again = await _learner_key(store, SQUATTED)
    assert not await registry.merge(REAL_ULN, SQUATTED, merged_by=OPERATOR)
    assert await _works(pool, again)


@pytest.fixture
async def sandpit(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """The Sandpit's database as its validation makes it at start, with the Sandpit's API keys."""
    pool = await create_pool(fresh_database_url, max_size=2)
    try:
        await prepare_validation_database(pool)
        await CredentialStore(pool, environment=Environment.SANDPIT).migrate()
        yield pool
    finally:
        await pool.close()


def _unlinked_at(offset: int, ended_at: datetime) -> ConsumerRecord[bytes, bytes]:
    """Live's end of SQUATTER's link to SQUATTED on the learner log, as live validation announced it at `ended_at`."""
    event = LearnerProviderUnlinked(uln=SQUATTED, provider_ukprn=SQUATTER)
    value = encode(wrap(event, source="validation", correlation_id="c", occurred_at=ended_at))
    return ConsumerRecord(
        topic=LEARNER_EVENTS.name,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=SQUATTED.encode(),
        value=value,
        checksum=None,
        serialized_key_size=10,
        serialized_value_size=len(value),
        headers=(),
    )


async def test_the_sandpits_copy_revokes_the_ulns_sandpit_learner_keys_as_it_copies_the_unlinking(
    sandpit: asyncpg.Pool,
) -> None:
    keys = Keyring(sandpit, KeyringKey.generate())  # registrations in clear: no live key is looked up
    follower = RegistryFollower(sandpit, "127.0.0.1:1", LIVE_TOPICS, keys, keys)
    await follower.apply(
        [
            on_learner_topic(offset, LearnerRegisteredV1(uln=uln, given_name="Ada", family_name="Byron"), uln)
            for offset, uln in enumerate((SQUATTED, KEPT))
        ]
    )
    store = CredentialStore(sandpit, environment=Environment.SANDPIT)
    squatted_key, kept_key = [await store.issue(Principal(PrincipalKind.LEARNER, uln)) for uln in (SQUATTED, KEPT)]
    # live ends the link now (the database's clock, which keys' `created_at` is on); the copy applies it only after
    # an operator has made the register's learner a Sandpit key (the event was parked and retried, say)
    ended_at: datetime = await sandpit.fetchval("SELECT clock_timestamp()")
    made_since = await store.issue(Principal(PrincipalKind.LEARNER, SQUATTED))

    unlinked = [_unlinked_at(2, ended_at)]
    await follower.apply(unlinked)

    fresh = CredentialStore(sandpit, environment=Environment.SANDPIT)
    assert await fresh.authenticate(squatted_key.token) is None
    assert await _revoked_by(fresh, squatted_key) == (
        f"validation (Sandpit's registry copy): provider {SQUATTER}'s registration link ended live (decision 0121)"
    )
    assert await fresh.authenticate(kept_key.token) is not None
    assert await fresh.authenticate(made_since.token) is not None  # made after live ended the link
    # redelivered (or retried from the DLQ) later still: a key made for the ULN after the first copy stays too
    again = await store.issue(Principal(PrincipalKind.LEARNER, SQUATTED))
    await follower.apply(unlinked)
    assert await fresh.authenticate(again.token) is not None
    assert await fresh.authenticate(made_since.token) is not None
