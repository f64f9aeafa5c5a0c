"""Erasure in the validation service (decision 0080), on real PostgreSQL and Kafka: the operator's
endpoint and its audit, the registry refusing an erased ULN, sealed registrations on the learner
topic, and the decider rejecting what it cannot verify (RV004) without stopping the batch. A ULN
that cannot be the learner meant (a wrong check digit, or nothing held about it) is never erased
(decision 0132)."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import codes_of, record_outcomes, register, submit_and_wait
from tests.support.databases import create_database, unique_name
from tests.support.kafka import send
from tests.support.learners import corrupt_check_digit, json_batch, json_record, new_learner
from tests.support.waiting import eventually

from lrs_contracts.batch import (
    BatchFormat,
    BatchHeader,
    BatchRecordsSubmitted,
    BatchSubmissionCompleted,
    BatchSubmitted,
    JobType,
    SubmittedRecord,
)
from lrs_contracts.envelope import Contract
from lrs_contracts.environments import LIVE_TOPICS
from lrs_contracts.learner import LearnerErased, LearnerRegistered, LearnerRegisteredV1
from lrs_contracts.outcomes import BatchCompleted, BatchRecordsDecided
from lrs_contracts.registry import decode, encode, wrap
from lrs_contracts.topics import BATCH_OUTCOMES, BATCH_SUBMITTED, LEARNER_EVENTS, Topic
from lrs_domain.rules import details_do_not_match
from lrs_platform.credential_store import CredentialStore
from lrs_platform.database import apply_migrations
from lrs_platform.kafka import make_consumer
from lrs_platform.keyring import (
    ERASED,
    KEYRING_KEY_VARIABLE,
    Keyring,
    KeyringKey,
    KeyringUnavailable,
    LearnerKey,
    Purpose,
    batch_key_name,
    keyring_key_from,
    migrate,
    sealed_personal,
)
from validation.learner_registry import LearnerRegistry
from validation.personal import ERASED_LEARNER, UNREADABLE_DETAILS
from validation.sandpit import RegistryFollower

pytestmark = pytest.mark.integration

AQA = "RN9008"
GCSE_A_TO_G = "100/5001/2"
GCSE_A_TO_G_OTHER = "100/5002/4"
PEARSON = "RN9093"
PEARSON_DIPLOMA = "500/0002/0"
OPERATOR = "operator:dpo"


@pytest.fixture
async def system_pool(system: SystemUnderTest) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(system.database_url, min_size=1, max_size=2)
    assert pool is not None
    try:
        yield pool
    finally:
        await pool.close()


def _keyring(pool: asyncpg.Pool) -> Keyring:
    return Keyring(pool, keyring_key_from(os.environ[KEYRING_KEY_VARIABLE]))


async def _raw_messages(bootstrap: str, topic: Topic, key: str) -> list[bytes]:
    """Every message of `topic` keyed `key`, as the broker holds it."""
    consumer = make_consumer(bootstrap, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        found: list[bytes] = []
        while any([await consumer.position(tp) < end[tp] for tp in partitions]):
            for records in (await consumer.getmany(timeout_ms=500, max_records=10_000)).values():
                found.extend(record.value for record in records if record.key == key.encode() and record.value)
        return found
    finally:
        await consumer.stop()


async def _learner_events(system: SystemUnderTest, uln: str, within: float = 30) -> list[Any]:
    async def published() -> list[Any]:
        return [decode(raw)[1] for raw in await _raw_messages(system.kafka_bootstrap, LEARNER_EVENTS, uln)]

    return await eventually(published, within=within, what="the learner's events")


async def _erase(system: SystemUnderTest, uln: str, principal: str = OPERATOR, **body: Any) -> Any:
    async with await system.client("validation", principal) as client:
        return await client.post(f"/v1/admin/learners/{uln}/erasure", json=body or {"reason": "test learner"})


async def test_an_operator_erases_a_learner_once_with_an_audit_and_an_event(
    system: SystemUnderTest, system_pool: asyncpg.Pool
) -> None:
    learner = new_learner()
    uln = learner["uln"]
    await register(system, [learner])

    async def registration_relayed() -> bool:
        unrelayed: int = await system_pool.fetchval(
            "SELECT count(*) FROM validation.learner_outbox WHERE partition_key = $1 AND published_at IS NULL", uln
        )
        return unrelayed == 0

    await eventually(registration_relayed, within=30, what="the registration relayed to the learner topic")
    first = await _erase(system, uln, reason="loaded into production by mistake")
    assert first.status_code == 201, first.text
    erasure = first.json()
    assert (erasure["uln"], erasure["erased_by"]) == (uln, OPERATOR)
    again = await _erase(system, uln, reason="a second time")
    assert again.status_code == 200, again.text
    assert again.json() == erasure

    async with await system.client("validation", OPERATOR) as client:
        audit = (await client.get("/v1/admin/erasures", params={"uln": uln})).json()["erasures"]
    assert erasure.pop("erased_with") == []  # no other ULN of theirs
    assert audit == [{**erasure, "reason": "loaded into production by mistake"}]

    row = await system_pool.fetchrow(
        "SELECT given_name, family_name, date_of_birth, gender, erased_at FROM validation.learners WHERE uln = $1", uln
    )
    assert row is not None and row["erased_at"] is not None
    assert (row["given_name"], row["family_name"], row["date_of_birth"], row["gender"]) == (None, None, None, None)
    assert await _keyring(system_pool).find([uln]) == {uln: ERASED}

    async def erased_published() -> list[LearnerErased]:
        events = await _learner_events(system, uln)
        return [event for event in events if isinstance(event, LearnerErased)]

    [published] = await eventually(erased_published, within=30, what="LearnerErased on the learner topic")
    assert (str(published.erasure_id), published.erased_by) == (erasure["erasure_id"], OPERATOR)
    queued = await system_pool.fetchval(
        "SELECT count(*) FROM validation.learner_outbox WHERE partition_key = $1"
        " AND position('lrs.learner.erased.v1' in convert_from(envelope, 'UTF8')) > 0",
        uln,
    )
    assert queued == 1  # the second call published nothing
    relayed_registrations = await system_pool.fetchval(
        "SELECT count(*) FROM validation.learner_outbox WHERE partition_key = $1"
        " AND position('lrs.learner.registered' in convert_from(envelope, 'UTF8')) > 0",
        uln,
    )
    assert relayed_registrations == 0  # relayed before the erasure: deleted by it


async def test_only_operators_erase_and_only_well_formed_ulns(system: SystemUnderTest) -> None:
    learner = new_learner()
    await register(system, [learner])
    assert (await _erase(system, learner["uln"], principal=f"ao:{AQA}")).status_code == 403
    assert (await _erase(system, learner["uln"], principal="provider:10004567")).status_code == 403
    async with await system.client("validation", OPERATOR) as client:
        client.headers["Authorization"] = "Bearer lrs_nope_nope"
        anonymous = await client.post(f"/v1/admin/learners/{learner['uln']}/erasure", content=b"not json")
    assert anonymous.status_code == 401
    badly_formed = await _erase(system, "0123456789")
    assert badly_formed.status_code == 422
    assert badly_formed.headers["content-type"].startswith("application/problem+json")
    assert (await _erase(system, learner["uln"], reason="")).status_code == 422
    async with await system.client("validation", f"ao:{AQA}") as client:
        assert (await client.get("/v1/admin/erasures")).status_code == 403


async def test_the_erasure_audit_comes_newest_first_a_page_at_a_time(system: SystemUnderTest) -> None:
    learners = [new_learner() for _ in range(3)]
    await register(system, learners)
    for learner in learners:
        assert (await _erase(system, learner["uln"])).status_code == 201
    ours = {learner["uln"] for learner in learners}

    listed: list[dict[str, Any]] = []
    after = ""
    async with await system.client("validation", OPERATOR) as client:
        while True:
            answer = (await client.get("/v1/admin/erasures", params={"limit": 2, "after": after})).json()
            assert len(answer["erasures"]) <= 2
            listed += answer["erasures"]
            if not (after := answer["next"]):
                break
        made_up = await client.get("/v1/admin/erasures", params={"after": "2026-12-01"})

    assert len({erasure["erasure_id"] for erasure in listed}) == len(listed), "no erasure on two pages"
    assert [erasure["erased_at"] for erasure in listed] == sorted((e["erased_at"] for e in listed), reverse=True)
    assert [erasure["uln"] for erasure in listed[:3]] == [learner["uln"] for learner in reversed(learners)]
    assert ours <= {erasure["uln"] for erasure in listed}
    assert made_up.status_code == 422
    assert made_up.headers["content-type"].startswith("application/problem+json")


async def test_an_erased_uln_is_never_registered_or_merged_again(
    system: SystemUnderTest, system_pool: asyncpg.Pool
) -> None:
    learner, other, never_registered = new_learner(), new_learner(), new_learner()
    await register(system, [learner, other])
    # never registered, but an AO sent their details: ingest sealed them under a key of the learner's
    await submit_and_wait(system, AQA, json_batch(AQA, [json_record(never_registered, GCSE_A_TO_G, "C")]))
    assert isinstance(
        (await _keyring(system_pool).find([never_registered["uln"]]))[never_registered["uln"]], LearnerKey
    )
    assert (await _erase(system, learner["uln"])).status_code == 201
    held_sealed = await _erase(system, never_registered["uln"])
    assert held_sealed.status_code == 201, held_sealed.text
    assert await _keyring(system_pool).find([never_registered["uln"]]) == {never_registered["uln"]: ERASED}

    async with await system.client("validation", OPERATOR) as client:
        for erased in (learner, never_registered):
            again = await client.post(
                "/v1/learners",
                json={key: erased[key] for key in ("uln", "given_name", "family_name", "date_of_birth")},
            )
            assert again.status_code == 410, again.text
            assert again.headers["content-type"].startswith("application/problem+json")
            assert again.json()["code"] == "LEARNER_ERASED"
        imported = await client.post(
            "/v1/learners/import",
            content=f"ULN,GivenName,FamilyName,DateOfBirth,Gender,AbilityToShare,MasterULN\n{learner['uln']},A,B,,0,1,\n",
            headers={"Content-Type": "text/csv"},
        )
        assert imported.status_code == 410, imported.text
        merged = await client.post(f"/v1/learners/{other['uln']}/merge", json={"merged_uln": learner["uln"]})
        assert merged.status_code == 410, merged.text


async def _nothing_done_for(system: SystemUnderTest, pool: asyncpg.Pool, uln: str) -> None:
    """No audit row, no key or tombstone and no registry row for the ULN: the refused erasure left no trace."""
    async with await system.client("validation", OPERATOR) as client:
        audit = await client.get("/v1/admin/erasures", params={"uln": uln})
    assert audit.json()["erasures"] == []
    assert await _keyring(pool).find([uln]) == {}
    assert await pool.fetchval("SELECT count(*) FROM validation.learners WHERE uln = $1", uln) == 0
    assert await pool.fetchval("SELECT count(*) FROM validation.learner_outbox WHERE partition_key = $1", uln) == 0


async def test_an_erasure_of_a_uln_whose_check_digit_is_wrong_is_refused_and_the_learner_meant_stays(
    system: SystemUnderTest, system_pool: asyncpg.Pool
) -> None:
    learner = new_learner()
    await register(system, [learner])
    mistyped = corrupt_check_digit(learner["uln"])
    for uln in (mistyped, "1000000044", "1234567890"):
        refused = await _erase(system, uln, reason="asked for by the learner")
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        problem = refused.json()
        assert (problem["code"], problem["title"]) == ("RV002", "Invalid ULN")
        assert "check digit is wrong" in problem["detail"] and "Nothing was erased" in problem["detail"]
    await _nothing_done_for(system, system_pool, mistyped)

    # the learner meant is as they were: registered, their key whole, and erasable by their real ULN
    row = await system_pool.fetchrow(
        "SELECT given_name, erased_at FROM validation.learners WHERE uln = $1", learner["uln"]
    )
    assert row is not None and (row["given_name"], row["erased_at"]) == (learner["given_name"], None)
    assert isinstance((await _keyring(system_pool).find([learner["uln"]]))[learner["uln"]], LearnerKey)
    assert (await _erase(system, learner["uln"])).status_code == 201

    # an AO's batch mistypes the ULN: its record is RV002, and the learner's details it carried were sealed under
    # the batch's own key, destroyed once it was decided (decision 0175): no key of the typo's holds them, so there
    # is nothing to erase
    typo = {**new_learner(), "uln": mistyped}
    view = await submit_and_wait(system, AQA, json_batch(AQA, [json_record(typo, GCSE_A_TO_G, "C")]))
    assert view["counts"]["rejected"] == 1
    keyring, its_key = _keyring(system_pool), batch_key_name(uuid.UUID(view["batch_id"]))
    assert mistyped not in await keyring.find([mistyped])
    assert (await keyring.find([its_key])).get(its_key) is ERASED
    refused = await _erase(system, mistyped, reason="details sent under a mistyped ULN")
    assert refused.status_code == 422 and "sealed under that batch's own key" in refused.json()["detail"]
    # a later batch mistyping it the same way is told of its typo alone
    again = await submit_and_wait(system, AQA, json_batch(AQA, [json_record(typo, GCSE_A_TO_G, "B")]))
    [outcome] = await record_outcomes(system, AQA, again["batch_id"])
    assert codes_of(outcome) == ["RV002"], outcome


async def test_an_erasure_of_a_uln_the_lrs_holds_nothing_for_is_refused_and_the_uln_stays_registrable(
    system: SystemUnderTest, system_pool: asyncpg.Pool
) -> None:
    never_seen = new_learner()
    uln = never_seen["uln"]
    refused = await _erase(system, uln, reason="asked for by the learner")
    assert refused.status_code == 404, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["title"] == "No learner held with this ULN"
    assert "Nothing was erased" in refused.json()["detail"]
    await _nothing_done_for(system, system_pool, uln)
    assert (await _erase(system, uln)).status_code == 404  # asked again: still nothing held, nothing done

    # the real learner registers later, and their batch is accepted: the mistake locked no one out
    async with await system.client("validation", "provider:10004567") as client:
        registered = await client.post(
            "/v1/learners", json={key: never_seen[key] for key in ("uln", "given_name", "family_name", "date_of_birth")}
        )
    assert registered.status_code == 201, registered.text
    view = await submit_and_wait(system, AQA, json_batch(AQA, [json_record(never_seen, GCSE_A_TO_G, "C")]))
    assert view["counts"]["accepted"] == 1


async def test_a_registration_on_the_learner_topic_holds_the_details_sealed(
    system: SystemUnderTest, system_pool: asyncpg.Pool
) -> None:
    learner = new_learner(given_name="Zebedee", family_name="Quillfeather", date_of_birth="2003-04-05")
    async with await system.client("validation", "provider:10004567") as client:
        response = await client.post(
            "/v1/learners",
            json={key: learner[key] for key in ("uln", "given_name", "family_name", "date_of_birth")},
        )
    assert response.status_code == 201, response.text

    async def raw() -> list[bytes] | None:
        messages = await _raw_messages(system.kafka_bootstrap, LEARNER_EVENTS, learner["uln"])
        return messages if len(messages) >= 2 else None

    # the registration, then the registering provider's link (decision 0121), which holds nothing personal
    message, _ = await eventually(raw, within=30, what="the registration on the topic")
    for personal in (b"Zebedee", b"Quillfeather", b"2003-04-05"):
        assert personal not in message
    registered = decode(message)[1]
    assert isinstance(registered, LearnerRegistered)
    [key] = (await _keyring(system_pool).find([learner["uln"]])).values()
    assert isinstance(key, LearnerKey)
    opened = key.open_json(Purpose.LEARNER_REGISTRATION, registered.personal)
    assert opened == {
        "given_name": "Zebedee",
        "family_name": "Quillfeather",
        "date_of_birth": "2003-04-05",
        "gender": 0,
    }


async def test_a_record_of_an_erased_learner_is_rejected_rv004_saying_erased_only_to_an_ao_holding_theirs(
    system: SystemUnderTest,
) -> None:
    """docs/privacy.md: no AO can probe ULNs for erasures. AQA, which recorded an achievement for the learner, is told
    its record is an erased learner's (as its view's `learner_erased` says); Pearson, which holds nothing of
    theirs, gets RV004 as for details that do not match a registered learner (decision 0157)."""
    erased, others = new_learner(), [new_learner() for _ in range(3)]
    await register(system, [erased, *others])
    recorded = await submit_and_wait(system, AQA, json_batch(AQA, [json_record(erased, GCSE_A_TO_G, "C")]))
    assert recorded["counts"]["accepted"] == 1
    assert (await _erase(system, erased["uln"])).status_code == 201

    said: dict[str, list[tuple[str, str]]] = {}
    for ao_id, qualification, grade, award_date in (
        (AQA, GCSE_A_TO_G_OTHER, "B", "2024-08-22"),
        (PEARSON, PEARSON_DIPLOMA, "Distinction", "2013-07-02"),
    ):
        records = [json_record(learner, qualification, grade, awardDate=award_date) for learner in (*others, erased)]
        view = await submit_and_wait(system, ao_id, json_batch(ao_id, records))
        assert (view["counts"]["accepted"], view["counts"]["rejected"]) == (3, 1), (ao_id, view)
        outcomes = await record_outcomes(system, ao_id, view["batch_id"])
        [rejected] = [outcome for outcome in outcomes if codes_of(outcome)]
        said[ao_id] = [(error["code"], error["message"]) for error in rejected["errors"]]

    assert said == {
        AQA: [("RV004", ERASED_LEARNER)],
        PEARSON: [("RV004", details_do_not_match(erased["uln"]))],
    }


def _submission(batch_id: uuid.UUID, records: list[SubmittedRecord]) -> list[Contract]:
    return [
        BatchSubmitted(
            batch_id=batch_id,
            ao_id=AQA,
            header=BatchHeader(awarding_organisation=AQA, job_type=JobType.FINAL, notification_email="r@example.org"),
            format=BatchFormat.JSON,
            record_count=len(records),
            content_sha256="0" * 64,
            size_bytes=1,
            submitted_by=f"ao:{AQA}",
            received_at=datetime.now(UTC),
        ),
        BatchRecordsSubmitted(batch_id=batch_id, ao_id=AQA, chunk_index=0, records=tuple(records)),
        BatchSubmissionCompleted(batch_id=batch_id, ao_id=AQA, record_count=len(records), chunk_count=1),
    ]


async def test_a_tampered_seal_rejects_its_record_rv004_and_the_batch_is_decided(
    system: SystemUnderTest, system_pool: asyncpg.Pool
) -> None:
    learners = [new_learner() for _ in range(4)]
    await register(system, learners)
    keys = await _keyring(system_pool).issue(learner["uln"] for learner in learners)
    records = []
    for line, learner in enumerate(learners, start=1):
        key = keys[learner["uln"]]
        assert isinstance(key, LearnerKey)
        personal = sealed_personal(key, Purpose.SUBMITTED_RECORD, {**learner, "gender": None})
        records.append(
            SubmittedRecord(
                line=line,
                action="Create",
                uln=learner["uln"],
                personal=personal,
                qualification_number=GCSE_A_TO_G,
                award_date="2024-08-22",
                grade="C",
            )
        )
    tampered = records[-1].personal
    assert tampered is not None
    flipped = "A" if tampered[-3] != "A" else "B"
    records[-1] = records[-1].model_copy(update={"personal": tampered[:-3] + flipped + tampered[-2:]})
    batch_id = uuid.uuid4()
    await send(
        system.kafka_bootstrap,
        LIVE_TOPICS.of(BATCH_SUBMITTED),
        [
            (AQA.encode(), encode(wrap(payload, source="ingest", correlation_id=str(batch_id))))
            for payload in _submission(batch_id, records)
        ],
    )

    async def decided() -> list[Any] | None:
        events = [decode(raw)[1] for raw in await _raw_messages(system.kafka_bootstrap, BATCH_OUTCOMES, str(batch_id))]
        return events if any(isinstance(event, BatchCompleted) for event in events) else None

    events = await eventually(decided, within=60, what="the batch decided")
    [completed] = [event for event in events if isinstance(event, BatchCompleted)]
    assert (completed.counts.accepted, completed.counts.rejected) == (3, 1)
    outcomes = [outcome for event in events if isinstance(event, BatchRecordsDecided) for outcome in event.outcomes]
    [rejected] = [outcome for outcome in outcomes if outcome.errors]
    assert rejected.line == 4
    assert [(error.code, error.message) for error in rejected.errors] == [("RV004", UNREADABLE_DETAILS)]


def on_learner_topic(offset: int, event: Contract, uln: str) -> ConsumerRecord[bytes, bytes]:
    value = encode(wrap(event, source="validation", correlation_id="c"))
    return ConsumerRecord(
        topic=LEARNER_EVENTS.name,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=uln.encode(),
        value=value,
        checksum=None,
        serialized_key_size=10,
        serialized_value_size=len(value),
        headers=(),
    )


async def _validation_database(database_url: str, label: str) -> asyncpg.Pool:
    """A new database as validation makes it at start: its schema, the learner key store and the API keys."""
    pool = await asyncpg.create_pool(await create_database(database_url, unique_name(label)), min_size=1, max_size=2)
    assert pool is not None
    async with pool.acquire() as connection:
        await apply_migrations(connection, "validation", "validation.migrations")
    await migrate(pool)
    await CredentialStore(pool).migrate()
    return pool


async def test_an_erasure_under_another_keyring_key_is_refused_and_changes_nothing(database_url: str) -> None:
    pool = await _validation_database(database_url, "wrongkey")
    try:
        uln, right_key = new_learner()["uln"], KeyringKey.generate()
        await Keyring(pool, right_key).issue([uln])
        with pytest.raises(KeyringUnavailable):
            await LearnerRegistry(pool, Keyring(pool, KeyringKey.generate())).erase(uln, OPERATOR, "mistake")
        assert await pool.fetchval("SELECT count(*) FROM validation.erasures") == 0
        assert isinstance((await Keyring(pool, right_key).find([uln]))[uln], LearnerKey)
    finally:
        await pool.close()


@pytest.fixture
async def live_and_sandpit(database_url: str) -> AsyncIterator[tuple[asyncpg.Pool, asyncpg.Pool]]:
    """Two validation databases, each with its own learner key store: live's, and the Sandpit's."""
    pools = [await _validation_database(database_url, label) for label in ("live", "sandpit")]
    try:
        yield pools[0], pools[1]
    finally:
        for pool in pools:
            await pool.close()


async def test_the_sandpit_copy_opens_live_registrations_and_forgets_an_erased_learner(
    live_and_sandpit: tuple[asyncpg.Pool, asyncpg.Pool],
) -> None:
    live, sandpit = live_and_sandpit
    live_keys, sandpit_keys = _keyring(live), _keyring(sandpit)
    follower = RegistryFollower(sandpit, "127.0.0.1:1", LIVE_TOPICS, live_keys, sandpit_keys)
    sealed, in_clear = new_learner(), new_learner()
    live_key = (await live_keys.issue([sealed["uln"]]))[sealed["uln"]]
    assert isinstance(live_key, LearnerKey)
    details = {"given_name": "Ada", "family_name": "Byron", "date_of_birth": "2001-02-03", "gender": 2}
    registered = LearnerRegistered(
        uln=sealed["uln"], personal=sealed_personal(live_key, Purpose.LEARNER_REGISTRATION, details)
    )
    older = LearnerRegisteredV1(uln=in_clear["uln"], given_name="Grace", family_name="Hopper")
    await follower.apply([on_learner_topic(0, registered, sealed["uln"]), on_learner_topic(1, older, in_clear["uln"])])
    copied = {
        row["uln"]: (row["given_name"], row["family_name"], row["date_of_birth"], row["gender"])
        for row in await sandpit.fetch("SELECT * FROM validation.learners")
    }
    assert copied == {
        sealed["uln"]: ("Ada", "Byron", date(2001, 2, 3), 2),
        in_clear["uln"]: ("Grace", "Hopper", None, 0),
    }

    assert isinstance((await sandpit_keys.issue([sealed["uln"]]))[sealed["uln"]], LearnerKey)  # Sandpit ingest's
    erased = LearnerErased(uln=sealed["uln"], erasure_id=uuid.uuid4(), erased_by=OPERATOR, erased_at=datetime.now(UTC))
    await follower.apply([on_learner_topic(2, erased, sealed["uln"])])
    row = await sandpit.fetchrow("SELECT * FROM validation.learners WHERE uln = $1", sealed["uln"])
    assert row is not None and row["erased_at"] is not None
    assert (row["given_name"], row["family_name"], row["date_of_birth"], row["gender"]) == (None, None, None, None)
    assert await _keyring(sandpit).find([sealed["uln"]]) == {sealed["uln"]: ERASED}  # a fresh cache: the store says so
    assert await sandpit_keys.find([sealed["uln"]]) == {sealed["uln"]: ERASED}

    await follower.apply([on_learner_topic(3, registered, sealed["uln"])])  # replayed: stays erased
    assert await sandpit.fetchval("SELECT given_name FROM validation.learners WHERE uln = $1", sealed["uln"]) is None


async def test_erasing_any_ulns_of_a_merged_learner_erases_all_of_them(
    system: SystemUnderTest, system_pool: asyncpg.Pool
) -> None:
    # chain: first ← second ← third (third merged into second, second into first), and a bystander
    first, second, third, bystander = (new_learner() for _ in range(4))
    await register(system, [first, second, third, bystander])
    async with await system.client("validation", OPERATOR) as client:
        for master, merged in ((first, second), (second, third)):
            answer = await client.post(f"/v1/learners/{master['uln']}/merge", json={"merged_uln": merged["uln"]})
            assert answer.status_code in (200, 201, 204), answer.text

    for learner in (first, third, bystander):  # their own API keys, as an operator issues a learner's
        await system.key_for(f"learner:{learner['uln']}")

    erased = await _erase(system, second["uln"], reason="a test learner loaded into production")
    assert erased.status_code == 201, erased.text
    live_keys = await system_pool.fetch(
        "SELECT principal FROM identity.credentials WHERE principal = ANY($1::text[]) AND revoked_at IS NULL",
        [f"learner:{learner['uln']}" for learner in (first, third, bystander)],
    )
    assert [row["principal"] for row in live_keys] == [f"learner:{bystander['uln']}"]  # the erased learner's end
    assert erased.json()["erased_with"] == sorted(
        [first["uln"], third["uln"]]
    )  # the operator is told, not left to find

    group = [learner["uln"] for learner in (first, second, third)]
    rows = await system_pool.fetch(
        "SELECT uln, given_name, erased_at FROM validation.learners WHERE uln = ANY($1::text[]) ORDER BY uln",
        [*group, bystander["uln"]],
    )
    assert {row["uln"]: (row["given_name"], row["erased_at"] is not None) for row in rows} == {
        **{uln: (None, True) for uln in group},
        bystander["uln"]: (bystander["given_name"], False),
    }
    assert await _keyring(system_pool).find(group) == dict.fromkeys(group, ERASED)
    audit = await system_pool.fetch(
        "SELECT uln, reason FROM validation.erasures WHERE uln = ANY($1::text[])", [*group, bystander["uln"]]
    )
    assert sorted((row["uln"], row["reason"]) for row in audit) == sorted(
        (uln, "a test learner loaded into production") for uln in group
    )
    for uln in group:
        events = await eventually(
            functools.partial(_erased_events, system, uln), within=30, what="LearnerErased for every ULN of the learner"
        )
        assert len(events) == 1
    # erasing another of their ULNs now is the erasure already done
    again = await _erase(system, first["uln"])
    assert (again.status_code, again.json()["erased_with"]) == (200, sorted([second["uln"], third["uln"]]))


async def _erased_events(system: SystemUnderTest, uln: str) -> list[LearnerErased] | None:
    events = [event for event in await _learner_events(system, uln) if isinstance(event, LearnerErased)]
    return events or None


async def test_operators_see_and_rotate_how_learner_keys_are_wrapped(system: SystemUnderTest) -> None:
    """The endpoints of decision 0116 (the rotation itself: tests/integration/test_keyring.py). The system
    under test wraps with the derived key, so every stored key is already wrapped as it should be."""
    await register(system, [new_learner()])  # at least one stored key
    async with await system.client("validation", OPERATOR) as client:
        seen = (await client.get("/v1/admin/keyring")).json()
        rewrapped = await client.post("/v1/admin/keyring/rewrap", params={"at_most": 10})
        too_many = await client.post("/v1/admin/keyring/rewrap", params={"at_most": 0})
    assert seen["wrap_with"] == 0 and seen["keys_by_wrapping_key"]["0"] >= 1 and seen["to_rewrap"] == 0
    assert rewrapped.status_code == 200 and rewrapped.json()["rewrapped"] == 0
    assert too_many.status_code == 422
    for principal in (f"ao:{AQA}", "provider:10004567"):
        async with await system.client("validation", principal) as client:
            assert (await client.get("/v1/admin/keyring")).status_code == 403
            assert (await client.post("/v1/admin/keyring/rewrap")).status_code == 403
