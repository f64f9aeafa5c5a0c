"""`lrs users create|disable|reset-password|list`: portal accounts, over the portal's admin API.

Operators only: the command sends the operator's API key (`--key-file` or `$LRS_API_KEY`) to the
portal at `$LRS_PORTAL_URL` (default http://127.0.0.1:8007). A new or reset password is generated
by the portal and printed once; the portal stores only its argon2 hash.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import httpx

from lrs_cli.client import CommandError, Connection, expect_ok

DEFAULT_PORTAL_URL = "http://127.0.0.1:8007"


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


def create(connection: Connection, args: argparse.Namespace) -> str:
    if args.role == "ao" and not args.ao:
        raise CommandError("an AO user needs --ao <recognition number>, like --ao RN5133")
    body = {
        "username": args.username,
        "display_name": args.name,
        "role": args.role,
        "ao_id": args.ao if args.role == "ao" else None,
        "email": args.email,
    }
    with _portal(connection) as client:
        issued = expect_ok(client.post("/v1/admin/users", json=body))
    return f"created {_describe(issued['account'])}\npassword: {issued['password']}"


def disable(connection: Connection, args: argparse.Namespace) -> str:
    with _portal(connection) as client:
        account = expect_ok(client.post(f"/v1/admin/users/{args.username}/disable"))
    return f"disabled {_describe(account)}; its sessions are ended"


def reset_password(connection: Connection, args: argparse.Namespace) -> str:
    with _portal(connection) as client:
        issued = expect_ok(client.post(f"/v1/admin/users/{args.username}/reset-password"))
    return f"new password for {_describe(issued['account'])}\npassword: {issued['password']}"


def listing(connection: Connection, _args: argparse.Namespace) -> str:
    with _portal(connection) as client:
        accounts = expect_ok(client.get("/v1/admin/users"))["items"]
    return "\n".join(_describe(account) for account in accounts) or "no accounts"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds `users ...` to the `lrs` parser; each action sets `run(connection, args)`."""
    users = commands.add_parser("users", help="operator: Organisation Portal accounts")
    actions = users.add_subparsers(dest="action", required=True)
    create_parser = actions.add_parser("create", help="create an account; prints its generated password once")
    create_parser.add_argument("username")
    create_parser.add_argument("--name", required=True, help="the person's name, as the portal shows it")
    create_parser.add_argument("--role", choices=["ao", "operator"], required=True)
    create_parser.add_argument("--ao", help="the AO's recognition number, for --role ao")
    create_parser.add_argument("--email", help="where direct-entry results are emailed by default")
    create_parser.set_defaults(run=create)
    disable_parser = actions.add_parser("disable", help="disable an account and end its sessions")
    disable_parser.add_argument("username")
    disable_parser.set_defaults(run=disable)
    reset_parser = actions.add_parser("reset-password", help="generate a new password; lifts a lock-out")
    reset_parser.add_argument("username")
    reset_parser.set_defaults(run=reset_password)
    list_parser = actions.add_parser("list", help="every portal account")
    list_parser.set_defaults(run=listing)
