"""The MI tells an AO's own answers to its learners' challenges from the LRS service desk's (an operator acting for
it): the challenge events name the principal in `causation_id`; the desk's acknowledgements and resolutions are
counted apart and its resolutions are not in the AO's working days to resolve (walk report "challenges", finding 3;
decision 0194). Real Kafka and PostgreSQL."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from tests.integration.test_notifier import bearer
from tests.integration.test_reporting import random_ao
from tests.integration.test_reporting_mi import Published, at
from tests.support.waiting import eventually

from lrs_contracts.challenge import ChallengeAcknowledged, ChallengeRaised, ChallengeResolution, ChallengeResolved
from lrs_contracts.envelope import Contract
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import CHALLENGE_EVENTS, REPORTING_CHALLENGES

pytestmark = pytest.mark.integration

JUNE = "2023-06"
DESK = "operator:desk"


async def produce(bootstrap: str, *messages: tuple[str, Contract, str, datetime]) -> None:
    """Challenge events, each with its key and the principal that caused it, as the challenges service writes them."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for message_key, payload, by, moment in messages:
            event = wrap(payload, source="challenges", correlation_id="it", causation_id=by, occurred_at=moment)
            await producer.send_and_wait(
                CHALLENGE_EVENTS.name,
                key=message_key.encode(),
                value=encode(event),
                timestamp_ms=int(moment.timestamp() * 1000),
            )
    finally:
        await producer.stop()


async def test_the_service_desks_answers_are_counted_apart_from_the_aos_own(
    kafka_bootstrap: str, reporting: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    ao = random_ao()
    by_ao = f"ao:{ao}"
    learner = "learner:1000000043"
    own, desk_resolved, desk_acknowledged, taken_over, withdrawn_for = (uuid.uuid4() for _ in range(5))
    achievement = uuid.uuid4()
    key = str(achievement)

    def ids(challenge_id: uuid.UUID) -> dict[str, object]:
        return {"challenge_id": challenge_id, "achievement_id": achievement, "ao_id": ao}

    def resolved(challenge_id: uuid.UUID, resolution: ChallengeResolution) -> ChallengeResolved:
        batch = uuid.uuid4() if resolution is ChallengeResolution.CORRECTED else None
        return ChallengeResolved(**ids(challenge_id), resolution=resolution, correcting_batch_id=batch)

    raised_at = at("2023-06-05T09:00")  # a Monday
    log: list[tuple[str, Contract, str, datetime]] = [
        (key, ChallengeRaised(**ids(c), uln="1000000043", reason_sealed="s1.c2Vh"), learner, raised_at)
        for c in (own, desk_resolved, desk_acknowledged, taken_over, withdrawn_for)
    ]
    log += [
        # the AO's own answer: 2 working days, the only one the days measure
        (key, ChallengeAcknowledged(**ids(own)), by_ao, at("2023-06-06T09:00")),
        (key, resolved(own, ChallengeResolution.UPHELD), by_ao, at("2023-06-07T09:00")),
        # the desk resolves one unacknowledged, 19 working days on: acknowledged and resolved by the desk
        (key, resolved(desk_resolved, ChallengeResolution.REJECTED), DESK, at("2023-06-30T09:00")),
        # the desk acknowledges one, still open
        (key, ChallengeAcknowledged(**ids(desk_acknowledged)), DESK, at("2023-06-06T10:00")),
        # the AO acknowledged one, the desk resolved it: the AO's acknowledgement, the desk's resolution
        (key, ChallengeAcknowledged(**ids(taken_over)), by_ao, at("2023-06-06T11:00")),
        (key, resolved(taken_over, ChallengeResolution.CORRECTED), DESK, at("2023-06-20T09:00")),
        # the desk withdraws one for its learner: a withdrawal, not an answer of anyone's
        (key, resolved(withdrawn_for, ChallengeResolution.WITHDRAWN), DESK, at("2023-06-08T09:00")),
    ]
    expected = {
        "ao_id": ao,
        "period": JUNE,
        "raised": 5,
        "acknowledged": 4,
        "resolved": 4,
        "still_open": 1,
        "resolutions": {"corrected": 1, "rejected": 1, "upheld": 1, "withdrawn": 1},
        "median_working_days_to_resolve": 2,
        "worst_working_days_to_resolve": 2,
        "acknowledged_by_service_desk": 2,
        "resolved_by_service_desk": 2,
        "event_type": "lrs.reporting.challenges.aggregated.v1",
    }
    published = await Published.watching(kafka_bootstrap, (REPORTING_CHALLENGES,))

    async def month_published() -> bool:
        return (await published.read()).get((REPORTING_CHALLENGES.name, f"{ao}|{JUNE}")) == expected

    try:
        await produce(kafka_bootstrap, *log)
        await produce(kafka_bootstrap, *log)  # redelivered: no number changes
        await eventually(month_published, within=60, what=f"the month's challenges; last seen {published.latest}")
    finally:
        await published.stop()

    as_ao = await bearer(pool, by_ao)
    [month] = (await reporting.get(f"/v1/reports/challenges?from={JUNE}", headers=as_ao)).json()["items"]
    assert month == expected
    download = await reporting.get(f"/v1/reports/challenges?from={JUNE}&format=csv", headers=as_ao)
    [row] = list(csv.DictReader(io.StringIO(download.text)))
    desk = (row["acknowledged_by_service_desk"], row["resolved_by_service_desk"])
    assert (row["acknowledged"], *desk) == ("4", "2", "2")
