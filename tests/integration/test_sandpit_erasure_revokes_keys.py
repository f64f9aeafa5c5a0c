"""A live erasure ends the learner's Sandpit API keys too (decisions 0060, 0184): the Sandpit's copy of the live
registry revokes every `learner:<uln>` key in the Sandpit's key store as it copies `lrs.learner.erased.v1`, each
ULN merged with the learner by its own erasure, in the transaction that marks them erased. Copied again (a
redelivery, a replay from the start) it changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from tests.integration.test_validation_erasure import on_learner_topic
from tests.support.databases import prepare_validation_database
from tests.support.learners import new_learner

from lrs_contracts.environments import LIVE_TOPICS, Environment
from lrs_contracts.learner import LearnerErased, LearnerRegisteredV1, LearnersMerged
from lrs_platform.credential_store import CredentialStore
from lrs_platform.database import create_pool
from lrs_platform.identity import Principal, PrincipalKind
from lrs_platform.keyring import Keyring, KeyringKey
from validation.sandpit import RegistryFollower

pytestmark = pytest.mark.integration

OPERATOR = "operator:dpo"


@pytest.fixture
async def sandpit(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """The Sandpit's database as its validation makes it at start: validation's schema, its learner key store and
    the Sandpit's API keys (`identity`)."""
    pool = await create_pool(fresh_database_url, max_size=2)
    try:
        await prepare_validation_database(pool)
        await CredentialStore(pool, environment=Environment.SANDPIT).migrate()
        yield pool
    finally:
        await pool.close()


def _erasure(uln: str) -> LearnerErased:
    return LearnerErased(uln=uln, erasure_id=uuid.uuid4(), erased_by=OPERATOR, erased_at=datetime.now(UTC))


async def _revocations(pool: asyncpg.Pool, *key_ids: str) -> dict[str, datetime | None]:
    rows = await pool.fetch(
        "SELECT key_id, revoked_at FROM identity.credentials WHERE key_id = ANY($1::text[])", list(key_ids)
    )
    return {row["key_id"]: row["revoked_at"] for row in rows}


async def test_a_live_erasure_revokes_the_learners_sandpit_keys_merged_ulns_too_once(sandpit: asyncpg.Pool) -> None:
    keys = Keyring(sandpit, KeyringKey.generate())  # registrations in clear: no live key is looked up
    follower = RegistryFollower(sandpit, "127.0.0.1:1", LIVE_TOPICS, keys, keys)
    master, merged, other = (new_learner()["uln"] for _ in range(3))
    await follower.apply(
        [
            *(
                on_learner_topic(offset, LearnerRegisteredV1(uln=uln, given_name="Ada", family_name="Byron"), uln)
                for offset, uln in enumerate((master, merged, other))
            ),
            on_learner_topic(3, LearnersMerged(master_uln=master, merged_uln=merged), master),
        ]
    )
    store = CredentialStore(sandpit, environment=Environment.SANDPIT)
    # each labelled as an operator might: the label is free text that `lrs --sandpit credentials list` shows
    master_key, merged_key, other_key = [
        await store.issue(Principal(PrincipalKind.LEARNER, uln), "Ada Byron's phone") for uln in (master, merged, other)
    ]
    assert await store.authenticate(master_key.token) is not None  # made before the erasure, it works

    # live erased the learner: one erasure per ULN, the merged one's too, each on its own key of the log
    erasures = [on_learner_topic(4, _erasure(master), master), on_learner_topic(5, _erasure(merged), merged)]
    await follower.apply(erasures)

    erased_at = await sandpit.fetch(
        "SELECT uln FROM validation.learners WHERE erased_at IS NOT NULL AND uln = ANY($1::text[])",
        [master, merged, other],
    )
    assert {row["uln"] for row in erased_at} == {master, merged}
    fresh = CredentialStore(sandpit, environment=Environment.SANDPIT)  # no cache of the key before
    assert await fresh.authenticate(master_key.token) is None
    assert await fresh.authenticate(merged_key.token) is None
    other_principal = await fresh.authenticate(other_key.token)
    assert other_principal is not None and other_principal.id == other
    revoked = await _revocations(sandpit, master_key.key_id, merged_key.key_id, other_key.key_id)
    assert revoked[master_key.key_id] is not None and revoked[merged_key.key_id] is not None
    assert revoked[other_key.key_id] is None
    # each revocation says why, as `lrs --sandpit credentials list` shows it
    [master_listed] = await fresh.listing(principal=Principal(PrincipalKind.LEARNER, master), include_revoked=True)
    assert master_listed.revoked_by == "validation (Sandpit's registry copy): the learner was erased live"
    # and keeps no label (the learner's name may be in it); the other learner's key keeps its own
    labels = await sandpit.fetch(
        "SELECT key_id, label FROM identity.credentials WHERE key_id = ANY($1::text[])",
        [master_key.key_id, merged_key.key_id, other_key.key_id],
    )
    assert {row["key_id"]: row["label"] for row in labels} == {
        master_key.key_id: None,
        merged_key.key_id: None,
        other_key.key_id: "Ada Byron's phone",
    }

    await follower.apply(erasures)  # redelivered: the revocations stand as they were
    assert await _revocations(sandpit, master_key.key_id, merged_key.key_id, other_key.key_id) == revoked
