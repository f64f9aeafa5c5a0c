"""Following a batch through the projector's log lines (incident walk, finding 2): `batch_events_projected` counts as
`events` only the batch's own events now on learners' records (applied, or copies of ones that were), and apart
those `held` behind a poison, `parked` and `skipped`; an event an operator skipped is counted to the batch it names
itself, never to another batch applied in the same step. Each event held behind a poison says so once,
`message_held`, with its batch, place, event id and the masked learner (no full ULN)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import MutableMapping
from typing import Any

from structlog.testing import capture_logs

from plr_projector.consumer import Runner
from plr_projector.projection import (
    PLR_TOPIC,
    BatchChanges,
    OperatorAction,
    Parked,
    Snapshot,
    decode_message,
    decode_plain_achievements,
    project_batch,
    project_plain,
)

from .log_messages import ULN, event_value, log_message, project, recorded
from .runners import live_runner

MORNING = uuid.UUID(int=7)
SAMPLE = uuid.UUID(int=8)
OTHER_ULN = "1000000051"


def _projected_lines(changes: BatchChanges) -> list[MutableMapping[str, Any]]:
    with capture_logs() as logs:
        live_runner().account(changes, 0.01)
    return [log for log in logs if log["event"] == "batch_events_projected"]


def test_an_event_held_behind_a_poison_is_counted_held_not_projected() -> None:
    poison = log_message(PLR_TOPIC, ULN, b"garbage", 0)
    held = log_message(PLR_TOPIC, ULN, event_value(recorded(batch=7, line=5), 1), 1)
    applied = log_message(PLR_TOPIC, OTHER_ULN, event_value(recorded(OTHER_ULN, batch=7, line=4), 2), 2)

    changes = project([poison, held, applied])

    (said,) = _projected_lines(changes)
    assert said["batch_id"] == str(MORNING)
    assert (said["events"], said["held"], said["parked"], said["skipped"]) == (1, 1, 0, 0)


def test_a_poison_an_operator_skips_is_not_counted_to_the_batch_whose_held_event_it_releases() -> None:
    # the operator's skip of SAMPLE's poison (as the drill's, refused by the read model; skipped, it is not read): MORNING's event held behind it is applied in the same step
    poison = log_message(PLR_TOPIC, ULN, event_value(recorded(batch=8, line=1), 0), 0)
    held = log_message(PLR_TOPIC, ULN, event_value(recorded(batch=7, line=5), 1), 1)
    skip = {poison.position: OperatorAction("skip")}

    changes = project_batch(Snapshot(), [decode_message(message, skip) for message in (poison, held)])

    (said,) = _projected_lines(changes)
    assert said["batch_id"] == str(MORNING)
    assert (said["events"], said["held"], said["parked"], said["skipped"]) == (1, 0, 0, 0)
    assert changes.batch_outcomes[(SAMPLE, "skipped")] == 1  # counted to its own batch, which applied nothing


def test_copies_of_applied_events_count_as_projected() -> None:
    first = log_message(PLR_TOPIC, ULN, event_value(recorded(batch=7, line=1), 0), 0)
    again = log_message(PLR_TOPIC, ULN, event_value(recorded(batch=7, line=1), 0), 1)

    (said,) = _projected_lines(project([first, again]))

    assert (said["events"], said["held"]) == (2, 0)


def test_the_plain_path_counts_each_batch_s_events_as_the_full_path_does() -> None:
    messages = [
        log_message(PLR_TOPIC, ULN, event_value(recorded(batch=7, line=1), 0), 0),
        log_message(PLR_TOPIC, OTHER_ULN, event_value(recorded(OTHER_ULN, batch=8, line=1), 1), 1),
    ]
    plain = decode_plain_achievements(messages, {}, {})
    assert plain is not None

    folded = project_plain(Snapshot(), plain)

    assert folded is not None
    assert folded.batch_outcomes == project(messages).batch_outcomes
    assert dict(folded.batch_outcomes) == {(MORNING, "applied"): 1, (SAMPLE, "applied"): 1}


def test_each_held_event_is_logged_once_with_its_batch_and_the_learner_masked() -> None:
    runner: Runner = live_runner()  # typed: mypy reads this directory's helpers as Any
    held = log_message(PLR_TOPIC, ULN, event_value(recorded(batch=7, line=5), 24), 24, partition=1)
    changes = BatchChanges(
        parked=[
            Parked(
                message=held,
                reason="blocked",
                error=None,
                event_id=uuid.UUID(int=25),
                event_type="lrs.achievement.recorded.v1",
                value=held.value,
                batch_id=MORNING,
            )
        ]
    )

    async def applied(*_: Any, **__: Any) -> BatchChanges:
        return changes

    runner._apply_once = applied  # type: ignore[method-assign]

    with capture_logs() as logs:
        asyncio.run(runner._apply([held], {}, None))

    (line,) = [log for log in logs if log["event"] == "message_held"]
    assert line["batch_id"] == str(MORNING)
    assert (line["topic"], line["partition"], line["offset"]) == (PLR_TOPIC, 1, 24)
    assert line["event_id"] == str(uuid.UUID(int=25))
    assert line["uln"] == "******0043"
    assert ULN not in str(line)
    assert not [log for log in logs if log["event"] == "message_parked"]  # a held event is no poison


def test_a_step_that_applies_a_batch_s_event_below_its_mark_still_names_the_batch() -> None:
    # the held event of a batch whose later lines were applied before: its skip-released application raises no mark
    released = BatchChanges()
    released.batch_outcomes[(MORNING, "applied")] = 1
    released.batch_outcomes[(SAMPLE, "skipped")] = 1

    (said,) = _projected_lines(released)

    assert said["batch_id"] == str(MORNING)
    assert (said["events"], said["skipped"]) == (1, 0)
