"""No PLR credential is signed once a learner's erasure has answered 201, on real Kafka and PostgreSQL, though the
projector has not read `LearnerErased` yet: the credential route asks validation's registry
(`validation.learner_erased`, decision 0184) for every ULN of the learner just before it signs, not only its read
model, which learns of an erasure as late as the projection's lag on the learner topic. A registry that cannot be
asked signs nothing (503), as a centre report is not taken (test_centre_report_after_erasure.py)."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from tests.support.learners import new_learner
from tests.support.projector import (
    LEARNERS,
    App,
    Events,
    create_topics,
    merged,
    new_prefix,
    project,
    record,
    registered,
    running_projector,
)

from lrs_domain.reference import Learner
from lrs_platform.authentication import current_principal
from lrs_platform.database import apply_migrations
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.keyring import Keyring, KeyringKey, migrate
from lrs_platform.problems import PROBLEM_MEDIA_TYPE
from validation.api import router
from validation.learner_registry import LearnerRegistry

pytestmark = pytest.mark.integration

OPERATOR = "operator:dpo"


def _credential(uln: str) -> str:
    return f"/v1/learners/{uln}/plr/credential"


class _NoKeys:
    """The identity store as the erasure uses it, holding no key (the keys' revocation: test_erasure.py)."""

    async def revoke_principal(self, principal: Principal, *, by: str | None = None, erased: bool = False) -> int:
        return 0


@dataclass
class Services:
    projector: App
    prefix: str
    registry: LearnerRegistry
    validation: httpx.AsyncClient


@pytest.fixture
async def services(fresh_database_url: str, kafka_bootstrap: str) -> AsyncIterator[Services]:
    """A projector that signs credentials and validation's erasure endpoint on one database, as on the cluster.
    Validation's outbox is relayed by nobody here: the projector never reads the `LearnerErased` the erasure queues."""
    pool = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=4)
    assert pool is not None
    async with pool.acquire() as connection:
        await apply_migrations(connection, "validation", "validation.migrations")
    await migrate(pool)
    registry = LearnerRegistry(pool, Keyring(pool, KeyringKey.generate()))
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse(OPERATOR)
    app.state.learner_registry = registry
    app.state.outbox_wake = asyncio.Event()
    app.state.credentials = _NoKeys()
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    try:
        async with (
            running_projector(
                fresh_database_url,
                kafka_bootstrap,
                prefix,
                credential_issuer_url="https://lrs.test",
                credential_key_encryption_key=base64.b64encode(secrets.token_bytes(32)).decode(),
            ) as projector,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation") as client,
        ):
            yield Services(projector, prefix, registry, client)
    finally:
        await pool.close()


async def _learner_with_an_achievement(services: Services, kafka_bootstrap: str, *ulns: str) -> None:
    """`ulns` registered in validation's registry and in the projector, the others merged into the first, which
    holds an achievement."""
    master = ulns[0]
    await services.registry.register_learners(
        [Learner(uln, "Bea", "Test", None, 0, 1) for uln in ulns], imported_by=OPERATOR
    )
    await project(
        services.projector,
        kafka_bootstrap,
        services.prefix,
        [
            *(record(registered(uln), uln, topic=LEARNERS) for uln in ulns),
            *(record(merged(master, other), master, topic=LEARNERS, sequence=1) for other in ulns[1:]),
            record(Events().recorded(master, grade="7"), master, sequence=2),
        ],
    )


async def _erasures_the_read_model_knows(app: App) -> int:
    connection = await asyncpg.connect(app.database_url)
    try:
        count: int = await connection.fetchval("SELECT count(*) FROM plr.erased_learners")
        return count
    finally:
        await connection.close()


def _refused_as_erased(answer: httpx.Response) -> None:
    assert answer.status_code == 410, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert answer.json()["code"] == "LEARNER_ERASED"
    assert "credential" not in answer.json()


async def test_no_credential_is_signed_once_the_erasure_answered_though_the_projector_has_not_read_it(
    services: Services, kafka_bootstrap: str
) -> None:
    app = services.projector
    uln = new_learner()["uln"]
    await _learner_with_an_achievement(services, kafka_bootstrap, uln)
    for principal in (OPERATOR, f"learner:{uln}"):
        before = await app.get(principal, _credential(uln))
        assert before.status_code == 200, before.text  # the registry asked, and the learner not erased

    erasure = await services.validation.post(f"/v1/admin/learners/{uln}/erasure", json={"reason": "asked"})
    assert erasure.status_code == 201, erasure.text

    # the operator, and a key of the learner's own that the projector still takes (its key cache)
    for principal in (OPERATOR, f"learner:{uln}"):
        _refused_as_erased(await app.get(principal, _credential(uln)))
    assert await _erasures_the_read_model_knows(app) == 0  # refused by the registry's word alone


async def test_a_learner_erased_in_the_registry_under_a_merged_uln_is_signed_for_under_none(
    services: Services, kafka_bootstrap: str
) -> None:
    app = services.projector
    master, merged_uln = new_learner()["uln"], new_learner()["uln"]
    await _learner_with_an_achievement(services, kafka_bootstrap, master, merged_uln)
    before = await app.get(f"learner:{merged_uln}", _credential(merged_uln))
    assert before.status_code == 200, before.text
    payload = before.json()["credential"].split(".")[1]
    subject = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["credentialSubject"]
    assert subject["id"].endswith(f"/v1/learners/{master}")  # every ULN listed, so a verifier finds the merged one
    assert [item["identityHash"] for item in subject["identifier"]] == [master, merged_uln]

    connection = await asyncpg.connect(app.database_url)
    try:  # the registry's record of an erasure of the merged ULN alone
        await connection.execute(
            "INSERT INTO validation.erasures VALUES (gen_random_uuid(), $1, 'operator:dpo', 'asked', now())",
            merged_uln,
        )
    finally:
        await connection.close()

    for uln in (master, merged_uln):
        _refused_as_erased(await app.get(OPERATOR, _credential(uln)))
    assert await _erasures_the_read_model_knows(app) == 0


async def test_a_registry_that_cannot_be_asked_signs_nothing(services: Services, kafka_bootstrap: str) -> None:
    app = services.projector
    uln = new_learner()["uln"]
    await _learner_with_an_achievement(services, kafka_bootstrap, uln)
    connection = await asyncpg.connect(app.database_url)
    try:  # a validation that has not migrated to the function yet
        await connection.execute("DROP FUNCTION validation.learner_erased(text)")
    finally:
        await connection.close()

    answer = await app.get(OPERATOR, _credential(uln))

    assert answer.status_code == 503, answer.text
    assert answer.json()["detail"] == (
        "Whether the learner was erased could not be asked, so no credential was signed; ask again."
    )
    assert "credential" not in answer.json()
