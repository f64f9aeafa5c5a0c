"""`lrs dlq show` of a projector learner retried without success: when the event was first parked (how long the
learner has been held) and when a retry last left it parked, both said (the projector keeps the first across retries)."""

from __future__ import annotations

from lrs_cli.client import Connection
from lrs_cli.dlq_commands import ParkedValue, shown_text

LIVE = Connection("lrs_k1_secret")
HEAD = {
    "topic": "lrs.plr.events.v1",
    "partition": 3,
    "offset": 28,
    "learner": "1000000043",
    "reason": "error",
    "error": "invalid: data.grade: Field required",
    "event_id": "9a0b",
    "event_type": "AchievementUpdated",
    "attempts": 2,
    "parked_at": "2026-12-06T01:17:11+00:00",
    "last_tried_at": "2026-12-06T01:19:00+00:00",
}


def _shown(message: dict[str, object]) -> ParkedValue:
    return ParkedValue(
        service="plr-projector",
        target="1000000043",
        topic=None,
        message=message,
        others=3,
        head=None,
        value=b"{}",
        media_type="application/json",
        no_value=None,
    )


def test_a_retried_events_line_says_when_it_was_first_parked_and_when_it_was_last_tried() -> None:
    lines = shown_text(_shown(HEAD), LIVE).splitlines()

    assert lines[3] == (
        "  parked     error after 2 tries, parked 2026-12-06T01:17:11+00:00, last tried 2026-12-06T01:19:00+00:00:"
        " invalid: data.grade: Field required"
    )


def test_an_event_never_retried_or_of_a_service_without_the_field_says_only_when_it_was_parked() -> None:
    for message in (HEAD | {"last_tried_at": None}, {k: v for k, v in HEAD.items() if k != "last_tried_at"}):
        lines = shown_text(_shown(message), LIVE).splitlines()
        assert lines[3] == (
            "  parked     error after 2 tries, parked 2026-12-06T01:17:11+00:00: invalid: data.grade: Field required"
        )
