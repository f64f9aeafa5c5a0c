"""`lrs dlq list|show|retry|skip|history --service NAME`: every service's parked messages, over its admin API.

The PLR projector parks per learner and answers with its own routes (`projector_commands`); every
other consuming service shares `lrs_platform.parking_api`, where a parked message is named by its id.
`lrs dlq list` asks each of them in turn (`--service all`, its default: an operator asking what is parked is told
of every service, not one); `show`, `retry`, `skip` and `history` act on one service, plr-projector unless `--service`
names another. See docs/operations.md, dead letters.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from lrs_cli import projector_commands
from lrs_cli.choices import one_of
from lrs_cli.client import (
    SANDPIT_SERVICES,
    AnswerError,
    CommandError,
    Connection,
    ExitCode,
    UsageError,
    expect_ok,
    read_replacement,
    unreachable_text,
)
from lrs_cli.downloads import writable_beside, write_private
from lrs_cli.identifiers import uln_value
from lrs_cli.output import JsonOption, connection, print_json, print_text, replay_text, warn
from lrs_cli.times import UK_TIME, uk_time
from lrs_contracts.codes import ProblemCode
from lrs_domain.identifiers import is_well_formed_uln

PROJECTOR = "plr-projector"
SHARED_ROUTES = ("ingest", "validation", "notifier", "reporting", "challenges")
SERVICES = (PROJECTOR, *SHARED_ROUTES)


def _client_name(service: str) -> str:
    return service.replace("-", "_")


def _services_of(connection: Connection) -> tuple[str, ...]:
    """Every service `--service all` asks: in the Sandpit, those it runs (it has no reporting or challenges)."""
    if connection.sandpit:
        return tuple(service for service in SERVICES if _client_name(service) in SANDPIT_SERVICES)
    return SERVICES


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


def action_outcome(item: dict[str, Any]) -> str:
    """What followed a retry or skip: the duplicates too where its service counted them (the projector: a corrected
    copy of an event applied meanwhile is one, and without them such a retry read as if nothing happened)."""
    duplicates = item.get("duplicates")
    counted = [f"{item['applied']} applied"]
    if duplicates is not None:
        counted.append(f"{duplicates} duplicate{'' if duplicates == 1 else 's'}")
    counted += [f"{item['skipped']} skipped", f"{item['still_parked']} still parked"]
    return ", ".join(counted)


def _key(action: dict[str, Any]) -> str:
    """`27ef900d…`: the API key the operator acted with (their principal is whatever the key's maker chose); `-` for
    an action from before keys were kept."""
    key_id = action.get("acted_with_key")
    return f"{key_id[:8]}…" if key_id else "-"


def actions_table(actions: list[dict[str, Any]]) -> str:
    """The retries and skips operators made, newest first: what `lrs dlq history` prints. A message is named by its
    topic and `partition:offset` (an offset alone names one message per partition); when, in UK time to the minute, as
    the other listings say it (`--json` keeps the API's instants)."""
    if not actions:
        return "no retries or skips yet"
    # the projector names the batch whose event it was (the id in full for `lrs batch status`; `-` for any other
    # event): a skipped one was accepted in its batch but never reached the learner's record (reconcile walk, finding 1)
    batches = any("batch_id" in item for item in actions)
    lines = [
        f"{f'when ({UK_TIME})':<20} {'operator':<24} {'key':<9} {'action':<6} {'consumer':<22} {'topic':<26} {'partition:offset':>16}"
        + (f"  {'batch':<36}" if batches else "")
        + "  outcome; reason"
    ]
    for item in actions:
        action = f"{item['action']}{'*' if item['replaced'] else ''}"
        reason = f"; {item['reason']}" if item["reason"] else ""
        place = f"{item['partition']}:{item['offset']}"
        batch = f"  {item.get('batch_id') or '-':<36}" if batches else ""
        lines.append(
            f"{uk_time(item['acted_at'], labelled=False):<20} {item['operator']:<24} {_key(item):<9} {action:<6}"
            f" {item['consumer']:<22} {item['topic']:<26} {place:>16}{batch}  {action_outcome(item)}{reason}"
        )
    if any(item["replaced"] for item in actions):
        lines.append("* a corrected copy was tried in the message's place (the outcome says whether it applied)")
    if any(item["action"] == "skip" and item.get("batch_id") for item in actions):
        lines.append(
            "A skipped event of a batch was accepted there but is not on the learner's record: the batch still counts"
            " it accepted. Tell the batch's AO."
        )
    return "\n".join(lines)


def dead_letter_actions(connection: Connection, service: str, limit: int) -> list[dict[str, Any]]:
    with connection.client(_client_name(service)) as client:
        actions: list[dict[str, Any]] = expect_ok(client.get("/v1/admin/dlq/actions", params={"limit": limit}))[
            "actions"
        ]
    return actions


def parked_messages(
    connection: Connection, service: str, key: str | None = None, topic: str | None = None, limit: int = 500
) -> tuple[list[dict[str, Any]], int]:
    """The service's first `limit` parked messages, and how many there are."""
    if service == PROJECTOR:
        answer = projector_commands.parked_events(connection, key, topic, limit)
    else:
        params: dict[str, Any] = {"limit": limit}
        if key:
            params["key"] = key
        if topic:
            params["topic"] = topic
        with connection.client(_client_name(service)) as client:
            answer = expect_ok(client.get("/v1/admin/dlq", params=params))
    parked: list[dict[str, Any]] = answer["parked"]
    return parked, int(answer.get("total", len(parked)))


def more_parked_text(service: str, shown: int, total: int) -> str | None:
    """What to say when a listing shows fewer than are parked."""
    if total <= shown:
        return None
    return (
        f"the first {shown:,} of {total:,} parked in {service}: --key or --topic narrows, a larger --limit shows more"
    )


def _unavailable(error: Exception) -> str:
    """What a service's section says of a failure: `refused: ...` when it answered that the key may not (401,
    403), else `unavailable: ...`."""
    if isinstance(error, AnswerError) and error.refused:
        return f"refused: {error}"
    return f"unavailable: {unreachable_text(error) if isinstance(error, httpx.TransportError) else error}"


def _refused_by_all(failures: Sequence[Exception], asked: int) -> CommandError | None:
    """When every service refused the key (an AO's, a learner's), that one thing, said once (exit status 5): no
    service is unavailable, and a list of the same refusal per service hides it."""
    if not failures or len(failures) < asked:
        return None
    if not all(isinstance(failure, AnswerError) and failure.refused for failure in failures):
        return None
    refused = CommandError(f"every service refused this key: {failures[0]}")
    refused.exit_code = ExitCode.KEY_REFUSED
    return refused


def _usage_of_all(failures: Sequence[Exception], asked: int) -> UsageError | None:
    """When every service was refused by the CLI itself with the same usage error (no API key, a key file holding
    none: said before a request is sent), that one error, said once with its exit status (2) as a command of one
    service says it: no service was asked, and "unavailable" per service read as services that did not answer."""
    usage = [failure for failure in failures if isinstance(failure, UsageError)]
    if not usage or len(usage) < asked or len({str(failure) for failure in usage}) > 1:
        return None
    return usage[0]


def dlq_list(
    connection: Connection, service: str, key: str | None = None, topic: str | None = None, limit: int = 500
) -> str:
    return _listing(connection, service, key, topic, limit)[0]


def _listing(
    connection: Connection, service: str, key: str | None, topic: str | None, limit: int, *, in_section: bool = False
) -> tuple[str, ExitCode]:
    """The table, and the exit status: with `all`, a service that did not answer makes it `_unanswered`'s. One
    service with none parked says which it is, unless `in_section` (of `all`'s listing, headed by its name)."""
    if service == "all":
        sections, failures = [], []
        services = _services_of(connection)
        for each in services:
            try:
                listed = _listing(connection, each, key, topic, limit, in_section=True)[0]
                sections.append(f"== {each}\n{listed}")
            except (CommandError, httpx.TransportError) as error:
                sections.append(f"== {each}\n{_unavailable(error)}")
                failures.append(error)
        if said := _usage_of_all(failures, len(services)) or _refused_by_all(failures, len(services)):
            raise said
        return "\n".join(sections), _unanswered(failures)
    parked, total = parked_messages(connection, service, key, topic, limit)
    text = projector_commands.parked_events_table(parked) if service == PROJECTOR else parked_table(parked)
    if not parked and not in_section:  # said of one service: none there is not none anywhere
        text = f"{text} in {service}"
    more = more_parked_text(service, len(parked), total)
    return (f"{text}\n{more}" if more else text), ExitCode.OK


def _json_listing(
    connection: Connection, service: str, key: str | None, topic: str | None, limit: int
) -> tuple[dict[str, Any], ExitCode]:
    """`{"services": {service: {"parked": [...], "total": n, "error": null}}}`, one object of the same keys per
    service asked; one that refused the key or did not answer has `"parked": null, "total": null` and its `error`
    (`refused: ...`, `unavailable: ...`). And the exit status, as `_listing`'s."""
    found: dict[str, Any] = {}
    failures: list[Exception] = []
    services = _services_of(connection) if service == "all" else (service,)
    for each in services:
        try:
            parked, total = parked_messages(connection, each, key, topic, limit)
            found[each] = {"parked": parked, "total": total, "error": None}
            if more := more_parked_text(each, len(parked), total):
                warn(more)
        except (CommandError, httpx.TransportError) as error:
            if service != "all":
                raise
            found[each] = {"parked": None, "total": None, "error": _unavailable(error)}
            failures.append(error)
    if said := _usage_of_all(failures, len(services)) or _refused_by_all(failures, len(services)):
        raise said
    return {"services": found}, _unanswered(failures)


def _unanswered(failures: Sequence[Exception]) -> ExitCode:
    """`--service all` is only all clear when every service answered: 4 when none of the failures was an
    answer (services unreachable), else the first error answer's status (1; an AO's key is refused)."""
    if not failures:
        return ExitCode.OK
    for failure in failures:
        if isinstance(failure, CommandError):
            return failure.exit_code
    return ExitCode.UNREACHABLE


def _parked_id(target: str, connection: Connection) -> int:
    if not target.isdigit():
        raise UsageError(f"name a parked message by its id (from `{connection.command('dlq list')}`), not {target!r}")
    return int(target)


def _projector_target(target: str, connection: Connection) -> str:
    """What the projector's parked events are named by: a learner's ULN, an achievement id (a UUID, on the challenge
    events), `keyless:…` or a poison's own key. Digits that are no ULN are none of these but the id `lrs dlq list`
    prints for another service's message, asked of plr-projector (the default --service) by mistake: a usage error,
    before the projector answers "no parked events for this learner"."""
    if target.isascii() and target.isdigit() and not is_well_formed_uln(target):
        raise UsageError(
            f"{target} is not a ULN: plr-projector's dead letters are named by learner; for another service's message"
            f" add --service NAME (`{connection.command('dlq list')}` names each message's service)"
        )
    return target


def _no_topic(service: str, topic: str | None) -> None:
    """Only the projector addresses parked events by learner and topic: elsewhere an id names one message, on one
    topic, and a --topic would be ignored (acting on a message of another topic than the one named)."""
    if topic is not None and service != PROJECTOR:
        raise UsageError(
            f"--topic is for plr-projector, which names a learner's parked events by ULN and topic: {service} names"
            " one parked message by its id, on the topic `lrs dlq list` shows; leave --topic out"
        )


def dlq_retry(
    connection: Connection,
    service: str,
    target: str,
    topic: str | None = None,
    replacement: str | None = None,
    reason: str | None = None,
) -> list[dict[str, Any]]:
    """What the retry did, per topic (as the service answers it). A reason is kept by plr-projector's retries only:
    the other services' retry route takes none (their skips do)."""
    _no_topic(service, topic)
    if reason is not None and service != PROJECTOR:
        raise UsageError(
            f"--reason on a retry is kept by plr-projector only: {service}'s retry takes none (its skip does);"
            " leave --reason out"
        )
    if service == PROJECTOR:
        return projector_commands.dlq_retry(
            connection, _projector_target(target, connection), topic, replacement, reason
        )
    parked_id = _parked_id(target, connection)
    body = {"replacement": read_replacement(replacement)} if replacement else None
    with connection.client(_client_name(service), timeout=300) as client:
        results: list[dict[str, Any]] = expect_ok(client.post(f"/v1/admin/dlq/{parked_id}/retry", json=body))["results"]
    return results


def still_parked_after(
    results: list[dict[str, Any]],
    connection: Connection,
    *,
    target: str,
    service: str = PROJECTOR,
    topic: str | None = None,
    skipped: bool = False,
) -> str | None:
    """What to say when a retry or a skip left messages parked (the command then exits 1), or None; the skip it
    names runs as printed, on the message that is its key's poison now, of the same service. The projector names
    a stream by its learner, which stays; elsewhere a message is named by its id, and when one held behind the
    message named failed (always after a skip) the poison is another: the service's answer names it
    (`poison_id`), and a skip of the id given answered 404. After a projector skip none is suggested: the skip names
    the learner, and would drop the event first now, one nobody has seen (run twice, the next one too)."""
    parked = sum(int(result.get("still_parked") or 0) for result in results)
    if not parked:
        return None
    poison = target
    if service != PROJECTOR:
        poison = next((str(result["poison_id"]) for result in results if result.get("poison_id") is not None), target)
    where = f" --service {service}" if service != PROJECTOR else ""
    if topic:
        where += f" --topic {shlex.quote(topic)}"
    skip = connection.command(f"dlq skip {shlex.quote(poison)}{where} --reason WHY")
    if service == PROJECTOR and skipped:
        # the learner's first parked event is now another than the one skipped: a skip names a learner, not an event,
        # so a skip suggested here would drop it unseen (and, run twice, the next one too)
        show = connection.command(f"dlq show {shlex.quote(target)}{where}")
        retry = connection.command(f"dlq retry {shlex.quote(target)}{where}")
        return (
            f"{parked:,} still parked: an event held behind the skipped one failed (first error above) and is now the"
            f" learner's first parked event; nothing more was skipped. See it (`{show}`); deploy a fix and retry"
            f" (`{retry}`). Skip it too only once you have seen it must go: a skip drops the event first when it runs"
        )
    if poison == target:
        failed = "a message held behind the skipped one failed" if skipped else "the retry failed again"
        return (
            f"{parked:,} still parked: {failed} (first error above); deploy a fix and retry, or skip the poison"
            f" (`{skip}`)"
        )
    named = "skipped" if skipped else "retried"
    return (
        f"{parked:,} still parked: a message held behind the {named} one failed (first error above), parked message"
        f" {poison}, its key's poison now; deploy a fix and retry it, or skip it (`{skip}`)"
    )


def dlq_skip(
    connection: Connection,
    service: str,
    target: str,
    topic: str | None = None,
    reason: str | None = None,
    heads: Sequence[str] = (),
) -> list[dict[str, Any]]:
    _no_topic(service, topic)
    if heads and service != PROJECTOR:
        raise UsageError(
            f"--head is for plr-projector, which names a learner's parked events by ULN: {service} names one parked"
            " message by its id, which a skip sent again does not drop twice; leave --head out"
        )
    if service == PROJECTOR:
        named = [projector_commands.head_named(head) for head in heads]
        if named:
            return projector_commands.dlq_skip(connection, _projector_target(target, connection), topic, reason, named)
        return projector_commands.dlq_skip(connection, _projector_target(target, connection), topic, reason)
    parked_id = _parked_id(target, connection)
    with connection.client(_client_name(service), timeout=300) as client:
        body = {"reason": reason} if reason else None
        results: list[dict[str, Any]] = expect_ok(client.post(f"/v1/admin/dlq/{parked_id}/skip", json=body))["results"]
    return results


# the title of a value route's 404 for a message without one (lrs_platform.parking_api). Its code PARKED_VALUE_NOT_KEPT
# says so; the title is matched too for one release, as a server older than that code answers only the title
NO_VALUE = "No value kept"
# where the projector's value route says the event it answers was read (plr_projector.admin_routes)
PARKED_TOPIC_HEADER, PARKED_PARTITION_HEADER, PARKED_OFFSET_HEADER = (
    "LRS-Parked-Topic",
    "LRS-Parked-Partition",
    "LRS-Parked-Offset",
)
JSON_MEDIA_TYPE = "application/json"
NEAR_THE_HEAD = 50  # the projector's parked events read to find the head's listing: it is nearly always the first


@dataclass(frozen=True)
class ParkedValue:
    """One parked message as `lrs dlq show` prints it: its listing, and its value (the bytes to mend into a corrected
    copy), or why it has none."""

    service: str
    target: str  # what `lrs dlq retry` names it by: its id, or (plr-projector) the learner's ULN
    topic: str | None  # the --topic given (plr-projector)
    message: dict[str, Any]  # as `lrs dlq list --json` shows it
    others: int  # the other messages parked in its stream (its key's, on its topic)
    head: int | None  # the id of its stream's poison, when the message named is held behind it (a retry applies
    # the stream from its poison; a replacement stands in for the message named)
    value: bytes | None
    media_type: str | None
    no_value: str | None  # the service's word on why there is no value

    @property
    def is_json(self) -> bool:
        return (self.media_type or "").split(";")[0].strip() == JSON_MEDIA_TYPE


def parked_value(connection: Connection, service: str, target: str, topic: str | None = None) -> ParkedValue:
    """The parked message `target` names (a projector learner's: the first parked, the one a replacement replaces)
    and its value, from the service's admin API (`GET /v1/admin/dlq/.../value`)."""
    _no_topic(service, topic)
    if service == PROJECTOR:
        return _projector_value(connection, _projector_target(target, connection), topic)
    parked_id = _parked_id(target, connection)
    with connection.client(_client_name(service)) as client:
        stream: list[dict[str, Any]] = expect_ok(client.get(f"/v1/admin/dlq/{parked_id}"))["parked"]
        answer = client.get(f"/v1/admin/dlq/{parked_id}/value")
    value, media_type, no_value = _value_of(answer)
    ids = [item["id"] for item in stream]
    if parked_id not in ids:  # retried or skipped between the two requests
        raise CommandError(f"no parked message {parked_id} in {service}: it was retried or skipped meanwhile")
    index = ids.index(parked_id)
    return ParkedValue(
        service,
        target,
        None,
        stream[index],
        len(stream) - 1,
        ids[0] if index else None,
        value,
        media_type,
        no_value,
    )


def _projector_value(connection: Connection, uln: str, topic: str | None) -> ParkedValue:
    with connection.client(_client_name(PROJECTOR)) as client:
        answer = client.get(f"/v1/admin/dlq/{uln}/value", params={"topic": topic} if topic else None)
        value, media_type, no_value = _value_of(answer)
        where = answer.headers.get(PARKED_TOPIC_HEADER) or topic
        listed = expect_ok(
            client.get(
                "/v1/admin/dlq", params={"learner": uln, "limit": NEAR_THE_HEAD, **({"topic": where} if where else {})}
            )
        )
    place = (answer.headers.get(PARKED_PARTITION_HEADER), answer.headers.get(PARKED_OFFSET_HEADER))
    parked: list[dict[str, Any]] = listed["parked"]
    found = [item for item in parked if (str(item["partition"]), str(item["offset"])) == place]
    # the head is nearly always the first listed; else (a stream parked before decision 0163) where the answer says
    message = found[0] if found else {"topic": where, "partition": place[0], "offset": place[1], "learner": uln}
    return ParkedValue(
        PROJECTOR,
        uln,
        topic,
        message,
        max(int(listed.get("total", len(parked))) - 1, 0),
        None,
        value,
        media_type,
        no_value,
    )


def _value_of(answer: httpx.Response) -> tuple[bytes | None, str | None, str | None]:
    """(value, its media type, None), or (None, None, why) when the service keeps no value for the message."""
    if answer.status_code == 404:
        with contextlib.suppress(ValueError, RecursionError):
            problem = answer.json()
            if isinstance(problem, dict) and (
                problem.get("code") == ProblemCode.PARKED_VALUE_NOT_KEPT or problem.get("title") == NO_VALUE
            ):
                return None, None, str(problem.get("detail") or NO_VALUE)
    if answer.status_code >= 400:
        expect_ok(answer)  # raises, with the exit status of its answer (a refused key 5, an LRS unavailable 4)
    return answer.content, answer.headers.get("content-type"), None


def value_file_bytes(shown: ParkedValue) -> bytes:
    """What `--output` writes: a JSON value indented, ready to mend (`--replacement` reads it as JSON, so its
    layout is free); any other value as its bytes."""
    value = shown.value or b""
    if shown.is_json:
        with contextlib.suppress(ValueError, RecursionError):
            return (json.dumps(json.loads(value), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    return value


def value_text(shown: ParkedValue) -> str:
    """The value as `lrs dlq show` prints it without `--output`: JSON indented, other UTF-8 text as it is."""
    value = shown.value or b""
    if shown.is_json:
        return value_file_bytes(shown).decode("utf-8").rstrip("\n")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return f"({len(value):,} bytes, not UTF-8 text: save them with --output FILE)"


def _retry_command(shown: ParkedValue, connection: Connection, file: str) -> str:
    if shown.service == PROJECTOR:
        topic = f" --topic {shlex.quote(shown.topic)}" if shown.topic else ""
        return connection.command(f"dlq retry {shown.target}{topic} --replacement {shlex.quote(file)}")
    return connection.command(f"dlq retry {shown.target} --service {shown.service} --replacement {shlex.quote(file)}")


# Consumers that register no replayer: a message they parked cannot be applied again, with or without a corrected copy
# (retry answers 409), only skipped. Validation's decider: a batch it gave up on is abandoned, and the AO resubmits.
SKIP_ONLY_CONSUMERS = ("validation.decider",)


def _skip_only_text(shown: ParkedValue, connection: Connection) -> str:
    skip = connection.command(f"dlq skip {shown.target} --service {shown.service} --reason WHY")
    return (
        f"{shown.message['consumer']} cannot apply it again, not even a corrected copy (a retry answers 409): skip it"
        f" (`{skip}`); the AO resubmits the batch, which is then a new one"
    )


def shown_text(shown: ParkedValue, connection: Connection, output: Path | None = None) -> str:
    """What `lrs dlq show` prints: where the message was read, why it is parked, what waits with it, and its value
    (or where `--output` put it), with the retry that applies a corrected copy in its place."""
    message = shown.message
    if shown.service == PROJECTOR:
        lines = [f"first parked event of {message.get('learner') or shown.target} in {PROJECTOR}"]
    else:
        lines = [f"parked message {message['id']} of {shown.service}: consumer {message['consumer']}"]
    key = f", key {message['key']}" if message.get("key") is not None else ""
    lines.append(f"  read from  {message['topic']} partition {message['partition']} offset {message['offset']}{key}")
    if message.get("event_type") or message.get("event_id"):
        lines.append(f"  event      {message.get('event_type') or '?'} {message.get('event_id') or ''}".rstrip())
    if message.get("reason"):
        tries = message.get("attempts", 0)
        # plr-projector's: when it was first parked (kept across failed retries), and when a retry last left it parked
        when = f", parked {message['parked_at']}" if message.get("parked_at") else ""
        when += f", last tried {message['last_tried_at']}" if message.get("last_tried_at") else ""
        error = f": {message['error']}" if message.get("error") else ""
        lines.append(f"  parked     {message['reason']} after {tries} tr{'y' if tries == 1 else 'ies'}{when}{error}")
    lines.append(f"  with it    {shown.others:,} other message{'' if shown.others == 1 else 's'} parked of its key")
    if shown.head is not None:
        lines.append(
            f"  it waits behind parked message {shown.head}, its key's poison: a retry applies that one first, and this"
            f" one only once it applies (`{connection.command(f'dlq show {shown.head} --service {shown.service}')}`)"
        )
    if shown.value is None:
        lines.append(f"no value: {shown.no_value}")
        return "\n".join(lines)
    kind = "JSON" if shown.is_json else (shown.media_type or "bytes")
    said = f"value: {len(shown.value):,} bytes of {kind}"
    skip_only = shown.message.get("consumer") in SKIP_ONLY_CONSUMERS
    if output is not None:
        lines.append(f"{said}, written to {output}{' (indented)' if shown.is_json else ''}")
        if skip_only:
            lines.append(f"{_skip_only_text(shown, connection)}; it may hold personal data: delete it once read")
        else:
            lines.append(
                f"mend it, then `{_retry_command(shown, connection, str(output))}`; it may hold personal data: delete"
                " it once the retry is done"
            )
        return "\n".join(lines)
    lines += [f"{said}:", value_text(shown)]
    if skip_only:
        lines.append(_skip_only_text(shown, connection))
    else:
        lines.append(
            "to apply a corrected copy in its place: save it with --output FILE, mend it, then"
            f" `{_retry_command(shown, connection, 'FILE')}`"
        )
    return "\n".join(lines)


def shown_json(shown: ParkedValue) -> dict[str, Any]:
    """`lrs dlq show --json`: the listing, and the value as JSON (`value`) or, when it is not, as base64."""
    found: dict[str, Any] = {
        "service": shown.service,
        "message": shown.message,
        "others_parked": shown.others,
        "waits_behind": shown.head,
        "media_type": shown.media_type,
        "value_bytes": len(shown.value) if shown.value is not None else None,
    }
    if shown.value is None:
        return found | {"value": None, "no_value": shown.no_value}
    if shown.is_json:
        with contextlib.suppress(ValueError, RecursionError):
            return found | {"value": json.loads(shown.value)}
    return found | {"value": None, "value_base64": base64.b64encode(shown.value).decode("ascii")}


class Service(StrEnum):
    PLR_PROJECTOR = PROJECTOR
    INGEST = "ingest"
    VALIDATION = "validation"
    NOTIFIER = "notifier"
    REPORTING = "reporting"
    CHALLENGES = "challenges"


class ListedService(StrEnum):
    PLR_PROJECTOR = PROJECTOR
    INGEST = "ingest"
    VALIDATION = "validation"
    NOTIFIER = "notifier"
    REPORTING = "reporting"
    CHALLENGES = "challenges"
    ALL = "all"


app = typer.Typer(help="Operator: parked (dead-letter) messages of any service.", no_args_is_help=True)
Topic = Annotated[
    str | None,
    typer.Option(
        help="plr-projector: only this topic's parked events of the learner (elsewhere an id names one message)."
    ),
]
ListedTopic = Annotated[str | None, typer.Option(help="Only this topic's parked messages.")]
Target = Annotated[str, typer.Argument(help="The parked message's id (the learner's ULN for plr-projector).")]
ActedOn = Annotated[
    Service,
    typer.Option(
        help="The one service whose dead letters this acts on (`lrs dlq list` shows each message's service).",
        parser=one_of(Service, "--service"),
    ),
]


@app.command("list")
def list_command(
    ctx: typer.Context,
    service: Annotated[
        ListedService,
        typer.Option(
            help="Whose dead letters: all (every service in turn; with --sandpit, the four the Sandpit runs), or one.",
            parser=one_of(ListedService, "--service"),
        ),
    ] = ListedService.ALL,
    key: Annotated[
        str | None, typer.Option("--key", help="A message key: ULN, batch id, AO id, keyless:…, achievement id.")
    ] = None,
    learner: Annotated[
        str | None,
        typer.Option(help="A learner's ULN (10 digits): --key, checked as a ULN first.", callback=uln_value),
    ] = None,
    topic: ListedTopic = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many per service.")] = 500,
    as_json: JsonOption = False,
) -> None:
    """Parked messages of every service (or of --service), poison first per key; exit status 4 when a service did
    not answer, 5 when one refused the key (said once when every service refused it).

    With --json: {"services": {NAME: {"parked": [...], "total": N, "error": null}}}, the same three keys for every
    service asked; a service that refused the key or did not answer has "parked" and "total" null and "error"
    saying which ("refused: ...", "unavailable: ..."). Outside live the object also names its "environment"."""
    if learner is not None:
        if key is not None and key != learner:
            raise UsageError("give --learner (a ULN) or --key, not both")
        key = learner
    if as_json:
        found, status = _json_listing(connection(ctx), service.value, key, topic, limit)
        print_json(found)
        see = 'each service\'s "error"'
    else:
        text, status = _listing(connection(ctx), service.value, key, topic, limit)
        print_text(text)
        see = "see above"
    if status is ExitCode.UNREACHABLE:
        warn(f"not every service answered ({see}): the list is not complete")
        raise typer.Exit(status)
    if status is not ExitCode.OK:
        warn(f"not every service listed its parked messages ({see}): the list is not complete")
        raise typer.Exit(status)


@app.command("retry")
def retry_command(
    ctx: typer.Context,
    target: Target,
    service: ActedOn = Service.PLR_PROJECTOR,
    topic: Topic = None,
    replacement: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="A JSON file: a corrected copy of the poison, applied in its place."
        ),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(
            help="plr-projector: why (the fix deployed, what the replacement mends); kept with the record of the"
            " retry. The other services keep no reason for a retry."
        ),
    ] = None,
) -> None:
    """Apply a key's parked messages again, in order (after a fix is deployed); exit status 1 when any stay parked."""
    where = connection(ctx)
    results = dlq_retry(where, service.value, target, topic, str(replacement) if replacement else None, reason)
    print_text(replay_text(results))
    if failed := still_parked_after(results, where, target=target, service=service.value, topic=topic):
        warn(failed)
        raise typer.Exit(ExitCode.FAILED)


@app.command("skip")
def skip_command(
    ctx: typer.Context,
    target: Target,
    reason: Annotated[
        str,
        typer.Option(
            help="Why it is dropped (required, not blank); kept with the record of the skip (`lrs dlq history`)."
        ),
    ],
    service: ActedOn = Service.PLR_PROJECTOR,
    topic: Topic = None,
    head: Annotated[
        list[str] | None,
        typer.Option(
            "--head",
            help="plr-projector: TOPIC:PARTITION:OFFSET of the event to drop (once per topic the learner has events"
            " parked on), as `lrs dlq list` shows it and a skip prints it: nothing is skipped unless it is the first"
            " parked now, so a skip run again (after a lost answer) drops nothing more.",
        ),
    ] = None,
) -> None:
    """Drop a key's poison message and apply the rest; exit status 1 when any stay parked (one behind it failed).
    plr-projector: the learner's first parked events are read and said first (or named with --head), and sent with
    the skip; when they are no longer first as it runs (skipped already: the same skip sent twice, another
    operator), nothing is skipped (exit status 1)."""
    if not reason.strip():
        # the services refuse a blank reason too (422), as the portal's Skip form does
        raise UsageError("--reason is blank: say why the message is dropped; it is kept with the record of the skip")
    where = connection(ctx)
    results = dlq_skip(where, service.value, target, topic, reason, head or ())
    print_text(replay_text(results))
    if failed := still_parked_after(results, where, target=target, service=service.value, topic=topic, skipped=True):
        warn(failed)
        raise typer.Exit(ExitCode.FAILED)


@app.command("show")
def show_command(
    ctx: typer.Context,
    target: Target,
    service: ActedOn = Service.PLR_PROJECTOR,
    topic: Annotated[
        str | None, typer.Option(help="plr-projector: the topic, when the learner has events parked on several.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            dir_okay=False,
            help="Write the value to this file (0600; JSON indented), to mend and pass to `lrs dlq retry --replacement`.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """A parked message and its value, as its consumer read it from the log (a plr-projector learner's: the first
    parked, the one a retry with --replacement replaces). The value may hold personal data, sealed or not: keep a
    saved copy safe, and delete it once used."""
    if output is not None:
        writable_beside(output, "--output")
    where = connection(ctx)
    shown = parked_value(where, service.value, target, topic)
    if output is not None and shown.value is not None:
        write_private(output, value_file_bytes(shown))
    if as_json:
        print_json(shown_json(shown))
    else:
        print_text(shown_text(shown, where, output))
    if output is not None and shown.value is None:
        warn(f"nothing written to {output}: the message has no value")
        raise typer.Exit(ExitCode.FAILED)


@app.command("history")
def history_command(
    ctx: typer.Context,
    service: ActedOn = Service.PLR_PROJECTOR,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many, newest first.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """The retries and skips operators made of a service's parked messages: who, when (UK time; --json: the instant),
    which message, why."""
    actions = dead_letter_actions(connection(ctx), service.value, limit)
    if as_json:
        print_json(actions)
    else:
        print_text(actions_table(actions))
