"""A bulk rebuild in several passes knows a copy by its batch's marks over the whole slice, as the live loop
does (decision 0097): a copy of an event an operator skipped, dropped live because a higher line of its batch
(another learner's, folded in another pass) was applied, is not folded again into a new poison head."""

from __future__ import annotations

import uuid
import zlib
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest
from tests.support.projector import (
    PLR,
    T0,
    App,
    Record,
    caught_up,
    create_topics,
    dump_model,
    ends_of_records,
    new_prefix,
    produce,
    running_projector,
    summary,
    uln_for,
)
from tests.support.waiting import eventually

from lrs_contracts.envelope import Contract
from lrs_contracts.plr import (
    AchievementData,
    AchievementKey,
    AchievementRecorded,
    AchievementUpdated,
    AchievementWithdrawn,
    Provenance,
    ResultStatus,
)
from lrs_contracts.registry import encode, wrap

pytestmark = pytest.mark.integration

OPERATOR = "operator:ops-tests"
PASSES = 2


def _pass_of(uln: str) -> int:
    return zlib.crc32(uln.encode()) % PASSES  # `rebuild.in_pass`


def _decision(payload: Contract, uln: str, second: int) -> Record:
    envelope = wrap(
        payload,
        source="validation",
        correlation_id="pass-marks",
        event_id=uuid.uuid4(),
        occurred_at=T0 + timedelta(seconds=second),
    )
    return Record(PLR, uln, encode(envelope), partition=0)


def _key(uln: str, qualification_number: str = "6001166X") -> AchievementKey:
    return AchievementKey(
        ao_id="RN5133", uln=uln, qualification_number=qualification_number, award_date=date(2024, 5, 20)
    )


def _recorded(uln: str, batch: uuid.UUID, line: int, grade: str) -> AchievementRecorded:
    return AchievementRecorded(
        achievement_id=uuid.uuid4(),
        key=_key(uln),
        data=AchievementData(grade=grade),
        status=ResultStatus.FINAL,
        qualification=summary(),
        provenance=Provenance(batch_id=batch, line=line),
    )


def _skipped_then_copied(skipped: str, other: str, second: int) -> list[Record]:
    """`skipped`'s recording; a batch whose line 1 (`skipped`'s, a withdrawal of nothing: refused, parked, then
    skipped by the operator) is followed by `other`'s line 2; the decider's copy of line 1 (same bytes); then a
    later update of `skipped`'s achievement, which the copy must not hold up."""
    achievement = _recorded(skipped, uuid.uuid4(), 1, "7")
    batch = uuid.uuid4()
    refused = _decision(
        AchievementWithdrawn(
            achievement_id=uuid.uuid4(), key=_key(skipped, "60012345"), provenance=Provenance(batch_id=batch, line=1)
        ),
        skipped,
        second + 1,
    )
    update = AchievementUpdated(
        achievement_id=achievement.achievement_id,
        key=achievement.key,
        data=AchievementData(grade="8"),
        status=ResultStatus.FINAL,
        provenance=Provenance(batch_id=uuid.uuid4(), line=1),
    )
    return [
        _decision(achievement, skipped, second),
        refused,
        _decision(_recorded(other, batch, 2, "5"), other, second + 2),
        refused,
        _decision(update, skipped, second + 3),
    ]


async def _rebuilt(app: App, database_url: str, workers: int) -> tuple[dict[str, Any], dict[str, Any], str]:
    start = await app.post(OPERATOR, "/v1/admin/rebuild", workers=workers)
    assert start.status_code == 202, start.text

    async def finished() -> dict[str, Any] | None:
        status: dict[str, Any] = (await app.get(OPERATOR, "/v1/admin/rebuild")).json()
        assert status["state"] != "failed", status
        return status if status["state"] == "caught_up" else None

    status = await eventually(finished, within=120, what=f"rebuild with {workers} workers caught up")
    schema = f"plr_rebuild_{start.json()['rebuild_id']}"
    return status, await dump_model(database_url, schema), schema


@pytest.mark.parametrize("workers", [1, 2])
async def test_a_multi_pass_rebuild_drops_the_copy_of_a_skipped_event_as_the_live_loop_does(
    fresh_database_url: str, kafka_bootstrap: str, workers: int
) -> None:
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    base = uuid.uuid4().int % 50_000_000
    ulns = [uln_for(base + index) for index in range(200)]
    # Both orders: the skipped learner's pass reads the log (and spills the other's), or reads its file.
    first = next(uln for uln in ulns if _pass_of(uln) == 0)
    second = next(uln for uln in ulns if _pass_of(uln) == 1)
    third = next(uln for uln in ulns if _pass_of(uln) == 1 and uln != second)
    fourth = next(uln for uln in ulns if _pass_of(uln) == 0 and uln != first)
    records = _skipped_then_copied(first, second, 0) + _skipped_then_copied(third, fourth, 10)
    ends = ends_of_records(records, await produce(kafka_bootstrap, prefix, records))
    # ten PLR events in partition 0: two passes of the learners of the worker reading it
    async with running_projector(
        fresh_database_url, kafka_bootstrap, prefix, rebuild_events_per_pass=len(records) // PASSES
    ) as app:
        await eventually(lambda: caught_up(fresh_database_url, ends), within=60, what="live projection")
        for skipped in (first, third):
            answer = await app.post(OPERATOR, f"/v1/admin/dlq/{skipped}/skip", {"reason": "test"}, topic=PLR)
            assert answer.status_code == 200, answer.text
        live = await dump_model(fresh_database_url)
        assert live["parked"] == []  # the copies were dropped: a higher line of their batch was applied
        # (uln, ..., version)
        assert {row[0]: row[7] for row in live["achievements"]} == {first: 2, second: 1, third: 2, fourth: 1}

        status, rebuilt, schema = await _rebuilt(app, fresh_database_url, workers)
        assert f"{PASSES}/{PASSES}" in [worker["passes"] for worker in status["workers"]], status
        assert rebuilt["parked"] == live["parked"]
        assert rebuilt == live
        comparison = (await app.post(OPERATOR, "/v1/admin/rebuild/compare")).json()
        assert comparison["identical"] is True, comparison
        connection = await asyncpg.connect(fresh_database_url)
        try:
            assert await connection.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema) == 1
        finally:
            await connection.close()
