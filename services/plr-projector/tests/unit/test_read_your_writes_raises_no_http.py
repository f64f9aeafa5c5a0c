"""`read_your_writes` is not a route module: a read it cannot wait for raises its own errors, and `plr_routes`, the
HTTP edge, answers each with the problem the read always answered (same status, title, detail, code and headers)."""

from __future__ import annotations

import ast
import contextlib
import inspect
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError

from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from plr_projector import read_your_writes
from plr_projector.api import plr_router
from plr_projector.endpoints import projector_of
from plr_projector.projection import PLR_TOPIC


def test_the_module_names_no_http_status_and_no_problem() -> None:
    tree = ast.parse(inspect.getsource(read_your_writes))
    imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} | {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    assert not {name for name in imported if name.startswith(("fastapi", "starlette", "lrs_platform.problems"))}
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert "ProblemError" not in names


def _projector(*, applied: int, stored: int = 5, log_reachable: bool = True) -> Any:
    """A reader whose model has applied `applied` events of any batch and the PLR log up to `stored`."""

    @contextlib.asynccontextmanager
    async def acquire() -> AsyncIterator[object]:
        yield object()

    async def batch_events_applied(*_args: Any, **_kwargs: Any) -> int:
        return applied

    async def offsets(_connection: object) -> dict[tuple[str, int], int]:
        return {(PLR_TOPIC, 0): stored}

    async def stepped(timeout: float) -> None:
        raise AssertionError("a read with no wait left asks once")

    async def end_offsets(_partitions: list[TopicPartition]) -> dict[tuple[str, int], int]:
        if not log_reachable:
            raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 1)]")
        return {(PLR_TOPIC, 0): stored}

    live = SimpleNamespace(
        partitions=[TopicPartition(PLR_TOPIC, 0)],
        model=SimpleNamespace(batch_events_applied=batch_events_applied, offsets=offsets),
        stepped=stepped,
    )
    return SimpleNamespace(
        pool=SimpleNamespace(acquire=acquire),
        live=live,
        model=live.model,
        topics=SimpleNamespace(logical=lambda name: name),
        probe=SimpleNamespace(end_offsets=end_offsets),
        read_wait_max_ms=30_000,
    )


async def _answer(projector: Any, **params: str) -> httpx.Response:
    app = build_app("plr-projector", title="PLR", description="", lifespan=noop_lifespan)
    app.include_router(plr_router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse("operator:ops")
    app.dependency_overrides[projector_of] = lambda: projector
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://plr") as client:
        return await client.get(
            "/v1/ao/achievements", params={"uln": "1000000043", "ao_id": "RN5133", "wait_ms": "0", **params}
        )


@pytest.mark.parametrize(
    ("min_offsets", "detail"),
    [
        ("x:1", "Use partition:offset or topic:partition:offset."),
        ("other.topic:0:1", "other.topic is not projected here."),
        ("3:1", "lrs.plr.events.v1 has no partition 3: its partitions are 0 to 0."),
    ],
)
async def test_min_offsets_naming_nothing_projected_here_answer_422(min_offsets: str, detail: str) -> None:
    answer = await _answer(_projector(applied=0), min_offsets=min_offsets)

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert (body["title"], body["detail"], body["code"]) == ("Invalid min_offsets", detail, "INVALID_REQUEST")
    assert "retry-after" not in answer.headers


async def test_offsets_not_reached_within_the_wait_answer_503_pending_with_retry_after() -> None:
    answer = await _answer(_projector(applied=0, stored=5), min_offsets="0:9")

    assert answer.status_code == 503
    body = answer.json()
    assert (body["title"], body["code"]) == ("Not yet projected", "PROJECTION_PENDING")
    assert body["detail"] == "The projection has not reached the requested offsets within 0 ms."
    assert answer.headers["retry-after"] == "1"


async def test_a_batch_not_seen_within_the_wait_answers_503_pending_without_retry_after() -> None:
    answer = await _answer(_projector(applied=0), after_batch=str(uuid.uuid4()))

    assert answer.status_code == 503
    body = answer.json()
    assert (body["title"], body["code"]) == ("Not yet projected", "PROJECTION_PENDING")
    assert body["detail"].endswith("ingest's GET /v1/batches/{id} says which.")
    assert "retry-after" not in answer.headers


async def test_a_log_kafka_does_not_answer_for_answers_503_log_unavailable() -> None:
    answer = await _answer(_projector(applied=1, log_reachable=False), after_batch=str(uuid.uuid4()))

    assert answer.status_code == 503
    body = answer.json()
    assert body["title"] == "Log unavailable"
    assert body["detail"] == (
        "An after_batch read needs the PLR log's end, and Kafka did not answer: send the request again later,"
        " or read without after_batch."
    )
    assert body["code"] == "SERVICE_UNAVAILABLE"
    assert answer.headers["retry-after"] == "5"
