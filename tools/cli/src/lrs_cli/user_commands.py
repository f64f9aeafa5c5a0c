"""`lrs users create|disable|reset-password|list`: portal accounts, over the portal's admin API.

Operators only: the command sends the operator's API key (`--key-file` or `$LRS_API_KEY`) to the
portal at `$LRS_PORTAL_URL` (default http://127.0.0.1:8007). A new or reset password is generated
by the portal and printed once; the portal stores only its argon2 hash.
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Annotated, Any

import httpx
import typer

from lrs_cli.client import DEFAULT_URLS, CommandError, Connection, expect_ok
from lrs_cli.output import JsonOption, connection, print_json, print_text

DEFAULT_PORTAL_URL = DEFAULT_URLS["portal"]


def _portal(connection: Connection) -> httpx.Client:
    if not connection.api_key:
        raise CommandError("no API key: set LRS_API_KEY or pass --key-file (an operator's key)")
    return httpx.Client(
        base_url=os.environ.get("LRS_PORTAL_URL", DEFAULT_PORTAL_URL).rstrip("/"),
        headers={"Authorization": f"Bearer {connection.api_key}"},
        timeout=30.0,
    )


def _describe(account: dict[str, Any]) -> str:
    role = f"AO user of {account['ao_id']}" if account["role"] == "ao" else "operator"
    state = "disabled" if account["disabled"] else ("locked" if account["locked"] else "active")
    return f"{account['username']} ({account['display_name']}, {role}, {state})"


class Role(StrEnum):
    AO = "ao"
    OPERATOR = "operator"


def create(connection: Connection, username: str, name: str, role: Role, ao: str | None, email: str | None) -> str:
    if role is Role.AO and not ao:
        raise CommandError("an AO user needs --ao <recognition number>, like --ao RN5133")
    body = {
        "username": username,
        "display_name": name,
        "role": role.value,
        "ao_id": ao if role is Role.AO else None,
        "email": email,
    }
    with _portal(connection) as client:
        issued = expect_ok(client.post("/v1/admin/users", json=body))
    return f"created {_describe(issued['account'])}\npassword: {issued['password']}"


def disable(connection: Connection, username: str) -> str:
    with _portal(connection) as client:
        account = expect_ok(client.post(f"/v1/admin/users/{username}/disable"))
    return f"disabled {_describe(account)}; its sessions are ended"


def reset_password(connection: Connection, username: str) -> str:
    with _portal(connection) as client:
        issued = expect_ok(client.post(f"/v1/admin/users/{username}/reset-password"))
    return f"new password for {_describe(issued['account'])}\npassword: {issued['password']}"


def accounts(connection: Connection) -> list[dict[str, Any]]:
    with _portal(connection) as client:
        found: list[dict[str, Any]] = expect_ok(client.get("/v1/admin/users"))["items"]
    return found


app = typer.Typer(help="Operator: Organisation Portal accounts.", no_args_is_help=True)
Username = Annotated[str, typer.Argument(help="The account's sign-in name.")]


@app.command("create")
def create_command(
    ctx: typer.Context,
    username: Username,
    name: Annotated[str, typer.Option(help="The person's name, as the portal shows it.")],
    role: Annotated[Role, typer.Option(help="ao: an AO's staff; operator: runs the service.")],
    ao: Annotated[str | None, typer.Option(help="The AO's recognition number, for --role ao.")] = None,
    email: Annotated[str | None, typer.Option(help="Where direct-entry results are emailed by default.")] = None,
) -> None:
    """Create an account; prints its generated password once."""
    print_text(create(connection(ctx), username, name, role, ao, email))


@app.command("disable")
def disable_command(ctx: typer.Context, username: Username) -> None:
    """Disable an account and end its sessions."""
    print_text(disable(connection(ctx), username))


@app.command("reset-password")
def reset_password_command(ctx: typer.Context, username: Username) -> None:
    """Generate a new password; lifts a lock-out."""
    print_text(reset_password(connection(ctx), username))


@app.command("list")
def list_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every portal account."""
    found = accounts(connection(ctx))
    if as_json:
        print_json(found)
    else:
        print_text("\n".join(_describe(account) for account in found) or "no accounts")
