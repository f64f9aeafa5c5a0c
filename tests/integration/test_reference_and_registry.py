"""Reference data and the learner registry: loaded by operators, mirrored onto Kafka, used at once; a ULN
whose check digit is wrong is never registered (decision 0132)."""

from __future__ import annotations

import os
from typing import Any

import asyncpg
import pytest
from aiokafka import TopicPartition
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import log_events_of, plr, register, submit_and_wait
from tests.support.learners import corrupt_check_digit, json_batch, json_record, learners_csv, new_learner
from tests.support.waiting import eventually

from lrs_contracts.registry import decode
from lrs_contracts.topics import LEARNER_EVENTS, REFERENCE_QUALIFICATIONS, Topic
from lrs_platform.kafka import make_consumer
from lrs_platform.keyring import KEYRING_KEY_VARIABLE, Keyring, keyring_key_from
from lrs_platform.problems import PROBLEM_MEDIA_TYPE

pytestmark = pytest.mark.integration

AQA = "RN9008"
GCSE_A_TO_G = "100/5001/2"


async def _keyed_events(system: SystemUnderTest, topic: Topic, key: str) -> list[Any]:
    consumer = make_consumer(system.kafka_bootstrap, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        found: list[Any] = []
        while any([await consumer.position(tp) < end[tp] for tp in partitions]):
            for records in (await consumer.getmany(timeout_ms=500, max_records=10_000)).values():
                found.extend(decode(record.value)[1] for record in records if record.key == key.encode())
        return found
    finally:
        await consumer.stop()


async def test_an_operator_reloads_the_catalogue_and_it_is_mirrored_on_kafka(system: SystemUnderTest) -> None:
    async with await system.client("validation", "operator:tests") as client:
        response = await client.post("/v1/admin/reference/load")
    assert response.status_code == 200, response.text
    assert response.json()["qualifications"] >= 8_092
    rows = await _keyed_events(system, REFERENCE_QUALIFICATIONS, "61008187|")
    assert rows
    assert rows[-1].title.startswith("AAT Level 1 Award in Bookkeeping")
    assert rows[-1].awarding_organisation_name == "Association of Accounting Technicians"


async def test_only_operators_load_reference_data(system: SystemUnderTest) -> None:
    async with await system.client("validation", f"ao:{AQA}") as client:
        assert (await client.post("/v1/admin/reference/load")).status_code == 403
        client.headers["Authorization"] = "Bearer lrs_nope_nope"
        assert (await client.post("/v1/admin/reference/load")).status_code == 401


async def test_a_registered_learner_is_published_and_verifies_at_once(system: SystemUnderTest) -> None:
    learner = new_learner()
    async with await system.client("validation", "provider:10004567") as client:
        response = await client.post(
            "/v1/learners",
            json={
                "uln": learner["uln"],
                "given_name": learner["given_name"],
                "family_name": learner["family_name"],
                "date_of_birth": learner["date_of_birth"],
                "ability_to_share": 1,
            },
        )
    assert response.status_code == 201, response.text
    # registered a moment ago, verified now (RV004 would reject an unknown learner)
    view = await submit_and_wait(system, AQA, json_batch(AQA, [json_record(learner, GCSE_A_TO_G, "C")]))
    assert view["counts"]["accepted"] == 1

    async def published() -> list[Any] | None:
        events = await _keyed_events(system, LEARNER_EVENTS, learner["uln"])
        return events if len(events) >= 2 else None

    # the registration, then the registering provider's link (decision 0121), in the learner's order
    registered, link = await eventually(published, within=30, what="the learner's events")
    assert (registered.event_type, link.event_type) == ("lrs.learner.registered.v2", "lrs.learner.provider.linked.v1")
    assert (link.uln, link.provider_ukprn) == (learner["uln"], "10004567")


async def test_a_uln_whose_check_digit_is_wrong_is_never_registered(system: SystemUnderTest) -> None:
    learner, bystander = new_learner(), new_learner()
    mistyped = {**learner, "uln": corrupt_check_digit(learner["uln"])}
    async with await system.client("validation", "provider:10004567") as client:
        registered = await client.post(
            "/v1/learners", json={key: mistyped[key] for key in ("uln", "given_name", "family_name", "date_of_birth")}
        )
    async with await system.client("validation", "operator:tests") as client:
        imported = await client.post(
            "/v1/learners/import", content=learners_csv([bystander, mistyped]), headers={"Content-Type": "text/csv"}
        )
    for refused in (registered, imported):
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
        for personal in (mistyped["given_name"], mistyped["family_name"], mistyped["date_of_birth"]):
            assert personal not in refused.text
    assert registered.json()["code"] == "RV002"  # as every route naming a ULN answers it
    assert "The ULN's check digit is wrong (RV002)" in registered.json()["detail"]
    assert imported.json()["detail"] == "line 3: ULN is not a valid ULN"  # the file refused whole

    pool = await asyncpg.create_pool(system.database_url, min_size=1, max_size=1)
    try:
        ulns = [mistyped["uln"], bystander["uln"]]
        assert await pool.fetchval("SELECT count(*) FROM validation.learners WHERE uln = ANY($1::text[])", ulns) == 0
        keyring = Keyring(pool, keyring_key_from(os.environ[KEYRING_KEY_VARIABLE]))
        assert await keyring.find([mistyped["uln"]]) == {}  # refused at the door: no key made for it either
    finally:
        await pool.close()

    # the learner's real ULN registers, and their batch is accepted
    async with await system.client("validation", "provider:10004567") as client:
        corrected = await client.post(
            "/v1/learners", json={key: learner[key] for key in ("uln", "given_name", "family_name", "date_of_birth")}
        )
    assert corrected.status_code == 201, corrected.text
    view = await submit_and_wait(system, AQA, json_batch(AQA, [json_record(learner, GCSE_A_TO_G, "C")]))
    assert view["counts"]["accepted"] == 1


async def test_a_learner_changes_only_their_own_sharing(system: SystemUnderTest) -> None:
    learner, other = new_learner(), new_learner()
    await register(system, [learner, other])
    async with await system.client("validation", f"learner:{learner['uln']}") as client:
        own = await client.post(f"/v1/learners/{learner['uln']}/sharing", json={"ability_to_share": 2})
        theirs = await client.post(f"/v1/learners/{other['uln']}/sharing", json={"ability_to_share": 2})
    assert own.status_code == 204
    assert theirs.status_code == 403


async def test_a_record_for_a_merged_uln_lands_on_the_master(system: SystemUnderTest) -> None:
    master, merged = new_learner(), new_learner()
    await register(system, [master, merged])
    async with await system.client("validation", "operator:tests") as client:
        response = await client.post(f"/v1/learners/{master['uln']}/merge", json={"merged_uln": merged["uln"]})
    assert response.status_code == 204, response.text

    view = await submit_and_wait(system, AQA, json_batch(AQA, [json_record(merged, GCSE_A_TO_G, "B")]))
    assert view["counts"]["accepted"] == 1
    [(_, event)] = await log_events_of(system, view["batch_id"])
    assert event.key.uln == master["uln"]
    events = (await plr(system, master["uln"], after_batch=view["batch_id"]))["learning_events"]
    assert [item["grade"] for item in events] == ["B"]
