"""A refused request's `http_request` line names the problem's `code`, never its detail (tracer walk, finding 6): a
learner's refused challenge was only "status 409", and the desk, given the request id, could not tell which of the
service's refusals it was. And a Kafka client's error lines are said as warnings (finding 5): aiokafka's start-up and
reconnection chatter set off an "any error line" alert at every start."""

from __future__ import annotations

import json
import logging
from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest
import structlog.testing
from fastapi.responses import JSONResponse

from lrs_platform import http
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.logging import ErrorsSaidAsWarnings, configure_logging, get_logger
from lrs_platform.problems import ProblemError

DETAIL = "learner 1060989181 has events held in the dead letters"


@pytest.fixture(autouse=True)
def uncached_request_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "_log", structlog.get_logger("lrs.http"))


async def _logged(path: str) -> MutableMapping[str, Any]:
    app = build_app("logged", title="Logged", description="", lifespan=noop_lifespan)

    @app.get("/challenges/{what}")
    async def challenge(what: str) -> object:
        if what == "held":
            raise ProblemError(409, "Conflict", DETAIL, code="EVENTS_HELD_IN_DEAD_LETTERS")
        if what == "odd":  # a problem whose code no log should hold as it is
            return JSONResponse({"code": "a code\nwith lines"}, status_code=400, media_type="application/problem+json")
        return {"state": "open"}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with structlog.testing.capture_logs() as logs:
            await client.get(path)
    (line,) = [entry for entry in logs if entry["event"] == "http_request"]
    return line


async def test_a_refusal_s_line_names_its_code_and_not_its_detail() -> None:
    line = await _logged("/challenges/held")

    assert (line["status"], line["code"]) == (409, "EVENTS_HELD_IN_DEAD_LETTERS")
    assert "1060989181" not in str(line) and "dead letters" not in str(line)


async def test_a_request_its_schema_refuses_names_the_code_too() -> None:
    assert (await _logged("/nowhere"))["code"] == "NOT_FOUND"


@pytest.mark.parametrize("path", ["/challenges/open", "/challenges/odd"])
async def test_an_answer_with_no_usable_code_names_none(path: str) -> None:
    assert "code" not in await _logged(path)


def test_the_kafka_client_s_errors_are_said_as_warnings(
    configured_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("probe", "info", json=True)
    logging.getLogger("aiokafka.cluster").error("Topic %s not found in cluster metadata", "lrs.plr.events.v1")
    logging.getLogger("aiokafka.consumer.group_coordinator").error("Group Coordinator Request failed")
    logging.getLogger("asyncpg.pool").error("Failed to restore the pool connection floor")
    get_logger("probe").error("message_parked")

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["level"] for line in lines] == ["warning", "warning", "error", "error"]


def test_only_the_named_libraries_and_their_children_are_lowered() -> None:
    lowered = ErrorsSaidAsWarnings(("aiokafka",))
    records = [
        logging.LogRecord(name, level, __file__, 1, "said", (), None)
        for name, level in [
            ("aiokafka", logging.ERROR),
            ("aiokafka.conn", logging.ERROR),
            ("aiokafkaish", logging.ERROR),
            ("aiokafka.conn", logging.CRITICAL),
        ]
    ]

    assert all(lowered.filter(record) for record in records)
    assert [record.levelname for record in records] == ["WARNING", "WARNING", "ERROR", "CRITICAL"]
