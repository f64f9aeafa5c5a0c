"""While reporting holds messages of the topics a report is read from in its dead letters (a poison, and the later
messages of its key held behind it, such as a decided batch's outcome behind junk under its key), the report's figures
may be short of them, and every answer says so (tracer walk, finding 10): `complete` false and `held_in_dead_letters`
(how many, since when) in JSON, `X-LRS-Figures: partial` and `X-LRS-Held-In-Dead-Letters` on every answer, a CSV's
included, whose file stays as it was. A report is not said short for messages of a topic it is not read from."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from services.reporting.tests.unit.test_partial_figures import REPORTS, Read, RebuildingStore, reporting  # noqa: F401

from lrs_contracts.topics import BATCH_OUTCOMES, CHALLENGE_EVENTS, PLR_EVENTS
from reporting.store import Held

PARKED_AT = datetime(2026, 12, 8, 2, 13, 5, tzinfo=UTC)
READ_FROM = {
    "submissions": {BATCH_OUTCOMES.name},
    "timeliness": {BATCH_OUTCOMES.name},
    "rejections": {BATCH_OUTCOMES.name},
    "plr-timeliness": {BATCH_OUTCOMES.name, PLR_EVENTS.name},
    "challenges": {CHALLENGE_EVENTS.name},
}


@pytest.mark.parametrize("report", REPORTS)
async def test_a_report_whose_messages_are_held_in_dead_letters_says_its_figures_may_be_short(
    reporting: tuple[RebuildingStore, Read],  # noqa: F811
    report: str,
) -> None:
    store, read = reporting
    complete_file = (await read(report, "csv")).text
    # the junk under batch Z's key, and Z's three outcome messages held behind it
    store.held_by_topic = {topic: Held(4, PARKED_AT) for topic in READ_FROM[report]}

    answer = await read(report)
    download = await read(report, "csv")

    body = answer.json()
    held = 4 * len(READ_FROM[report])
    assert (answer.status_code, body["complete"]) == (200, False)
    assert body["held_in_dead_letters"] == {"count": held, "since": "2026-12-08T02:13:05Z"}
    assert body["items"], "the figures counted are still given"
    assert answer.headers["X-LRS-Figures"] == download.headers["X-LRS-Figures"] == "partial"
    assert answer.headers["X-LRS-Held-In-Dead-Letters"] == download.headers["X-LRS-Held-In-Dead-Letters"] == str(held)
    assert download.text == complete_file  # a CSV keeps its columns and rows: only its headers say it
    assert store.held_asked_of[-1] == READ_FROM[report]


@pytest.mark.parametrize("report", REPORTS)
async def test_messages_held_of_a_topic_a_report_is_not_read_from_leave_it_complete(
    reporting: tuple[RebuildingStore, Read],  # noqa: F811
    report: str,
) -> None:
    store, read = reporting
    others = {BATCH_OUTCOMES.name, PLR_EVENTS.name, CHALLENGE_EVENTS.name} - READ_FROM[report]
    store.held_by_topic = {topic: Held(1, PARKED_AT) for topic in others}

    answer = await read(report)
    download = await read(report, "csv")

    assert answer.json()["complete"] is True and answer.json()["held_in_dead_letters"] is None
    assert answer.headers["X-LRS-Figures"] == download.headers["X-LRS-Figures"] == "complete"
    assert "X-LRS-Held-In-Dead-Letters" not in answer.headers
    assert "X-LRS-Held-In-Dead-Letters" not in download.headers


async def test_held_messages_and_a_catch_up_are_both_said_and_asked_before_the_figures_are_read(
    reporting: tuple[RebuildingStore, Read],  # noqa: F811
) -> None:
    store, read = reporting
    store.catching_up_to = {(BATCH_OUTCOMES.name, 0): 120}
    store.held_by_topic = {BATCH_OUTCOMES.name: Held(2, PARKED_AT)}

    body = (await read("submissions")).json()

    assert body["complete"] is False and body["held_in_dead_letters"]["count"] == 2
    # asked before the figures: a message parked meanwhile is said rather than an answer read without it said whole
    assert store.asked == ["catching_up", "held", "figures"]
