"""`lrs keyring status|rewrap`: which wrapping key wraps the learners' data keys, and re-wrapping them with
the current one after a rotation (decision 0116, docs/operations.md), over validation's API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from lrs_cli.client import Connection, expect_ok
from lrs_cli.output import JsonOption, connection, print_json, print_text, progress

app = typer.Typer(help="Operator: the key that wraps the learners' data keys.", no_args_is_help=True)

_PER_CALL = 100_000


def wrapping(connection: Connection) -> dict[str, Any]:
    with connection.client("validation") as client:
        state: dict[str, Any] = expect_ok(client.get("/v1/admin/keyring"))
    return state


def rewrap(connection: Connection, *, on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Re-wraps until nothing is left to re-wrap; the last answer, `rewrapped` the sum over every call."""
    total = 0
    with connection.client("validation", timeout=300.0) as client:
        while True:
            state: dict[str, Any] = expect_ok(client.post("/v1/admin/keyring/rewrap", params={"at_most": _PER_CALL}))
            total += state["rewrapped"]
            if on_progress is not None and state["rewrapped"]:
                on_progress(total, state["to_rewrap"])
            if state["rewrapped"] == 0 or state["to_rewrap"] == 0:
                return {**state, "rewrapped": total}


def wrapping_text(state: dict[str, Any], where: Connection) -> str:
    counts = ", ".join(f"{count:,} by wrapping key {key_id}" for key_id, count in state["keys_by_wrapping_key"].items())
    lines = [
        f"new learner keys are wrapped with wrapping key {state['wrap_with']}"
        + (" (derived from LRS_KEYRING_KEY)" if state["wrap_with"] == 0 else ""),
        f"stored learner keys: {counts or 'none'}",
    ]
    not_given = state.get("not_given") or []  # validation before 2026-12 does not say
    for key_id in not_given:
        count = state["keys_by_wrapping_key"].get(str(key_id), 0)
        lines.append(
            f"{count:,} stored key{'' if count == 1 else 's'} {'is' if count == 1 else 'are'} wrapped with wrapping key"
            f" {key_id}, which validation was not given: add it back to LRS_KEYRING_WRAPPING_KEYS and restart"
        )
    if state["to_rewrap"] and not not_given:  # a re-wrap fails at the first key it cannot open
        lines.append(f"{state['to_rewrap']:,} to re-wrap: run `{where.command('keyring rewrap')}`")
    return "\n".join(lines)


@app.command("status")
def status_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Which wrapping key new learner keys get, and how many stored keys each wrapping key wraps."""
    where = connection(ctx)
    state = wrapping(where)
    if as_json:
        print_json(state)
    else:
        print_text(wrapping_text(state, where))


@app.command("rewrap")
def rewrap_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Re-wrap every stored learner key with the wrapping key validation wraps new keys with (after
    LRS_KEYRING_WRAP_WITH was changed everywhere). The keys themselves stay the same: nothing sealed
    changes. Safe to run again or to stop: it carries on where it was."""
    where = connection(ctx)
    with progress("re-wrapping learner keys") as update:
        state = rewrap(where, on_progress=lambda done, left: update(completed=done, total=done + left))
    if as_json:
        print_json(state)
    else:
        print_text(f"re-wrapped {state['rewrapped']:,} learner keys\n{wrapping_text(state, where)}")
