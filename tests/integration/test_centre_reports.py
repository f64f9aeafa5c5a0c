"""Centre reports on real Kafka and PostgreSQL: an Idempotency-Key answers one report only, and survives a
rebuild switch; an erased learner's provider is refused before anything reaches the log."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from tests.support.projector import (
    LEARNERS,
    PARTITIONS,
    PLR,
    T0,
    App,
    linked,
    project,
    record,
    registered,
    uln_for,
)
from tests.support.waiting import eventually

from lrs_contracts.learner import LearnerErased

pytestmark = pytest.mark.integration

OPERATOR = "operator:ops-tests"
PROVIDER = "provider:10007001"
CENTRE = "/v1/centre/achievements"


def _new_uln() -> str:
    return uln_for(uuid.uuid4().int % 50_000_000)


async def _linked_learner(app: App, bootstrap: str, prefix: str, provider: str = PROVIDER) -> str:
    uln = _new_uln()
    await project(
        app,
        bootstrap,
        prefix,
        [record(registered(uln), uln, topic=LEARNERS), record(linked(uln, provider), uln, topic=LEARNERS, sequence=1)],
    )
    return uln


async def _report(app: App, body: dict[str, Any], key: str | bytes | None, provider: str = PROVIDER) -> httpx.Response:
    raw = key.encode() if isinstance(key, str) else key  # bytes: a header that is not ASCII, as some clients send
    headers = [] if raw is None else [(b"Idempotency-Key", raw)]
    async with await app.client(provider) as client:
        return await client.post(CENTRE, json=body, headers=headers)


async def _plr_log_ends(bootstrap: str, prefix: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(prefix + PLR, partition) for partition in range(PARTITIONS)]
        return {tp.partition: offset for tp, offset in (await consumer.end_offsets(partitions)).items()}
    finally:
        await consumer.stop()


async def _centre_grades(app: App, uln: str, min_offsets: str) -> list[str | None]:
    read = await app.get(f"learner:{uln}", f"/v1/learners/{uln}/plr", min_offsets=min_offsets, wait_ms=20_000)
    assert read.status_code == 200, read.text
    return [
        supporting["grade"]
        for event in read.json()["learning_events"]
        for supporting in [event, *event.get("supporting_records", [])]
        if supporting["source"] == "ILR"
    ]


async def test_a_key_sent_again_answers_its_report_and_is_refused_for_another(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    uln = await _linked_learner(app, kafka_bootstrap, prefix)
    report = {"uln": uln, "qualification_number": "600/1166/X", "subject": "Maths (college)", "grade": "B"}
    key = f"centre-{uuid.uuid4()}"

    first = await _report(app, report, key)
    assert first.status_code == 202, first.text
    ends = await _plr_log_ends(kafka_bootstrap, prefix)
    # the same report, its JSON spelt otherwise: the same answer, and nothing more on the log
    again = await _report(app, {**dict(reversed(report.items())), "qualification_number": "6001166X"}, key)
    assert again.status_code == 202, again.text
    assert again.json() == first.json()
    other = await _report(app, {**report, "grade": "C"}, key)
    another_learner = await _linked_learner(app, kafka_bootstrap, prefix)
    for_another_learner = await _report(app, {**report, "uln": another_learner}, key)
    assert await _plr_log_ends(kafka_bootstrap, prefix) == ends

    for refused in (other, for_another_learner):
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["title"] == "Idempotency-Key already used for a different report"
        assert (refused.json()["code"], refused.json()["report_id"]) == (
            "IDEMPOTENCY_KEY_REUSED",
            first.json()["report_id"],
        )
        assert first.json()["report_id"] in refused.json()["detail"]
    assert await _centre_grades(app, uln, first.json()["min_offsets"]) == ["B"]
    new_key = await _report(app, {**report, "grade": "C"}, f"centre-{uuid.uuid4()}")
    assert new_key.status_code == 202, new_key.text
    assert new_key.json()["report_id"] != first.json()["report_id"]


async def test_two_providers_may_send_the_same_key_and_each_gets_its_own_report(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    """A key is the provider's own: another provider's report under the same key is neither answered nor named."""
    app, prefix = projector
    other_provider = f"provider:1{uuid.uuid4().int % 10**7:07d}"
    uln = await _linked_learner(app, kafka_bootstrap, prefix)
    other_uln = await _linked_learner(app, kafka_bootstrap, prefix, other_provider)
    key = f"centre-{uuid.uuid4()}"

    first = await _report(app, {"uln": uln, "qualification_number": "600/1166/X", "grade": "B"}, key)
    second = await _report(
        app, {"uln": other_uln, "qualification_number": "600/1166/X", "grade": "B"}, key, other_provider
    )

    assert (first.status_code, second.status_code) == (202, 202), (first.text, second.text)
    report_id, other_report_id = first.json()["report_id"], second.json()["report_id"]
    assert report_id != other_report_id
    assert other_report_id not in first.text and report_id not in second.text
    assert await _centre_grades(app, other_uln, second.json()["min_offsets"]) == ["B"]


async def test_one_key_sent_twice_at_once_with_two_reports_takes_one_of_them(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    uln = await _linked_learner(app, kafka_bootstrap, prefix)
    report = {"uln": uln, "qualification_number": "600/1166/X"}
    key = f"centre-{uuid.uuid4()}"
    same = await asyncio.gather(*(_report(app, report, key) for _ in range(3)))
    assert [answer.status_code for answer in same] == [202] * 3, [answer.text for answer in same]
    assert len({answer.json()["report_id"] for answer in same}) == 1

    raced_key = f"centre-{uuid.uuid4()}"
    raced = await asyncio.gather(*(_report(app, {**report, "grade": grade}, raced_key) for grade in ("A", "B")))
    assert sorted(answer.status_code for answer in raced) == [202, 409], [answer.text for answer in raced]
    (taken,) = [answer for answer in raced if answer.status_code == 202]
    taken_grade = "A" if taken is raced[0] else "B"
    # one row per provider and qualification: the later report replaced the first
    assert await _centre_grades(app, uln, taken.json()["min_offsets"]) == [taken_grade]


@pytest.mark.parametrize("key", ["   ", "", "caf\u00e9".encode(), "two words"], ids=["blank", "empty", "utf8", "space"])
async def test_a_key_that_is_not_visible_ascii_is_refused(
    projector: tuple[App, str], kafka_bootstrap: str, key: str | bytes
) -> None:
    app, prefix = projector
    uln = await _linked_learner(app, kafka_bootstrap, prefix)
    ends = await _plr_log_ends(kafka_bootstrap, prefix)
    refused = await _report(app, {"uln": uln, "qualification_number": "600/1166/X"}, key)
    assert refused.status_code == 400, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "visible ASCII" in refused.json()["detail"]
    assert await _plr_log_ends(kafka_bootstrap, prefix) == ends


async def test_an_erased_learner_gets_no_centre_report_and_an_unlinked_provider_learns_nothing(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    uln = await _linked_learner(app, kafka_bootstrap, prefix)
    erased = LearnerErased(uln=uln, erasure_id=uuid.uuid4(), erased_by=OPERATOR, erased_at=T0)
    await project(app, kafka_bootstrap, prefix, [record(erased, uln, topic=LEARNERS, sequence=2)])
    ends = await _plr_log_ends(kafka_bootstrap, prefix)
    report = {"uln": uln, "qualification_number": "600/1166/X", "subject": "Maths for Jo Bloggs"}

    refused = await _report(app, report, None)
    keyed = await _report(app, report, f"centre-{uuid.uuid4()}")
    unlinked = await _report(app, report, None, provider="provider:10007002")

    for answer in (refused, keyed):
        assert answer.status_code == 410, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == "LEARNER_ERASED"
    assert (unlinked.status_code, unlinked.json()["code"]) == (403, "PROVIDER_NOT_LINKED")
    assert await _plr_log_ends(kafka_bootstrap, prefix) == ends


async def test_the_keys_and_erasures_outlive_a_rebuild_that_matches_the_live_model(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    uln, erased_uln = (
        await _linked_learner(app, kafka_bootstrap, prefix),
        await _linked_learner(app, kafka_bootstrap, prefix),
    )
    erasure = LearnerErased(uln=erased_uln, erasure_id=uuid.uuid4(), erased_by=OPERATOR, erased_at=T0)
    await project(app, kafka_bootstrap, prefix, [record(erasure, erased_uln, topic=LEARNERS, sequence=2)])
    report = {"uln": uln, "qualification_number": "600/1166/X", "grade": "B"}
    key = f"centre-{uuid.uuid4()}"
    first = await _report(app, report, key)
    assert first.status_code == 202, first.text
    assert (await _report(app, {**report, "grade": "C"}, key)).status_code == 409
    assert await _centre_grades(app, uln, first.json()["min_offsets"]) == ["B"]

    started = await app.post(OPERATOR, "/v1/admin/rebuild", workers=1)
    assert started.status_code == 202, started.text

    async def caught_up() -> bool:
        return bool((await app.get(OPERATOR, "/v1/admin/rebuild")).json()["state"] == "caught_up")

    await eventually(caught_up, within=120, what="rebuild caught up")
    comparison = (await app.post(OPERATOR, "/v1/admin/rebuild/compare")).json()
    assert comparison["identical"] is True, comparison
    assert comparison["counts"]["live"]["erased_learners"] == 1
    switched = await app.post(OPERATOR, "/v1/admin/rebuild/switch")
    assert switched.status_code == 200, switched.text

    again = await _report(app, report, key)
    assert (again.status_code, again.json()["report_id"]) == (202, first.json()["report_id"])
    assert (await _report(app, {**report, "grade": "C"}, key)).status_code == 409
    erased = await _report(app, {**report, "uln": erased_uln}, None)
    assert (erased.status_code, erased.json()["code"]) == (410, "LEARNER_ERASED")
