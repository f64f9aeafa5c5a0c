"""An operator ends a provider's link to a learner: `DELETE /v1/admin/learners/{uln}/providers/{ukprn}` (`lrs learners
unlink ULN --ukprn N`), the counterpart of `POST /v1/admin/learners/{uln}/providers` (decision 0121). It ends the provider's
links under every ULN of the learner (a merged learner is one person), whoever made them, and announces each on the
learner log as `lrs.learner.provider.unlinked.v1`, as a learner file or a merge ending a registration's link does: the
PLR projector deletes the link and the provider's read is refused again. Where the provider's own registration of a
ULN made its link, that ULN's learner keys are revoked, as `_end_registrations_links` revokes them (`revoked_by` says
which operator's unlink); a ULN whose link an operator made keeps its keys. No such link: 404, nothing changed."""

from __future__ import annotations

import uuid
from datetime import date
from functools import partial

import asyncpg
import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import register
from tests.support.databases import prepare_validation_database
from tests.support.learners import new_learner
from tests.support.waiting import eventually

from lrs_contracts.learner import LearnerProviderUnlinked
from lrs_contracts.registry import decode
from lrs_domain.reference import Learner
from lrs_platform.credential_store import CredentialStore, IssuedKey
from lrs_platform.identity import Principal, PrincipalKind
from lrs_platform.keyring import Keyring, KeyringKey
from lrs_platform.problems import PROBLEM_MEDIA_TYPE
from validation.learner_registry import LearnerRegistry, ProvidersLinksEnded, UnknownLearnerError, unlink_revoker

pytestmark = pytest.mark.integration

OPERATOR = "operator:ops"


def _provider() -> str:
    return f"provider:{uuid.uuid4().int % 10**8:08d}"


async def _plr_read(system: SystemUnderTest, provider: str, uln: str) -> tuple[int, str | None]:
    async with await system.client("plr-projector", provider) as client:
        answer = await client.get(f"/v1/learners/{uln}/plr")
    problem = answer.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    return answer.status_code, answer.json().get("code") if problem else None


async def _reads(system: SystemUnderTest, provider: str, ulns: list[str], expected: tuple[int, str | None]) -> bool:
    return all([await _plr_read(system, provider, uln) == expected for uln in ulns])


async def test_an_operator_ends_a_providers_link_to_a_merged_learner_and_the_provider_is_refused_their_plr(
    system: SystemUnderTest,
) -> None:
    master, merged = new_learner(), new_learner()
    await register(system, [master, merged])
    provider, kept = _provider(), _provider()
    ukprn = provider.partition(":")[2]
    async with await system.client("validation", "operator:tests") as operator:
        merging = await operator.post(f"/v1/learners/{master['uln']}/merge", json={"merged_uln": merged["uln"]})
        assert merging.status_code == 204, merging.text
        # linked under both ULNs, and another provider under the master
        for uln, who in ((merged["uln"], provider), (master["uln"], provider), (master["uln"], kept)):
            linked = await operator.post(f"/v1/admin/learners/{uln}/providers", json={"ukprn": who.partition(":")[2]})
            assert linked.status_code == 204, linked.text
    ulns = [master["uln"], merged["uln"]]
    assert await eventually(partial(_reads, system, provider, ulns, (200, None)), within=30, what="the links read")
    async with await system.client("validation", f"learner:{master['uln']}") as themself:
        assert (await themself.get(f"/v1/learners/{master['uln']}/sharing")).status_code == 200

    async with await system.client("validation", "operator:tests") as operator:
        unlinked = await operator.delete(f"/v1/admin/learners/{master['uln']}/providers/{ukprn}")
        assert unlinked.status_code == 200, unlinked.text
        # operator-made links under both ULNs: no learner key revoked with them
        assert unlinked.json() == {"ukprn": ukprn, "links_ended": 2, "learner_keys_revoked": 0}
        listed = await operator.get(f"/v1/learners/{merged['uln']}/providers")
        again = await operator.delete(f"/v1/admin/learners/{merged['uln']}/providers/{ukprn}")
    assert [each["ukprn"] for each in listed.json()["providers"]] == [kept.partition(":")[2]]
    assert again.status_code == 404, again.text
    assert again.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert again.json()["title"] == "Provider not linked"

    # the projector follows the learner log: the provider is refused under either ULN, the other provider reads on
    assert await eventually(
        partial(_reads, system, provider, ulns, (403, "PROVIDER_NOT_LINKED")), within=30, what="the links ended"
    )
    assert await _reads(system, kept, ulns, (200, None))
    async with await system.client("validation", provider) as unlinked_provider:
        sharing = await unlinked_provider.get(f"/v1/learners/{master['uln']}/sharing")
    assert (sharing.status_code, sharing.json()["code"]) == (403, "PROVIDER_NOT_LINKED")
    # links an operator made: the learner's own key is kept
    async with await system.client("validation", f"learner:{master['uln']}") as themself:
        assert (await themself.get(f"/v1/learners/{master['uln']}/sharing")).status_code == 200


async def test_an_unlink_by_a_caller_not_an_operator_is_refused_and_changes_nothing(system: SystemUnderTest) -> None:
    learner = new_learner()
    provider = _provider()
    ukprn = provider.partition(":")[2]
    async with await system.client("validation", provider) as client:
        registering = await client.post(
            "/v1/learners",
            json={key: learner[key] for key in ("uln", "given_name", "family_name", "date_of_birth")},
        )
        assert registering.status_code == 201, registering.text
        own = await client.delete(f"/v1/admin/learners/{learner['uln']}/providers/{ukprn}")
    async with await system.client("validation", f"learner:{learner['uln']}") as themself:
        theirs = await themself.delete(f"/v1/admin/learners/{learner['uln']}/providers/{ukprn}")
    for answer in (own, theirs):
        assert answer.status_code == 403, answer.text
        assert answer.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    async with await system.client("validation", "operator:tests") as operator:
        listed = await operator.get(f"/v1/learners/{learner['uln']}/providers")
    assert [each["ukprn"] for each in listed.json()["providers"]] == [ukprn]


# The registry itself, on PostgreSQL: what an unlink deletes, announces and revokes.

MASTER, MERGED, OTHER = "1000000043", "7770000016", "5550005009"
SQUATTER, VOUCHED = "10009998", "10004567"


async def _registry(pool: asyncpg.Pool) -> tuple[LearnerRegistry, CredentialStore]:
    """`MERGED`, registered by `SQUATTER`, merged into `MASTER` (imported), to which an operator linked `SQUATTER` and
    `VOUCHED`; `OTHER`, registered by `SQUATTER`, another learner."""
    await prepare_validation_database(pool)
    registry = LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))
    await registry.register_learners([Learner(MASTER, "Amelia", "Real", date(2004, 3, 2), 2, 1)], imported_by=OPERATOR)
    for uln in (MERGED, OTHER):
        assert await registry.register_learner(Learner(uln, "Amelia", "Real", None, 0, 1), SQUATTER)
    assert await registry.merge(MASTER, MERGED, merged_by=OPERATOR)
    for ukprn in (SQUATTER, VOUCHED):
        await registry.link_provider(MASTER, ukprn, linked_by=OPERATOR)
    return registry, CredentialStore(pool)


async def _learner_key(store: CredentialStore, uln: str) -> IssuedKey:
    return await store.issue(Principal(PrincipalKind.LEARNER, uln))


async def _works(pool: asyncpg.Pool, key: IssuedKey) -> bool:
    return await CredentialStore(pool).authenticate(key.token) is not None  # a fresh store: nothing cached


async def _announced(pool: asyncpg.Pool, after: int) -> list[object]:
    rows = await pool.fetch("SELECT envelope FROM validation.learner_outbox WHERE id > $1 ORDER BY id", after)
    return [decode(row["envelope"])[1] for row in rows]


async def test_an_unlink_ends_the_providers_links_under_every_uln_announces_each_and_revokes_as_an_import_does(
    pool: asyncpg.Pool,
) -> None:
    registry, store = await _registry(pool)
    master_key, merged_key, other_key = [await _learner_key(store, uln) for uln in (MASTER, MERGED, OTHER)]
    before = await pool.fetchval("SELECT coalesce(max(id), 0) FROM validation.learner_outbox")

    ended = await registry.unlink_provider(MERGED, SQUATTER, unlinked_by=unlink_revoker(OPERATOR, SQUATTER))

    assert ended == ProvidersLinksEnded((MASTER, MERGED), 1)
    assert await registry.linked_providers([MASTER, MERGED]) == {VOUCHED}
    assert await registry.linked_providers([OTHER]) == {SQUATTER}  # another learner's link stays
    assert await _announced(pool, before) == [
        LearnerProviderUnlinked(uln=MASTER, provider_ukprn=SQUATTER),
        LearnerProviderUnlinked(uln=MERGED, provider_ukprn=SQUATTER),
    ]
    # the ULN whose link the provider's registration made loses its keys; the one an operator linked keeps them
    assert not await _works(pool, merged_key)
    assert await _works(pool, master_key) and await _works(pool, other_key)
    [revoked] = [each for each in await store.listing(include_revoked=True) if each.key_id == merged_key.key_id]
    assert revoked.revoked_by == (
        f"validation: registration link ended by {OPERATOR} (unlink of provider {SQUATTER}) (decision 0121)"
    )

    # again: nothing to end, nothing announced
    after = await pool.fetchval("SELECT max(id) FROM validation.learner_outbox")
    assert await registry.unlink_provider(MASTER, SQUATTER, unlinked_by=OPERATOR) == ProvidersLinksEnded((), 0)
    assert await _announced(pool, after) == []


async def test_an_unlink_under_a_uln_never_registered_is_refused(pool: asyncpg.Pool) -> None:
    registry, _ = await _registry(pool)

    with pytest.raises(UnknownLearnerError):
        await registry.unlink_provider("1026893096", SQUATTER, unlinked_by=OPERATOR)


async def test_the_provider_unlinked_is_told_registering_again_changes_nothing(pool: asyncpg.Pool) -> None:
    """Its registration no longer links it: registering the ULN again links no one."""
    registry, _ = await _registry(pool)
    await registry.unlink_provider(OTHER, SQUATTER, unlinked_by=OPERATOR)

    assert not await registry.register_learner(Learner(OTHER, "Amelia", "Real", None, 0, 1), SQUATTER)
    assert await registry.linked_providers([OTHER]) == frozenset()
    assert await registry.providers_linked_by_registration([OTHER]) == frozenset()
