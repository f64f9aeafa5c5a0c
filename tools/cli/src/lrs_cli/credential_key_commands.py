"""`lrs credential-keys list|rotate|withdraw`: the projector's credential signing keys (decisions 0050, 0178), over
its admin API, for an operator key with the `keys` scope. Rotation is routine (a retired key stays in the JWKS, so
what it signed still verifies); a withdrawal is incident response and cannot be undone (the key leaves the JWKS and
nothing it signed verifies any more), so it asks first on a terminal and wants `--yes` anywhere else."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer
from rich.text import Text

from lrs_cli.client import CommandError, Connection, expect_ok
from lrs_cli.output import JsonOption, confirmed, connection, print_json, print_listing, print_text
from lrs_cli.times import UK_TIME, uk_time

app = typer.Typer(
    help="Operator: the keys that sign PLR credentials (rotate on a schedule, withdraw after a suspected leak).",
    no_args_is_help=True,
)

_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
KEY_ID_SAID = "a key id is like 20260301-0a1b2c3d, as `lrs credential-keys list` lists it"


def key_id_value(value: str) -> str:
    """The key id, also from the `kid` a credential names (`<issuer>/.well-known/jwks.json#<key id>`, as `lrs plr
    verify` prints it); anything else is a usage error before the projector is asked."""
    key_id = value.strip().rpartition("#")[2]
    if not _KEY_ID.fullmatch(key_id):
        raise typer.BadParameter(KEY_ID_SAID)
    return key_id


def keys(connection: Connection) -> list[dict[str, Any]]:
    """Every signing key ever made: the active one first, then the newest first."""
    with connection.client("plr_projector") as client:
        listed: dict[str, Any] = expect_ok(client.get("/v1/admin/credential-keys"))
    found: list[dict[str, Any]] = listed["keys"]
    return found


ROTATED_MEANWHILE = "Rotated meanwhile"


def rotate(connection: Connection) -> dict[str, Any]:
    """Rotates the key read active just before, sent as `expected_active`: should another rotation have happened
    between (a second operator, the same rotation run twice), the projector rotates nothing and answers 409, said
    as such (exit status 1), rather than retire the key that other rotation has just made."""
    active = next((key["key_id"] for key in keys(connection) if key["active"]), None)
    with connection.client("plr_projector") as client:
        answer = client.post("/v1/admin/credential-keys/rotate", json={"expected_active": active})
    if answer.status_code == 409 and (problem := _problem(answer)).get("title") == ROTATED_MEANWHILE:
        raise CommandError(rotated_meanwhile_text(active, problem))
    rotation: dict[str, Any] = expect_ok(answer)
    return rotation


def _problem(answer: httpx.Response) -> dict[str, Any]:
    try:
        problem = answer.json()
    except ValueError:
        return {}
    return problem if isinstance(problem, dict) else {}


def rotated_meanwhile_text(expected: str | None, problem: dict[str, Any]) -> str:
    """A rotation refused because another happened since the active key was read: who, when, and the key now."""
    seen = f"key {expected} was active" if expected else "no key was active"
    said = f"another rotation happened meanwhile: {seen} when this one began"
    if problem.get("active_key_id"):
        said += (
            f", and since then {problem.get('rotated_by') or 'someone'} made key {problem['active_key_id']}"
            f" ({_when(problem.get('rotated_at'))}, {UK_TIME}), which signs new credentials now"
        )
    else:
        said += ", and no key is active now"
    return (
        f"{said}. Nothing was rotated. If a new key is still wanted, check `lrs credential-keys list` and run"
        " `lrs credential-keys rotate` again"
    )


def withdraw(connection: Connection, key_id: str, reason: str) -> dict[str, Any]:
    with connection.client("plr_projector") as client:
        path = f"/v1/admin/credential-keys/{quote(key_id, safe='')}/withdraw"
        withdrawal: dict[str, Any] = expect_ok(client.post(path, json={"reason": reason}))
    return withdrawal


def state_said(key: dict[str, Any]) -> str:
    if not key["published"]:
        return "withdrawn: out of the JWKS, nothing it signed verifies"
    if key["active"]:
        return "active: signs new credentials"
    return "retired: signs nothing, what it signed verifies"


def _when(moment: str | None) -> str:
    return uk_time(moment, labelled=False) if moment else ""


def _key_row(key: dict[str, Any]) -> tuple[str | Text, ...]:
    withdrawn = ""
    if key.get("withdrawn_at"):
        withdrawn = f"{_when(key['withdrawn_at'])} by {key.get('withdrawn_by') or 'unknown'}"
        if key.get("withdrawal_reason"):
            withdrawn += f": {key['withdrawal_reason']}"
    return (
        key["key_id"],
        state_said(key),
        Text(f"{_when(key['created_at'])} by {key['created_by']}"),
        _when(key.get("retired_at")),
        Text(withdrawn),  # the operator's own words, never read as markup
    )


def rotated_text(rotation: dict[str, Any]) -> str:
    retired = rotation.get("retired") or []
    said = f"new credentials are signed with key {rotation['key_id']} ({rotation['kid']})"
    if not retired:
        return f"{said}; there was no active key to retire"
    return (
        f"{said}; retired {', '.join(retired)}: it signs nothing more and stays in the JWKS, so what it signed still"
        " verifies"
    )


def withdrawn_text(withdrawal: dict[str, Any]) -> str:
    key = withdrawal["withdrawn"]
    lines = [
        f"withdrew credential signing key {key['key_id']} ({_when(key.get('withdrawn_at'))}, {UK_TIME}): it is out of"
        " the JWKS and no credential it signed verifies any more (verifiers may keep the JWKS they fetched for up to"
        " 5 minutes). The LRS keeps no list of who holds credentials it signed: announce where learners and"
        f" verifiers will see it that credentials signed with key {key['key_id']} no longer verify, and that"
        " learners should export a new one",
    ]
    if replaced_by := withdrawal.get("replaced_by"):
        lines.append(f"it was the active key: new credentials are signed with key {replaced_by}")
    return "\n".join(lines)


def withdrawal_question(key_id: str, listed: list[dict[str, Any]]) -> str | None:
    """What the operator is asked before a withdrawal; None for a key withdrawn already (the projector says when and
    by whom, and changes nothing). A key the projector does not have is refused before anyone is asked."""
    key = next((key for key in listed if key["key_id"] == key_id), None)
    if key is None:
        raise CommandError(f"there is no credential signing key {key_id} (`lrs credential-keys list` lists them)")
    if not key["published"]:
        return None
    active = " It is the active key: a new key is made first and signs from now on." if key["active"] else ""
    return (
        f"Withdraw credential signing key {key_id}? Every credential it signed stops verifying, and its learners"
        f" must export a new one.{active} This cannot be undone."
    )


@app.command("list")
def list_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every credential signing key: the active one (signs new credentials), those retired (in the JWKS, so what
    they signed verifies) and those withdrawn (out of it), with who made and withdrew each, when (UK time) and why."""
    columns = ("key id", "state", f"created ({UK_TIME})", f"retired ({UK_TIME})", f"withdrawn ({UK_TIME})")
    print_listing(keys(connection(ctx)), as_json=as_json, columns=columns, row=_key_row, none="no keys yet")


@app.command("rotate")
def rotate_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Sign new credentials with a new key (yearly, say). The key retired can never sign again and stays in the
    JWKS: every credential already issued still verifies. It replaces the key it reads as active first: should
    another rotation happen meanwhile, nothing is rotated, and it says who made the active key and when (exit 1)."""
    rotation = rotate(connection(ctx))
    if as_json:
        print_json(rotation)
    else:
        print_text(rotated_text(rotation))


@app.command("withdraw")
def withdraw_command(
    ctx: typer.Context,
    key_id: Annotated[
        str,
        typer.Argument(
            help="The key's id (`lrs credential-keys list`), or the kid a credential names.", callback=key_id_value
        ),
    ],
    reason: Annotated[
        str, typer.Option(help="Why (1 to 500 characters), e.g. a suspected leak: kept with the withdrawal, logged.")
    ],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
) -> None:
    """After a suspected leak: take a key out of the JWKS for good. Every credential it signed stops verifying
    (tell its learners to export a new one); an active key is rotated first, so exports go on with a new key.
    Cannot be undone: asks first on a terminal; --yes in scripts."""
    where = connection(ctx)
    if not yes:
        confirmed("a withdrawal cannot be undone", lambda: withdrawal_question(key_id, keys(where)))
    withdrawal = withdraw(where, key_id, reason)
    if as_json:
        print_json(withdrawal)
    else:
        print_text(withdrawn_text(withdrawal))
