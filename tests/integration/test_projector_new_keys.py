"""While polls bring new achievements only, the projector folds the next poll without looking at the
rows at its keys (decision 0102). A poll that meets a stored achievement after all is folded again
with it: the model is row for row the one projected in one poll, and nothing is parked."""

from __future__ import annotations

import uuid

import pytest
from tests.support.databases import create_database, unique_name
from tests.support.projector import (
    Events,
    Record,
    caught_up,
    create_topics,
    dump_model,
    ends_of,
    new_prefix,
    project,
    record,
    running_projector,
    uln_for,
)
from tests.support.waiting import eventually

from lrs_contracts.plr import ResultStatus

pytestmark = pytest.mark.integration


async def test_a_poll_that_meets_stored_achievements_is_folded_with_them(
    kafka_bootstrap: str, database_url: str
) -> None:
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    suffix = uuid.uuid4().int % 1_000_000
    first, second, third, fourth = (uln_for(suffix + number) for number in range(4))
    provisional, final, later = Events(), Events(), Events()
    polls: list[list[Record]] = [
        # new keys only: the next poll is folded as if none of its keys had a row
        [
            record(provisional.recorded(uln, status=ResultStatus.PROVISIONAL), uln, partition=0)
            for uln in (first, second)
        ],
        # the first learner's achievement is stored: its copy fails, and the poll is folded again
        [
            record(final.recorded(first, grade="8"), first, partition=0),
            record(final.recorded(third), third, partition=0),
        ],
        [record(final.recorded(fourth), fourth, partition=0)],  # new keys only, as the first poll
        # a withdrawal the fold refuses without the stored row: it looks at the row before it decides
        [record(later.withdrawn(second), second, partition=0)],
    ]
    one_at_a_time = await create_database(database_url, unique_name("polls"))
    async with running_projector(one_at_a_time, kafka_bootstrap, prefix) as app:
        for poll in polls:
            await project(app, kafka_bootstrap, prefix, poll)
    in_one_poll = await create_database(database_url, unique_name("whole"))
    ends = ends_of([(0, sum(len(poll) for poll in polls) - 1)])
    async with running_projector(in_one_poll, kafka_bootstrap, prefix):
        await eventually(lambda: caught_up(in_one_poll, ends), within=60, what="projection of the log in one poll")

    model = await dump_model(one_at_a_time)
    assert model == await dump_model(in_one_poll)
    assert model["parked"] == []
    versions = {row[0]: (row[7], row[6], row[9]) for row in model["achievements"]}  # version, withdrawn, grade
    assert versions == {first: (2, False, "8"), second: (2, True, "7"), third: (1, False, "7"), fourth: (1, False, "7")}
