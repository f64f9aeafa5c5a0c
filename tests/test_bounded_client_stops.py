"""Every service's shutdown stops its Kafka clients within `CLIENT_STOP_SECONDS` each, as the grace periods of
deploy/k8s/tests/test_shutdown.py assume: a lifespan's stops go through `lrs_platform.kafka.stop_within`, which
abandons a client whose `stop()` hangs (a consumer waiting on a rebalance), never awaiting one bare."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOTSTRAPS = sorted(ROOT.glob("services/*/src/*/bootstrap.py"))

BOUNDED_ELSEWHERE = {
    "tasks": "BackgroundTasks.stop waits SHUTDOWN_SECONDS at most",
    "publisher": "ingest's Publisher.stop waits its start timeout at most (test_shutdown.INGEST_PUBLISHER)",
    "notifications": "the notifier's email being sent: SHUTDOWN_SECONDS at most, counted apart",
    "replays": "Replays.stop cancels its task and awaits nothing",
}


def _stopped(node: ast.AST) -> str | None:
    """`x` of an `x.stop` (or `a.b.stop`: `b`), else None."""
    if isinstance(node, ast.Attribute) and node.attr == "stop":
        target = node.value
        if isinstance(target, ast.Name):
            return target.id
        if isinstance(target, ast.Attribute):
            return target.attr
        return "?"
    return None


def unbounded_stops(source: str) -> list[str]:
    """The stops a lifespan awaits bare, `await x.stop()` or `stack.push_async_callback(x.stop)`, of anything not
    known to bound itself."""
    found = []
    for node in ast.walk(ast.parse(source)):
        stopped = None
        if isinstance(node, ast.Await) and isinstance(node.value, ast.Call):
            stopped = _stopped(node.value.func)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "push_async_callback" and node.args:
            stopped = _stopped(node.args[0])
        else:
            continue
        if stopped is not None and stopped not in BOUNDED_ELSEWHERE:
            found.append(f"line {node.lineno}: {stopped}.stop")
    return found


def test_every_service_bounds_each_kafka_clients_stop() -> None:
    assert len(BOOTSTRAPS) >= 7
    unbounded = {
        str(path.relative_to(ROOT)): found for path in BOOTSTRAPS if (found := unbounded_stops(path.read_text()))
    }
    assert unbounded == {}


def test_the_check_finds_a_bare_stop_and_a_bare_exit_callback() -> None:
    source = """
async def lifespan(app, stack):
    await tasks.stop()
    stack.push_async_callback(stop_within, producer, "producer")
    await stop_within(consumer, "consumer")
    await consumer.stop()
    stack.push_async_callback(app.state.live.stop)
"""
    assert unbounded_stops(source) == ["line 6: consumer.stop", "line 7: live.stop"]
