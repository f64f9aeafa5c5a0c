"""A process out of file descriptors (EMFILE) logs asyncio's "socket.accept() out of system resource", traceback and
all, up to its listen backlog (2,048) times a second, ~1 MB of log a second that rotates away the lines explaining it
(the exhaust walk, finding 2): asyncio's repeated lines are held back as aiokafka's and asyncpg's are."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from lrs_platform.logging import configure_logging, get_logger


async def _accept_loop_out_of_descriptors(times: int) -> None:
    """What asyncio's `_accept_connection` reports at each EMFILE (selector_events.py), through the loop's default
    exception handler, which logs it on the `asyncio` logger."""
    loop = asyncio.get_running_loop()
    with socket.socket() as listening:
        for _ in range(times):
            loop.call_exception_handler(
                {
                    "message": "socket.accept() out of system resource",
                    "exception": OSError(24, "Too many open files"),
                    "socket": listening,
                }
            )


def test_asyncio_s_accept_errors_are_let_through_once_and_the_service_s_own_lines_all(
    configured_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("probe", "info", json=True)
    asyncio.run(_accept_loop_out_of_descriptors(50))
    for _ in range(3):
        get_logger("probe").info("batch_received")

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    accept_errors = [line for line in lines if "socket.accept() out of system resource" in line["event"]]
    assert len(accept_errors) == 1
    assert accept_errors[0]["logger"] == "asyncio"
    assert "Too many open files" in accept_errors[0]["exception"]
    assert [line["event"] for line in lines if line.get("service") == "probe" and "logger" not in line] == [
        "batch_received"
    ] * 3
