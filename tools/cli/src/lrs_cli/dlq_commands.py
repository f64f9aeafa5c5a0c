"""`lrs dlq list|retry|skip --service NAME`: every service's parked messages, over its admin API.

The PLR projector parks per learner and answers with its own routes (`projector_commands`); every
other consuming service shares `lrs_platform.parking_api`, where a parked message is named by its id.
`lrs dlq list --service all` asks each of them in turn. See docs/operations.md, dead letters.
"""

from __future__ import annotations

import argparse
from typing import Any

import httpx

from lrs_cli import projector_commands
from lrs_cli.client import CommandError, Connection, expect_ok

PROJECTOR = "plr-projector"
SHARED_ROUTES = ("ingest", "validation", "notifier", "reporting", "challenges")
SERVICES = (PROJECTOR, *SHARED_ROUTES)


def _client_name(service: str) -> str:
    return service.replace("-", "_")


def parked_table(parked: list[dict[str, Any]]) -> str:
    if not parked:
        return "no parked messages"
    lines = [
        f"{'id':>8} {'consumer':<22} {'topic':<26} {'partition':>9} {'offset':>10} {'reason':<8} {'tries':>5}  error"
    ]
    for item in parked:
        lines.append(
            f"{item['id']:>8} {item['consumer']:<22} {item['topic']:<26} {item['partition']:>9} {item['offset']:>10}"
            f" {item['reason']:<8} {item['attempts']:>5}  {item['error'] or ''}"
        )
    return "\n".join(lines)


def dlq_list(
    connection: Connection, service: str, key: str | None = None, topic: str | None = None, limit: int = 500
) -> str:
    if service == "all":
        sections = []
        for each in SERVICES:
            try:
                sections.append(f"== {each}\n{dlq_list(connection, each, key, topic, limit)}")
            except (CommandError, httpx.TransportError) as error:
                sections.append(f"== {each}\nunavailable: {error}")
        return "\n".join(sections)
    if service == PROJECTOR:
        return projector_commands.dlq_list(connection, key, topic, limit)
    params: dict[str, Any] = {"limit": limit}
    if key:
        params["key"] = key
    if topic:
        params["topic"] = topic
    with connection.client(_client_name(service)) as client:
        return parked_table(expect_ok(client.get("/v1/admin/dlq", params=params))["parked"])


def _replay_text(results: list[dict[str, Any]]) -> str:
    lines = []
    for result in results:
        line = (
            f"{result['consumer']} {result['topic']}: applied {result['applied']}, skipped {result['skipped']},"
            f" still parked {result['still_parked']}"
        )
        if result.get("error"):
            line += f" - first error: {result['error']}"
        lines.append(line)
    return "\n".join(lines)


def _parked_id(target: str) -> int:
    if not target.isdigit():
        raise CommandError(f"name a parked message by its id (from `lrs dlq list`), not {target!r}")
    return int(target)


def dlq_retry(
    connection: Connection, service: str, target: str, topic: str | None = None, replacement: str | None = None
) -> str:
    if service == PROJECTOR:
        return projector_commands.dlq_retry(connection, target, topic, replacement)
    if replacement:
        raise CommandError("--replacement is for the PLR projector only")
    with connection.client(_client_name(service), timeout=300) as client:
        results = expect_ok(client.post(f"/v1/admin/dlq/{_parked_id(target)}/retry"))["results"]
    return _replay_text(results)


def dlq_skip(
    connection: Connection, service: str, target: str, topic: str | None = None, reason: str | None = None
) -> str:
    if service == PROJECTOR:
        return projector_commands.dlq_skip(connection, target, topic, reason)
    with connection.client(_client_name(service), timeout=300) as client:
        body = {"reason": reason} if reason else None
        results = expect_ok(client.post(f"/v1/admin/dlq/{_parked_id(target)}/skip", json=body))["results"]
    return _replay_text(results)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds `dlq ...` to the `lrs` parser; each action sets `run(connection, args)`."""
    dlq = commands.add_parser("dlq", help="operator: parked (dead-letter) messages of any service")
    actions = dlq.add_subparsers(dest="action", required=True)

    def service_option(parser: argparse.ArgumentParser, *extra: str) -> None:
        parser.add_argument(
            "--service",
            choices=(*SERVICES, *extra),
            default=PROJECTOR,
            help="whose dead letters (default: %(default)s)",
        )

    listing = actions.add_parser("list", help="parked messages, poison first per key")
    service_option(listing, "all")
    listing.add_argument("--key", "--learner", dest="key", help="a message key: ULN, batch id, AO id")
    listing.add_argument("--topic")
    listing.add_argument("--limit", type=int, default=500)
    listing.set_defaults(
        run=lambda connection, args: dlq_list(connection, args.service, args.key, args.topic, args.limit)
    )
    retry = actions.add_parser("retry", help="apply a key's parked messages again, in order")
    service_option(retry)
    retry.add_argument("target", help="the parked message's id (the learner's ULN for plr-projector)")
    retry.add_argument("--topic")
    retry.add_argument("--replacement", help="plr-projector: JSON file, a corrected envelope for the poison event")
    retry.set_defaults(
        run=lambda connection, args: dlq_retry(connection, args.service, args.target, args.topic, args.replacement)
    )
    skip = actions.add_parser("skip", help="drop a key's poison message and apply the rest")
    service_option(skip)
    skip.add_argument("target", help="the parked message's id (the learner's ULN for plr-projector)")
    skip.add_argument("--topic")
    skip.add_argument("--reason")
    skip.set_defaults(
        run=lambda connection, args: dlq_skip(connection, args.service, args.target, args.topic, args.reason)
    )
