"""A provider's centre report sent once its learner's erasure has answered 201, on real Kafka and PostgreSQL: refused
410 `LEARNER_ERASED` with nothing put on the log, though the projector has not read `LearnerErased` yet. The route
asks validation's registry (`validation.learner_erased`, decision 0184) just before it publishes, not only its read
model, which learns of an erasure as late as the projection's lag on the learner topic (a rebuild's switch, a
catch-up after a restart, a parked learner event). On the cluster the projector's role may call that function, and
read nothing else of validation's (validation's migration 0129)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition
from tests.integration.test_credentials_as_the_database_owner import live_roles_sql
from tests.support.learners import new_learner
from tests.support.projector import (
    LEARNERS,
    PARTITIONS,
    PLR,
    App,
    create_topics,
    linked,
    new_prefix,
    project,
    record,
    registered,
    running_projector,
)

import validation.migrations
from lrs_contracts.learner import LearnerErased
from lrs_domain.reference import Learner
from lrs_platform.authentication import current_principal
from lrs_platform.database import apply_migrations
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.keyring import Keyring, KeyringKey, migrate
from validation.api import router
from validation.learner_registry import LearnerRegistry

pytestmark = pytest.mark.integration

OPERATOR = "operator:dpo"
PROVIDER = "provider:10004567"
CENTRE = "/v1/centre/achievements"
ROLES = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "base" / "postgres" / "roles.yaml"
GRANT = Path(validation.migrations.__file__).with_name("0129_learner_erased_asked_by_the_plr_projector.sql")


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
    """A projector and validation's erasure endpoint on one database, as on the cluster. Validation's outbox is
    relayed by nobody here: the projector never reads the `LearnerErased` the erasure queues."""
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
            running_projector(fresh_database_url, kafka_bootstrap, prefix) as projector,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation") as client,
        ):
            yield Services(projector, prefix, registry, client)
    finally:
        await pool.close()


async def _plr_log_ends(bootstrap: str, prefix: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(prefix + PLR, partition) for partition in range(PARTITIONS)]
        return {tp.partition: offset for tp, offset in (await consumer.end_offsets(partitions)).items()}
    finally:
        await consumer.stop()


async def _report(app: App, body: dict[str, str], key: str | None) -> httpx.Response:
    async with await app.client(PROVIDER) as client:
        return await client.post(CENTRE, json=body, headers={} if key is None else {"Idempotency-Key": key})


async def test_a_report_sent_once_the_erasure_answered_is_refused_though_the_projector_has_not_read_it(
    services: Services, kafka_bootstrap: str
) -> None:
    app, prefix = services.projector, services.prefix
    uln = new_learner()["uln"]
    await services.registry.register_learners([Learner(uln, "Bea", "Test", None, 0, 1)], imported_by=OPERATOR)
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [record(registered(uln), uln, topic=LEARNERS), record(linked(uln, PROVIDER), uln, topic=LEARNERS, sequence=1)],
    )
    report = {"uln": uln, "qualification_number": "603/3796/5", "subject": "Polymer Operations", "grade": "Merit"}
    sent_before = f"centre-{uuid.uuid4()}"
    before = await _report(app, report, sent_before)
    assert before.status_code == 202, before.text  # the registry asked, and the learner not erased

    erasure = await services.validation.post(f"/v1/admin/learners/{uln}/erasure", json={"reason": "asked"})
    assert erasure.status_code == 201, erasure.text
    ends = await _plr_log_ends(kafka_bootstrap, prefix)
    # a report without a key, one with a new key, and the report sent before under its key again
    after = [
        await _report(app, {**report, "subject": "Polymer Ops, resit after illness"}, None),
        await _report(app, {**report, "subject": "Polymer Ops, resit after illness"}, f"centre-{uuid.uuid4()}"),
        await _report(app, report, sent_before),
    ]

    for refused in after:
        assert refused.status_code == 410, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "LEARNER_ERASED"
    # the retry of a report taken before the erasure (its first answer lost) is told it was taken, not that nothing was
    assert "report_id" not in after[1].json()
    assert after[2].json()["report_id"] == before.json()["report_id"]
    assert "was taken" in after[2].json()["detail"]
    assert await _plr_log_ends(kafka_bootstrap, prefix) == ends  # nothing about them put on the log
    connection = await asyncpg.connect(app.database_url)
    try:  # refused by the registry's word: the read model knows of no erasure
        assert await connection.fetchval("SELECT count(*) FROM plr.erased_learners") == 0
    finally:
        await connection.close()

    # once the projector has read the erasure it refuses at once, and still names the report the key sent before
    erased = LearnerErased(uln=uln, erasure_id=uuid.uuid4(), erased_by=OPERATOR, erased_at=datetime.now(UTC))
    await project(app, kafka_bootstrap, prefix, [record(erased, uln, topic=LEARNERS, sequence=2)])
    again = await _report(app, report, sent_before)
    assert (again.status_code, again.json()["code"]) == (410, "LEARNER_ERASED")
    assert again.json()["report_id"] == before.json()["report_id"]
    unknown = await _report(app, report, f"centre-{uuid.uuid4()}")
    assert unknown.status_code == 410 and "report_id" not in unknown.json()


def _prefixed(sql: str, prefix: str, database: str) -> str:
    """`sql` with the manifests' roles named with `prefix` (roles are the whole server's, and tests share it) and
    its database `database`, as test_credentials_as_the_database_owner.py runs roles.sql."""
    sql = re.sub(r"\bDATABASE lrs\b", f'DATABASE "{database}"', sql)
    return re.sub(r"\blrs(_[a-z_]+)?\b", lambda role: f"{prefix}{role.group(0)}", sql)


async def test_the_projectors_role_may_ask_whether_a_learner_was_erased_and_read_nothing_else_of_validations(
    fresh_database_url: str,
) -> None:
    """As CloudNativePG makes the cluster (roles.sql), validation migrated as its role; migration 0129 run with the
    roles' names as this test's: the projector's role asks `learner_erased`, reads no table of validation's and may
    not ask `learner_registered`."""
    database = fresh_database_url.rsplit("/", 1)[1]
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    owner, validation_role, projector_role = (
        f"{prefix}{role}" for role in ("lrs", "lrs_validation", "lrs_plr_projector")
    )
    erased, kept = new_learner()["uln"], new_learner()["uln"]
    admin = await asyncpg.connect(fresh_database_url)
    try:
        await admin.execute(f'CREATE ROLE {owner} LOGIN; ALTER DATABASE "{database}" OWNER TO {owner}')
        await admin.execute(f'REVOKE CONNECT ON DATABASE "{database}" FROM PUBLIC')
        await admin.execute(
            _prefixed(
                live_roles_sql(yaml.safe_load(ROLES.read_text(encoding="utf-8"))["data"]["roles.sql"]), prefix, database
            )
        )
        await admin.execute(f"ALTER ROLE {validation_role} LOGIN; ALTER ROLE {projector_role} LOGIN")
    finally:
        await admin.close()
    as_role = fresh_database_url.replace("://postgres@", "://{}@")
    connection = await asyncpg.connect(as_role.format(validation_role))
    try:
        await apply_migrations(connection, "validation", "validation.migrations")
        async with connection.transaction():
            await connection.execute("SET LOCAL search_path TO validation, public")
            await connection.execute(_prefixed(GRANT.read_text(encoding="utf-8"), prefix, database))
        await connection.execute(
            "INSERT INTO validation.erasures VALUES (gen_random_uuid(), $1, 'operator:dpo', 'asked', now())", erased
        )
    finally:
        await connection.close()

    connection = await asyncpg.connect(as_role.format(projector_role))
    try:
        assert await connection.fetchval("SELECT validation.learner_erased($1)", erased) is True
        assert await connection.fetchval("SELECT validation.learner_erased($1)", kept) is False
        for refused in ("SELECT * FROM validation.erasures", "SELECT * FROM validation.learners"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.fetch(refused)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.fetchval("SELECT validation.learner_registered($1)", kept)
    finally:
        await connection.close()
