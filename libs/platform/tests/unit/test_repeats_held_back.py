"""A client library's repeating line (aiokafka's "Unable connect to node with id 1", ~100 a second while the
broker is away) is let through once a minute per logger and message, saying how many like it were held back."""

from __future__ import annotations

import logging
import time

from lrs_platform.logging import RepeatsHeldBack


def _line(name: str, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


def test_a_repeat_within_the_minute_is_held_back_and_counted_in_the_next_let_through() -> None:
    held_back = RepeatsHeldBack(("aiokafka",), every_seconds=0.05)
    lines = [_line("aiokafka.conn", "Unable connect to node with id %s", 1) for _ in range(4)]

    assert [held_back.filter(line) for line in lines[:3]] == [True, False, False]

    time.sleep(0.06)
    assert held_back.filter(lines[3])
    assert lines[3].getMessage().startswith("Unable connect to node with id 1 [and 2 more like it in the last ")


def test_other_messages_and_other_loggers_pass() -> None:
    held_back = RepeatsHeldBack(("aiokafka",))
    assert held_back.filter(_line("aiokafka.conn", "Unable connect to node with id %s", 1))
    assert held_back.filter(_line("aiokafka.consumer.group_coordinator", "Group Coordinator Request failed"))
    assert all(held_back.filter(_line("validation.decider", "batch_decided")) for _ in range(3))
