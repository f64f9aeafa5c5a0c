"""Operator commands for the PLR projector: rebuild, replay and dead letters, over its admin API.

`lrs projector rebuild start|status|compare|switch|abandon`, `lrs projector replay --from <offset|time>`,
`lrs projector status`, and the projector's side of `lrs dlq list|retry|skip`. See docs/operations.md.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lrs_cli.client import CommandError, Connection, expect_ok

SERVICE = "plr_projector"
REBUILD_ACTIONS = ("start", "status", "compare", "switch", "abandon")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def rebuild_line(status: dict[str, Any]) -> str:
    """One line of progress: state and phase, events done of target, rate and ETA."""
    if status.get("state") == "idle":
        return "no rebuild running"
    workers = status.get("workers") or []
    phase = status.get("phase")
    detail = (
        f": {phase}, {len(workers)} worker{'s' * (len(workers) != 1)}"
        if workers and phase not in (None, "following")
        else ""
    )
    return (
        f"rebuild {status['rebuild_id']} [{status['state']}{detail}] {status['progress'] * 100:5.1f}%"
        f" {status['projected_events']:,}/{status['target_events']:,} events"
        f" at {status['events_per_second']:,.0f}/s, ETA {_duration(status['eta_seconds'])}"
        + (f" (+{status['events_past_target']:,} since start)" if status.get("events_past_target") else "")
        + (f" last error: {status['last_error']}" if status.get("last_error") else "")
    )


def comparison_text(result: dict[str, Any]) -> str:
    lines = ["IDENTICAL" if result["identical"] else "DIFFERENT"]
    live, rebuilt = result["counts"]["live"], result["counts"]["rebuilt"]
    for table in sorted(live):
        mark = "" if live[table] == rebuilt.get(table) else "   <-- differs"
        lines.append(f"  {table:<22} live {live[table]:>12,}  rebuilt {rebuilt.get(table, 0):>12,}{mark}")
    lines.append(f"  learners compared {result['learners_compared']:,}, differing {result['learners_differing']:,}")
    if result.get("differing_ulns_masked"):
        lines.append("  e.g. " + ", ".join(result["differing_ulns_masked"]))
    if result.get("global_checksums_differing"):
        lines.append("  checksums differing: " + ", ".join(result["global_checksums_differing"]))
    return "\n".join(lines)


def rebuild(
    connection: Connection,
    action: str,
    *,
    workers: int | None = None,
    follow: bool = False,
    interval: float = 2.0,
    out: Callable[[str], None] = print,
) -> str:
    if action not in REBUILD_ACTIONS:
        raise CommandError(f"rebuild action must be one of {', '.join(REBUILD_ACTIONS)}")
    with connection.client(SERVICE, timeout=600) as client:
        if action == "start":
            params = {"workers": workers} if workers is not None else {}
            status = expect_ok(client.post("/v1/admin/rebuild", params=params))
        elif action == "compare":
            return comparison_text(expect_ok(client.post("/v1/admin/rebuild/compare")))
        elif action == "switch":
            switched = expect_ok(client.post("/v1/admin/rebuild/switch"))
            return (
                f"switched: rebuild {switched['rebuild_id']} is now the live schema"
                f" '{switched['live_schema']}'; the old model is kept as '{switched['retired_schema']}'"
            )
        elif action == "abandon":
            abandoned = expect_ok(client.delete("/v1/admin/rebuild"))
            return f"abandoned rebuild {abandoned['rebuild_id']}; its schema was dropped"
        else:
            status = expect_ok(client.get("/v1/admin/rebuild"))
        while follow and status.get("state") == "running":
            out(rebuild_line(status))
            time.sleep(interval)
            status = expect_ok(client.get("/v1/admin/rebuild"))
    return rebuild_line(status)


def replay(
    connection: Connection,
    from_: str,
    *,
    wait: bool = True,
    interval: float = 1.0,
    out: Callable[[str], None] = print,
) -> str:
    with connection.client(SERVICE, timeout=120) as client:
        status = expect_ok(client.post("/v1/admin/replay", params={"from": from_}))
        out(f"replay {status['replay_id']} from {from_} started")
        while wait and status["state"] == "running":
            time.sleep(interval)
            status = expect_ok(client.get("/v1/admin/replay", params={"replay_id": status["replay_id"]}))
    if status["state"] == "failed":
        raise CommandError(f"replay {status['replay_id']} failed: {status['result']['error']}")
    if status["state"] == "running":
        return f"replay {status['replay_id']} running; follow it with GET /v1/admin/replay"
    result = status["result"]
    return f"replay {status['replay_id']} re-projected {result['learners']:,} learners ({result['events']:,} events) in {result['seconds']}s"


def projector_status(connection: Connection) -> str:
    with connection.client(SERVICE) as client:
        status = expect_ok(client.get("/v1/admin/projector"))
    lines = [f"events handled {status['events_handled']:,} in {status['batches']:,} batches"]
    for topic, lag in sorted(status["lag"].items()):
        lines.append(f"  {topic:<28} lag {lag['events']:>10,} events  {lag['seconds']:>8.1f} s")
    dead = status["dead_letters"]
    lines.append(f"dead letters: {dead.get('error', 0)} poison, {dead.get('blocked', 0)} waiting behind them")
    lines.append(rebuild_line(status["rebuild"]))
    if status.get("last_error"):
        lines.append(f"last error: {status['last_error']}")
    return "\n".join(lines)


def dlq_list(connection: Connection, learner: str | None = None, topic: str | None = None, limit: int = 500) -> str:
    params: dict[str, Any] = {"limit": limit}
    if learner:
        params["learner"] = learner
    if topic:
        params["topic"] = topic
    with connection.client(SERVICE) as client:
        parked = expect_ok(client.get("/v1/admin/dlq", params=params))["parked"]
    if not parked:
        return "no parked events"
    lines = [f"{'learner':<12} {'topic':<26} {'partition':>9} {'offset':>10} {'reason':<8} {'tries':>5}  error"]
    for item in parked:
        lines.append(
            f"{item['learner']:<12} {item['topic']:<26} {item['partition']:>9} {item['offset']:>10}"
            f" {item['reason']:<8} {item['attempts']:>5}  {item['error'] or ''}"
        )
    return "\n".join(lines)


def _drain_text(results: list[dict[str, Any]]) -> str:
    lines = []
    for result in results:
        line = (
            f"{result['topic']}: applied {result['applied']}, duplicates {result['duplicates']},"
            f" skipped {result['skipped']}, still parked {result['still_parked']}"
        )
        if result.get("error"):
            line += f" - first error: {result['error']}"
        lines.append(line)
    return "\n".join(lines)


def dlq_retry(connection: Connection, uln: str, topic: str | None = None, replacement_file: str | None = None) -> str:
    body: dict[str, Any] = {}
    if replacement_file:
        try:
            body["replacement"] = json.loads(Path(replacement_file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise CommandError(f"cannot read the replacement envelope: {error}") from error
    params = {"topic": topic} if topic else {}
    with connection.client(SERVICE, timeout=300) as client:
        results = expect_ok(client.post(f"/v1/admin/dlq/{uln}/retry", params=params, json=body or None))["results"]
    return _drain_text(results)


def dlq_skip(connection: Connection, uln: str, topic: str | None = None, reason: str | None = None) -> str:
    params = {"topic": topic} if topic else {}
    with connection.client(SERVICE, timeout=300) as client:
        results = expect_ok(
            client.post(f"/v1/admin/dlq/{uln}/skip", params=params, json={"reason": reason} if reason else None)
        )["results"]
    return _drain_text(results)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds `projector ...` to the `lrs` parser (`dlq ...` is `dlq_commands`); each sets `run(connection, args)`."""
    projector = commands.add_parser("projector", help="operator: PLR projection rebuild, replay and status")
    actions = projector.add_subparsers(dest="action", required=True)
    rebuild_parser = actions.add_parser("rebuild", help="replay the log into a fresh schema, compare, switch")
    rebuild_parser.add_argument("step", choices=REBUILD_ACTIONS)
    rebuild_parser.add_argument("--follow", action="store_true", help="print progress and ETA until caught up")
    rebuild_parser.add_argument("--interval", type=float, default=2.0)
    rebuild_parser.add_argument(
        "--workers",
        type=int,
        help="start: worker processes loading disjoint partitions (default: the projector's cores;"
        " 0: replay through the live code path)",
    )
    rebuild_parser.set_defaults(
        run=lambda connection, args: rebuild(
            connection, args.step, workers=args.workers, follow=args.follow, interval=args.interval
        )
    )
    replay_parser = actions.add_parser("replay", help="re-project the learners with PLR events since a point")
    replay_parser.add_argument("--from", dest="from_", required=True, help="offset (every partition) or ISO time")
    replay_parser.add_argument("--no-wait", action="store_true")
    replay_parser.set_defaults(run=lambda connection, args: replay(connection, args.from_, wait=not args.no_wait))
    status_parser = actions.add_parser("status", help="offsets, lag, dead letters, rebuild")
    status_parser.set_defaults(run=lambda connection, args: projector_status(connection))
