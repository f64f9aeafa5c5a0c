"""`lrs sandpit reset|purge`: empty an AO's Sandpit, or every Sandpit left idle (decision 0060).

These always talk to the Sandpit's ingest, with or without `--sandpit`: there is nothing to reset live.
"""

from __future__ import annotations

import shlex
import time
from typing import Annotated, Any

import httpx
import typer

from lrs_cli.batch_commands import held_past
from lrs_cli.client import Connection, ExitCode, UsageError, expect_ok
from lrs_cli.identifiers import ao_id_value
from lrs_cli.maintenance_commands import when_processed
from lrs_cli.output import JsonOption, connection, mark_environment, print_json, print_text, progress, uuid_value
from lrs_contracts.environments import Environment

app = typer.Typer(help="The Sandpit: reset an AO's rehearsal data; operators purge idle ones.", no_args_is_help=True)

RESET_DONE = "completed"
POLL_SECONDS = 0.5


def sandpit_connection(ctx: typer.Context) -> Connection:
    found = connection(ctx)
    if not found.sandpit:
        mark_environment(Environment.SANDPIT)
    return found.in_sandpit()


def start_reset(sandpit: Connection, ao_id: str | None) -> dict[str, Any]:
    with sandpit.client("ingest") as client:
        response = client.post("/v1/sandpit/reset", json={"ao_id": ao_id} if ao_id else None)
    if response.status_code == 422 and ao_id is None:
        # Only an operator's key is asked for the AO (an AO's resets its own), and a key does not say whose it is
        # until the service reads it: the refused request changed nothing.
        raise UsageError("an operator names the AO whose Sandpit to reset: add --ao, like --ao RN9093")
    started: dict[str, Any] = expect_ok(response)
    return started


def follow_reset(sandpit: Connection, reset: dict[str, Any], wait: float) -> dict[str, Any]:
    """The reset once every sandpit service has applied it, or as it stands after `wait` seconds; at once when it
    waits behind a batch of the AO's that Sandpit maintenance holds beyond the wait (no wait that short sees it)."""
    deadline = time.monotonic() + wait
    with sandpit.client("ingest") as client, progress(f"reset {reset['status']}", total=wait) as update:
        while reset["status"] != RESET_DONE and (left := deadline - time.monotonic()) > 0:
            if held_past(reset, left):
                break
            time.sleep(min(POLL_SECONDS, left))
            reset = expect_ok(client.get(f"/v1/sandpit/resets/{reset['reset_id']}"))
            update(completed=wait - max(deadline - time.monotonic(), 0.0), description=f"reset {reset['status']}")
    return reset


def reset_text(reset: dict[str, Any], sandpit: Connection) -> str:
    """The reset's state and the command to run next, whole: with the key the reset used; a PLR read in the Sandpit
    (`lrs sandpit` commands go there without `--sandpit`, `lrs plr` would read live's)."""
    key = f" --key-file {shlex.quote(str(sandpit.key_file))}" if sandpit.key_file else ""
    text = f"Sandpit reset {reset['reset_id']} of {reset['ao_id']}: {reset['status']}"
    if reset["status"] != RESET_DONE:
        if notice := reset.get("maintenance"):
            # the decider meets the reset only after the AO's batch the maintenance holds
            text += (
                f" - held by maintenance ({notice['reason']}) behind a batch of {reset['ao_id']}'s sent before it:"
                f" it {when_processed(notice)}"
            )
        return text + f" - ask again with `lrs{key} sandpit reset-status {reset['reset_id']}`"
    text += " - its sandpit batches and achievement states are gone"
    if offsets := reset.get("plr_min_offsets"):
        # The PLR follows the erasures in log order, moments later.
        read = sandpit.command(f"plr show ULN --min-offsets {shlex.quote(offsets)}")
        text += f"; PLRs show it from log offsets {offsets}: `{read}`"
    return text


@app.command("reset")
def reset_command(
    ctx: typer.Context,
    ao: Annotated[
        str | None,
        typer.Option(help="Operators: whose Sandpit (like RN9093). An AO key resets its own.", callback=ao_id_value),
    ] = None,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Print the reset id and return at once.")] = False,
    wait: Annotated[
        float, typer.Option("--wait", min=0, help="Seconds to wait for every sandpit service; exit status 3 after.")
    ] = 120.0,
    as_json: JsonOption = False,
) -> None:
    """Empty an AO's Sandpit (batches, achievement states, PLR entries); other AOs' are untouched."""
    sandpit = sandpit_connection(ctx)
    reset = start_reset(sandpit, ao)
    if not no_wait:
        reset = follow_reset(sandpit, reset, wait)
    if as_json:
        print_json(reset)
    else:
        print_text(reset_text(reset, sandpit))
    if not no_wait and reset["status"] != RESET_DONE:
        raise typer.Exit(ExitCode.NOT_FINAL)


@app.command("reset-status")
def reset_status_command(
    ctx: typer.Context,
    reset_id: Annotated[
        str,
        typer.Argument(
            help="The id `lrs sandpit reset` printed.",
            callback=uuid_value("a reset id is a UUID, as `lrs sandpit reset` printed it"),
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """Whether a reset is done; exit status 3 while a sandpit service has still to apply it."""
    sandpit = sandpit_connection(ctx)
    with sandpit.client("ingest") as client:
        reset: dict[str, Any] = expect_ok(client.get(f"/v1/sandpit/resets/{reset_id}"))
    if as_json:
        print_json(reset)
    else:
        print_text(reset_text(reset, sandpit))
    if reset["status"] != RESET_DONE:
        raise typer.Exit(ExitCode.NOT_FINAL)


def purge(sandpit: Connection, idle_days: int) -> dict[str, Any]:
    with sandpit.client("ingest") as client:
        response: httpx.Response = client.post("/v1/admin/sandpit/purge", params={"idle_days": idle_days})
        purged: dict[str, Any] = expect_ok(response)
    return purged


def purge_text(purged: dict[str, Any], idle_days: int) -> str:
    resets = purged.get("resets", [])
    days = f"{idle_days} day" if idle_days == 1 else f"{idle_days} days"
    if not resets:
        return f"no Sandpit has been idle for {days}"
    names = ", ".join(f"{reset['ao_id']} ({reset['reset_id']})" for reset in resets)
    return f"reset {len(resets)} Sandpit(s) idle for {days}: {names}"


@app.command("purge")
def purge_command(
    ctx: typer.Context,
    idle_days: Annotated[
        int, typer.Option("--idle-days", min=1, help="Reset every AO with no sandpit batch for this many days.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Operator: reset every AO's Sandpit left idle (the daily CronJob runs this)."""
    purged = purge(sandpit_connection(ctx), idle_days)
    if as_json:
        print_json(purged)
    else:
        print_text(purge_text(purged, idle_days))
