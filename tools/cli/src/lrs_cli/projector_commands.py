"""Operator commands for the PLR projector: rebuild, replay and dead letters, over its admin API.

`lrs projector rebuild start|status|compare|switch|abandon`, `lrs projector replay --from <offset|time>`,
`lrs projector replay-status [ID] [--wait]`,
`lrs projector status`, and the projector's side of `lrs dlq list|retry|skip`. See docs/operations.md.
"""

from __future__ import annotations

import time
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import httpx
import typer

from lrs_cli.choices import one_of
from lrs_cli.client import (
    AnswerError,
    CommandError,
    Connection,
    ExitCode,
    UsageError,
    expect_ok,
    parse_moment,
    read_replacement,
)
from lrs_cli.output import JsonOption, confirmed, connection, print_json, print_text, progress, warn
from lrs_cli.times import uk_time

SERVICE = "plr_projector"
REBUILD_ACTIONS = ("start", "status", "compare", "switch", "abandon")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def rebuild_pace(status: dict[str, Any]) -> str:
    """`at 31,000/s, ETA 0m19s`; while indexing, when every event is loaded but the keys and indexes are still
    being built (which takes a while on a large model), that the ETA is unknown (an older projector says 0)."""
    if status.get("phase") == "indexing":
        return "building keys and indexes, ETA unknown"
    return f"at {status['events_per_second']:,.0f}/s, ETA {_duration(status['eta_seconds'])}"


def _last_ended(last: dict[str, Any] | None) -> str:
    """`; rebuild 8 was switched to by operator:alex on …`: the last rebuild ended, and who ended it (a projector of
    an older release, or one that has ended none, says nothing)."""
    if not last:
        return ""
    done = "switched to" if last["state"] == "switched" else last["state"]
    by = f" by {last['finished_by']}" if last.get("finished_by") else ""
    when = f" on {uk_time(last['finished_at'])}" if last.get("finished_at") else ""
    return f"; rebuild {last['rebuild_id']} was {done}{by}{when}"


def rebuild_line(status: dict[str, Any]) -> str:
    """One line of progress: state and phase, events done of target, rate and ETA; a failed rebuild's says why
    instead of a rate and ETA (it gets no nearer)."""
    if status.get("state") == "idle":
        return f"no rebuild running{_last_ended(status.get('last'))}"
    workers = status.get("workers") or []
    phase = status.get("phase")
    detail = (
        f": {phase}, {len(workers)} worker{'s' * (len(workers) != 1)}"
        if workers and phase not in (None, "following")
        else ""
    )
    done = (
        f"rebuild {status['rebuild_id']} [{status['state']}{detail}] {status['progress'] * 100:5.1f}%"
        f" {status['projected_events']:,}/{status['target_events']:,} log positions"
    )
    if status.get("state") == "failed":
        return f"{done}; failed: {status.get('last_error') or 'no reason recorded'} (abandon it, then start again)"
    return (
        f"{done}{' loaded;' * (phase == 'indexing')} {rebuild_pace(status)}"
        + (f" (+{status['events_past_target']:,} since start)" if status.get("events_past_target") else "")
        + (f" last error: {status['last_error']}" if status.get("last_error") else "")
    )


def current_model(sandpit: bool) -> str:
    """The model a rebuild replaces, as the commands name it: in the Sandpit its own current model, never "live"
    (report-sandpit finding 6: "live 57 … rebuilt 0" under the SANDPIT banner reads as live's PLR)."""
    return "the Sandpit's current model" if sandpit else "the live model"


def comparison_text(result: dict[str, Any], *, sandpit: bool = False) -> str:
    lines = ["IDENTICAL" if result["identical"] else "DIFFERENT"]
    live, rebuilt = result["counts"]["live"], result["counts"]["rebuilt"]  # the answer's keys, in both environments
    current = "current" if sandpit else "live"
    for table in sorted(live):
        mark = "" if live[table] == rebuilt.get(table) else "   <-- differs"
        lines.append(f"  {table:<22} {current} {live[table]:>12,}  rebuilt {rebuilt.get(table, 0):>12,}{mark}")
    lines.append(f"  learners compared {result['learners_compared']:,}, differing {result['learners_differing']:,}")
    if result.get("differing_ulns_masked"):
        lines.append("  e.g. " + ", ".join(result["differing_ulns_masked"]))
    if result.get("global_checksums_differing"):
        lines.append("  checksums differing: " + ", ".join(result["global_checksums_differing"]))
    return "\n".join(lines)


def last_comparison_text(status: dict[str, Any], connection: Connection) -> str:
    """What the projector's status says of the rebuild's last comparison with the live model: whether one was
    run, when, and what it found (`rebuild compare` runs one)."""
    compare = connection.command("projector rebuild compare")
    model = current_model(connection.sandpit)
    comparison = status.get("comparison")
    rebuild_id = status.get("rebuild_id")
    if not comparison:
        return f"rebuild {rebuild_id} has not been compared with {model} (`{compare}` compares them)"
    at = f" on {uk_time(comparison['compared_at'])}" if comparison.get("compared_at") else ""
    if comparison.get("identical"):
        return f"the last comparison of rebuild {rebuild_id} with {model}{at} found them IDENTICAL"
    differing = comparison.get("learners_differing") or 0
    checksums = comparison.get("global_checksums_differing") or []
    found = f"{differing:,} of {comparison.get('learners_compared') or 0:,} learners differ"
    if checksums:
        found += f", and the checksums of {', '.join(checksums)}"
    return (
        f"the last comparison of rebuild {rebuild_id} with {model}{at} found them DIFFERENT: {found}"
        f" (`{compare}` shows how)"
    )


def switch_confirmed(connection: Connection, *, yes: bool) -> None:
    """Before a switch, which replaces the live model: says what the last comparison found, and asks on a terminal;
    with `yes` (scripts) asks nothing, and without it refuses when not on a terminal, as `lrs learners erase` does.
    A rebuild that has not caught up is not asked about: the projector refuses its switch and says why."""
    if not yes:
        confirmed(f"a switch replaces {current_model(connection.sandpit)}", lambda: _switch_question(connection))
    elif found := _caught_up_comparison(connection):
        warn(found[0])


def _caught_up_comparison(connection: Connection) -> tuple[str, Any] | None:
    """What the last comparison of the rebuild found, and the rebuild's id, once it has caught up (else None)."""
    status = rebuild_answer(connection, "status")
    if status.get("state") != "caught_up":
        return None
    return last_comparison_text(status, connection), status["rebuild_id"]


def _switch_question(connection: Connection) -> str | None:
    if (found := _caught_up_comparison(connection)) is None:
        return None
    said, rebuild_id = found
    making = current_model(connection.sandpit)
    return f"{said[0].upper()}{said[1:]}. Switch to rebuild {rebuild_id}, making it {making}?"


def rebuild(
    connection: Connection,
    action: str,
    *,
    workers: int | None = None,
    follow: bool = False,
    interval: float = 2.0,
) -> str:
    answer = rebuild_answer(connection, action, workers=workers, follow=follow, interval=interval)
    return rebuild_text(action, answer, sandpit=connection.sandpit)


def rebuild_answer(
    connection: Connection,
    action: str,
    *,
    workers: int | None = None,
    follow: bool = False,
    interval: float = 2.0,
) -> dict[str, Any]:
    """The projector's answer to one rebuild step (with `follow`, the status once the rebuild is no longer
    running), as `--json` prints it and `rebuild_text` words it."""
    if action not in REBUILD_ACTIONS:
        raise CommandError(f"rebuild action must be one of {', '.join(REBUILD_ACTIONS)}")
    with connection.client(SERVICE, timeout=600) as client:
        if action == "start":
            params = {"workers": workers} if workers is not None else {}
            status: dict[str, Any] = expect_ok(client.post("/v1/admin/rebuild", params=params))
        elif action == "compare":
            compared: dict[str, Any] = expect_ok(client.post("/v1/admin/rebuild/compare"))
            return compared
        elif action == "switch":
            switched: dict[str, Any] = expect_ok(client.post("/v1/admin/rebuild/switch"))
            return switched
        elif action == "abandon":
            abandoned: dict[str, Any] = expect_ok(client.delete("/v1/admin/rebuild"))
            return abandoned
        else:
            status = expect_ok(client.get("/v1/admin/rebuild"))
        if follow and status.get("state") == "running":
            with progress(f"rebuild {status['rebuild_id']}", total=status["target_events"]) as update:
                while status.get("state") == "running":
                    update(
                        completed=status["projected_events"],
                        total=max(status["target_events"], status["projected_events"]),
                        description=f"rebuild {status['rebuild_id']} {status.get('phase') or ''}:"
                        f" {rebuild_pace(status)}",
                    )
                    time.sleep(interval)
                    status = expect_ok(client.get("/v1/admin/rebuild"))
    return status


def rebuild_failed(action: str, answer: dict[str, Any]) -> bool:
    """A start or status answer of a failed rebuild: exit status 1, as a failed replay's, in text and JSON alike."""
    return action in ("start", "status") and answer.get("state") == "failed"


def rebuild_text(action: str, answer: dict[str, Any], *, sandpit: bool = False) -> str:
    if action == "compare":
        return comparison_text(answer, sandpit=sandpit)
    if action == "switch":
        schema = "the Sandpit's current schema" if sandpit else "the live schema"
        return (
            f"switched: rebuild {answer['rebuild_id']} is now {schema}"
            f" '{answer['live_schema']}'; the old model is kept as '{answer['retired_schema']}'"
        )
    if action == "abandon":
        return f"abandoned rebuild {answer['rebuild_id']}; its schema was dropped"
    if rebuild_failed(action, answer):
        raise CommandError(rebuild_line(answer))
    return rebuild_line(answer)


def replay(
    connection: Connection,
    from_: str,
    *,
    wait: bool = True,
    interval: float = 1.0,
) -> dict[str, Any]:
    """Starts a replay; with `wait`, follows it until it has finished or failed."""
    with connection.client(SERVICE, timeout=120) as client:
        status: dict[str, Any] = expect_ok(client.post("/v1/admin/replay", params={"from": from_}))
        warn(f"replay {status['replay_id']} from {from_} started")
        return _followed(client, status, interval) if wait else status


def replay_start(from_: str) -> None:
    """Refuses (exit status 2) a `--from` that is neither an offset (0 or more, the same on every partition) nor an
    ISO-8601 time with its zone."""
    text = from_.strip()
    if text.isascii() and text.isdigit():
        return
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--from {from_!r} is neither an offset (0 or more) nor an ISO-8601 time with its zone, such as"
            " 2026-06-01T22:00Z"
        ) from None
    parse_moment(text, "--from")  # a time without its zone: says so


def replay_status(
    connection: Connection, replay_id: int | None = None, *, wait: bool = False, interval: float = 1.0
) -> dict[str, Any]:
    """A replay's state (the latest when no id is named); with `wait`, once it has finished or failed."""
    params = {"replay_id": replay_id} if replay_id is not None else {}
    with connection.client(SERVICE, timeout=120) as client:
        status: dict[str, Any] = expect_ok(client.get("/v1/admin/replay", params=params))
        return _followed(client, status, interval) if wait else status


def _followed(client: httpx.Client, status: dict[str, Any], interval: float) -> dict[str, Any]:
    with progress(f"replay {status.get('replay_id')}"):
        while status["state"] == "running":
            time.sleep(interval)
            status = expect_ok(client.get("/v1/admin/replay", params={"replay_id": status["replay_id"]}))
    return status


def replay_line(status: dict[str, Any], connection: Connection) -> str:
    """One line on a replay; a failed one is a CommandError (exit status 1)."""
    if status["state"] == "idle":
        return "no replay has run"
    replay_id = status["replay_id"]
    if status["state"] == "failed":
        raise CommandError(f"replay {replay_id} failed: {status['result']['error']}")
    if status["state"] == "running":
        follow = connection.command(f"projector replay-status {replay_id} --wait")
        return f"replay {replay_id} from {status['from']} running; follow it with `{follow}`"
    result = status["result"]
    if (past_end := result.get("past_end")) is not None:  # nothing at or after `from` on any partition
        ends = [f"partition {partition} ends at offset {end:,}" for partition, end in past_end.items()]
        return (
            f"replay {replay_id} replayed nothing: the PLR log has nothing at or after {status['from']}"
            f" ({'; '.join(ends) or 'no partitions'}): give a smaller offset or an earlier time"
        )
    return (
        f"replay {replay_id} re-projected {result['learners']:,} learners ({result['events']:,} events)"
        f" in {result['seconds']}s"
    )


def projector_status(connection: Connection) -> str:
    return projector_status_text(projector_state(connection))


# The title of a plr-reader's 409 to what only the projector that writes answers (its status, retries, skips, replays,
# rebuilds): the refusal's one mark of its own, its code being the CONFLICT any 409 without a code of its own carries.
READER_REFUSED = "Not the projector that writes"


def projector_state(connection: Connection) -> dict[str, Any]:
    with connection.client(SERVICE) as client:
        answer = client.get("/v1/admin/projector")
        try:
            state: dict[str, Any] = expect_ok(answer)
        except AnswerError as error:
            if error.status_code != 409 or _title_of(answer) != READER_REFUSED:
                raise
            # a plr-reader's: its live projection does not run, so it has no status of its own to give
            variable = connection.url_variable(SERVICE)
            raise AnswerError(
                f"{error} Check {variable}: it names a plr-reader.",
                error.status_code,
                error.code,
            ) from error
    return state


def projector_status_text(status: dict[str, Any]) -> str:
    # the running process's counts, from 0 at each start: a projector just restarted reads 0 however much it projected
    lines = [
        f"events handled since this projector started: {status['events_handled']:,}"
        f" in {status['batches']:,} transactions"
    ]
    for topic, lag in sorted(status["lag"].items()):
        lines.append(f"  {topic:<28} lag {lag['events']:>10,} events  {lag['seconds']:>8.1f} s")
    dead = status["dead_letters"]
    lines.append(f"dead letters: {dead.get('error', 0)} poison, {dead.get('blocked', 0)} waiting behind them")
    lines.append(rebuild_line(status["rebuild"]))
    if status.get("last_error"):
        lines.append(f"last error: {status['last_error']}")
    return "\n".join(lines)


def parked_events(
    connection: Connection, learner: str | None = None, topic: str | None = None, limit: int = 500
) -> dict[str, Any]:
    """The first `limit` parked events (`parked`) and how many there are (`total`)."""
    params: dict[str, Any] = {"limit": limit}
    if learner:
        params["learner"] = learner
    if topic:
        params["topic"] = topic
    with connection.client(SERVICE) as client:
        answer: dict[str, Any] = expect_ok(client.get("/v1/admin/dlq", params=params))
    return answer


def dlq_list(connection: Connection, learner: str | None = None, topic: str | None = None, limit: int = 500) -> str:
    return parked_events_table(parked_events(connection, learner, topic, limit)["parked"])


def parked_events_table(parked: list[dict[str, Any]]) -> str:
    if not parked:
        return "no parked events"
    # A keyless event is named `keyless:<topic>:<partition>:<offset>`, longer than a ULN: the column fits it.
    width = max(12, *(len(item["learner"]) for item in parked))
    # the batch whose event it is (a PLR batch's, the id in full for `lrs batch status`; `-` for any other event):
    # which AO's batches wait on the fix (incident walk, finding 2)
    lines = [
        f"{'learner':<{width}} {'topic':<26} {'partition':>9} {'offset':>10} {'reason':<8} {'tries':>5}"
        f"  {'batch':<36}  error"
    ]
    for item in parked:
        lines.append(
            f"{item['learner']:<{width}} {item['topic']:<26} {item['partition']:>9} {item['offset']:>10}"
            f" {item['reason']:<8} {item['attempts']:>5}  {item.get('batch_id') or '-':<36}  {item['error'] or ''}"
        )
    return "\n".join(lines)


def dlq_retry(
    connection: Connection,
    uln: str,
    topic: str | None = None,
    replacement_file: str | None = None,
    reason: str | None = None,
) -> list[dict[str, Any]]:
    body: dict[str, Any] = {"replacement": read_replacement(replacement_file)} if replacement_file else {}
    if reason is not None:
        body["reason"] = reason
    params = {"topic": topic} if topic else {}
    with connection.client(SERVICE, timeout=300) as client:
        results: list[dict[str, Any]] = expect_ok(
            client.post(f"/v1/admin/dlq/{uln}/retry", params=params, json=body or None)
        )["results"]
    return results


# The most parked events of one learner read to find the events a skip drops (the projector's listing limit): a head
# beyond them is not sent, and the projector then refuses the skip (409, nothing skipped) rather than drop it unseen.
HEADS_READ = 10_000
# The title of the projector's 409 to a skip whose `heads` are no longer the learner's first parked events.
HEADS_CHANGED = "Parked events changed"
# The operators' latest retries and skips read to tell a skip made already from another event parked first meanwhile.
ACTIONS_READ = 200


def skipped_heads(parked: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events a skip of a learner's parked events drops: on each topic, the first poison (`error`), else the first
    parked, as the projector picks its stream's head (and as the portal's confirmation shows them)."""
    streams: dict[str, list[dict[str, Any]]] = {}
    for row in parked:
        streams.setdefault(row["topic"], []).append(row)
    return [next((row for row in rows if row.get("reason") == "error"), rows[0]) for rows in streams.values()]


def place_of(row: dict[str, Any]) -> str:
    return f"{row['topic']} partition {row['partition']} offset {row['offset']}"


def skipping_text(uln: str, heads: list[dict[str, Any]], parked: int) -> str:
    """What a skip is about to drop for good, said before it is sent: each topic's head, and how many wait behind."""
    dropped = "; ".join(place_of(row) + (f" ({row['error']})" if row.get("error") else "") for row in heads)
    held = parked - len(heads)
    behind = f"; {held:,} held behind {'it' if len(heads) == 1 else 'them'} are then tried again" if held > 0 else ""
    named = " ".join(f"--head {row['topic']}:{row['partition']}:{row['offset']}" for row in heads)
    return (
        f"skipping the first parked event{'s' * (len(heads) != 1)} of {uln}: {dropped}{behind} (to run this skip"
        f" again without dropping more: {named})"
    )


def heads_changed_text(
    uln: str, heads: list[dict[str, Any]], actions: list[dict[str, Any]] | None, connection: Connection
) -> str:
    """The projector refused the skip (409 "Parked events changed"): the events read as first were not first when it
    came to skip. Nothing was skipped. Said plainly: which of them a skip made meanwhile dropped, by whom and when
    (this same skip sent again after a lost answer, another operator), or else that another event is first now;
    never a suggestion to skip again unseen."""
    places = {(row["topic"], row["partition"], row["offset"]) for row in heads}
    made = [
        action
        for action in actions or []
        if action.get("action") == "skip" and (action["topic"], action["partition"], action["offset"]) in places
    ]
    listing = connection.command(f"dlq list --learner {uln} --service plr-projector")
    if made:
        done = made[0]
        when = f" at {uk_time(done['acted_at'])}" if done.get("acted_at") else ""
        return (
            f"nothing was skipped: {place_of(done)} was skipped already, by {done['operator']}{when} (`"
            f"{connection.command('dlq history')}` says what followed); what is parked of {uln} now: `{listing}`"
        )
    return (
        f"nothing was skipped: the first parked events of {uln} changed since they were read (another was parked,"
        f" retried or skipped meanwhile): read them again (`{listing}`) and skip only if the one first now must go"
    )


def head_named(text: str) -> dict[str, Any]:
    """`--head TOPIC:PARTITION:OFFSET` as the skip's `heads` take it (a topic's name holds no colon)."""
    topic, _, place = text.rpartition(":")
    topic, _, partition = topic.rpartition(":")
    if not topic or not partition.isdigit() or not place.isdigit():
        raise UsageError(
            f"--head {text!r} is not TOPIC:PARTITION:OFFSET, such as lrs.plr.events.v1:5:28 (`lrs dlq list` shows them)"
        )
    return {"topic": topic, "partition": int(partition), "offset": int(place)}


def dlq_skip(
    connection: Connection,
    uln: str,
    topic: str | None = None,
    reason: str | None = None,
    named: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Skips the learner's first parked events, sent as the skip's `heads`: those `named` (`--head`), else each
    topic's head as read just before (said on stderr, with the `--head` that names it). Should they not be first when
    the projector comes to skip (the same skip sent twice at once, by two operators; with `named`, a retry after a
    lost answer too), it skips nothing and answers 409, said as such (exit status 1), rather than drop the event
    that was held behind them."""
    params = {"topic": topic} if topic else {}
    with connection.client(SERVICE, timeout=300) as client:
        if named:
            heads = named
        else:
            listed = expect_ok(client.get("/v1/admin/dlq", params={"learner": uln, "limit": HEADS_READ, **params}))
            parked: list[dict[str, Any]] = listed["parked"]
            heads = skipped_heads(parked)
            if heads:
                warn(skipping_text(uln, heads, int(listed.get("total", len(parked)))))
        body: dict[str, Any] = {"heads": [{key: row[key] for key in ("topic", "partition", "offset")} for row in heads]}
        if reason:
            body["reason"] = reason
        answer = client.post(f"/v1/admin/dlq/{uln}/skip", params=params, json=body)
        if answer.status_code == 409 and _title_of(answer) == HEADS_CHANGED:
            raise CommandError(heads_changed_text(uln, heads, _actions(client), connection))
        results: list[dict[str, Any]] = expect_ok(answer)["results"]
    return results


def _title_of(answer: httpx.Response) -> str | None:
    try:
        problem = answer.json()
    except ValueError:
        return None
    return problem.get("title") if isinstance(problem, dict) else None


def _actions(client: httpx.Client) -> list[dict[str, Any]] | None:
    """The latest retries and skips, or None when they cannot be read (the refusal is said all the same)."""
    try:
        answer = client.get("/v1/admin/dlq/actions", params={"limit": ACTIONS_READ})
    except httpx.HTTPError:
        return None
    if answer.status_code != 200:
        return None
    actions: list[dict[str, Any]] = answer.json().get("actions") or []
    return actions


class RebuildStep(StrEnum):
    START = "start"
    STATUS = "status"
    COMPARE = "compare"
    SWITCH = "switch"
    ABANDON = "abandon"


app = typer.Typer(help="Operator: PLR projection rebuild, replay and status.", no_args_is_help=True)


@app.command("rebuild")
def rebuild_command(
    ctx: typer.Context,
    step: Annotated[
        RebuildStep,
        typer.Argument(
            help="start, status, compare (counts and checksums), switch (put it in use) or abandon",
            parser=one_of(RebuildStep, "the step"),
        ),
    ],
    follow: Annotated[bool, typer.Option(help="Show progress and ETA until the rebuild has caught up.")] = False,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between progress reads with --follow.")] = 2.0,
    workers: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="start: worker processes loading disjoint partitions (default: the projector's"
            " PROJECTOR_REBUILD_WORKERS, else its cores; on Kubernetes the rebuild Job's, and no other number is"
            " taken there; 0: replay through the live code path).",
        ),
    ] = None,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes", help="switch: do not ask for confirmation (needed when not on a terminal, as in a script)."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Replay the log into a fresh schema, compare it with the current one, switch. With --json every step prints the
    projector's answer as JSON. A failed rebuild exits 1. A switch replaces the current model: it says what the last
    comparison found and asks first (on a terminal; elsewhere it needs --yes)."""
    if step is RebuildStep.SWITCH:
        switch_confirmed(connection(ctx), yes=yes)
    answer = rebuild_answer(connection(ctx), step.value, workers=workers, follow=follow, interval=interval)
    if not as_json:
        print_text(rebuild_text(step.value, answer, sandpit=connection(ctx).sandpit))
        return
    print_json(answer)
    if rebuild_failed(step.value, answer):
        raise typer.Exit(ExitCode.FAILED)


@app.command("replay")
def replay_command(
    ctx: typer.Context,
    from_: Annotated[
        str,
        typer.Option(
            "--from", help="An offset (the same on every partition) or an ISO time, such as 2025-03-04T09:00:00Z."
        ),
    ],
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Start it and return at once.")] = False,
) -> None:
    """Re-project the learners with PLR events since an offset or a time (with its zone)."""
    replay_start(from_)
    print_text(replay_line(replay(connection(ctx), from_, wait=not no_wait), connection(ctx)))


@app.command("replay-status")
def replay_status_command(
    ctx: typer.Context,
    replay_id: Annotated[
        int | None, typer.Argument(min=1, help="The id `lrs projector replay` printed (default: the latest replay).")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow it until it has finished or failed.")] = False,
    as_json: JsonOption = False,
) -> None:
    """A replay's state: exit status 0 finished, 1 failed, 3 still running."""
    status = replay_status(connection(ctx), replay_id, wait=wait)
    if as_json:
        print_json(status)
    else:
        print_text(replay_line(status, connection(ctx)))
    if status["state"] == "failed" and as_json:
        raise typer.Exit(ExitCode.FAILED)
    if status["state"] == "running":
        raise typer.Exit(ExitCode.NOT_FINAL)


@app.command("status")
def status_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Offsets, lag, dead letters and the rebuild."""
    state = projector_state(connection(ctx))
    if as_json:
        print_json(state)
    else:
        print_text(projector_status_text(state))
