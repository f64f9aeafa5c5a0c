"""`lrs users create|disable|reset-password|email-link|duties|email|list|changes`: portal accounts, over the portal's
admin API.

Operators only: the command sends the operator's API key (`--key-file` or `$LRS_API_KEY`) to the
portal at `$LRS_PORTAL_URL` (default http://127.0.0.1:8007). A new or reset password is generated
by the portal and printed once; the portal stores only its argon2 hash. `create --email-link` has the portal
email the person a link to choose their own password instead (decision 0129): nobody sees it; `email-link`
sends an existing account's person such a link. An operator's account may be
limited to duties (decision 0124): the scopes of operator keys, which its sessions' keys then carry.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer

from lrs_cli.choices import one_of
from lrs_cli.client import DEFAULT_URLS, CommandError, Connection, UsageError, expect_ok, refuse_key_in_clear
from lrs_cli.identifiers import ao_id_value
from lrs_cli.listing import EveryOption, every_page
from lrs_cli.output import JsonOption, connection, print_json, print_text
from lrs_cli.times import UK_TIME, uk_time
from lrs_platform.identity import OperatorScope, parse_scopes

DEFAULT_PORTAL_URL = DEFAULT_URLS["portal"]
# The portal's username rule (`portal.accounts.USERNAME_PATTERN`, which a test holds this to: the command imports no
# service).
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")


_CREATE_NAMED = {"username": "USERNAME", "display_name": "--name", "scopes": "--scope", "first_link": "--email-link"}
"""The admin API's fields that `users create` sends from an option or argument named otherwise, as a refusal says
them (`body.display_name`: `--name`); `ao_id` is `--ao` in every command."""
_DUTIES_NAMED = {"scopes": "--scope"}


def _portal(connection: Connection) -> httpx.Client:
    if not connection.api_key:
        raise CommandError("no API key: set LRS_API_KEY or pass --key-file (an operator's key)")
    base_url = os.environ.get("LRS_PORTAL_URL", DEFAULT_PORTAL_URL).rstrip("/")
    refuse_key_in_clear(base_url, "LRS_PORTAL_URL")
    return httpx.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {connection.api_key}"},
        timeout=30.0,
    )


def checked_username(typed: str) -> str:
    """The username `typed` names, as the portal reads one (any case, spaces around it), or a UsageError before the
    portal is asked: put in the address unchecked, a `/`, `..` or `?` in it would name another account or route."""
    username = typed.strip().lower()
    if not USERNAME_PATTERN.fullmatch(username):
        raise UsageError(
            f"{typed!r} is not a portal username: 2 to 64 of a-z, 0-9 and . _ @ -, the first a letter or digit, like"
            " j.smith"
        )
    return username


def _account_path(username: str) -> str:
    """The admin API's address of the account: the username percent-quoted whatever it holds."""
    return f"/v1/admin/users/{quote(username, safe='')}"


def account_text(account: dict[str, Any]) -> str:
    if account["role"] == "ao":
        role = f"AO user of {account['ao_id']}"
    else:
        duties = account.get("scopes") or []
        role = f"operator with duties {', '.join(duties)}" if duties else "operator with every duty"
    state = "disabled" if account["disabled"] else ("locked" if account["locked"] else "active")
    return f"{account['username']} ({account['display_name']}, {role}, {state})"


class Role(StrEnum):
    AO = "ao"
    OPERATOR = "operator"


def _checked(scopes: Sequence[str]) -> list[str]:
    try:
        return sorted(parse_scopes(scopes))
    except ValueError as error:
        raise UsageError(str(error)) from error


def create(
    connection: Connection,
    username: str,
    name: str,
    role: Role,
    ao: str | None,
    email: str | None,
    scopes: Sequence[str] = (),
    every_duty: bool = False,
    email_link: bool = False,
) -> str:
    if email_link and not email:
        raise UsageError("--email-link needs --email: the address the link goes to")
    if role is Role.AO and not ao:
        raise UsageError("an AO user needs --ao <recognition number>, like --ao RN9093")
    if role is Role.AO and (scopes or every_duty):
        raise UsageError("--scope and --every-duty are for operators: an AO user acts for its AO")
    if role is Role.OPERATOR:
        _one_of(scopes, every_duty)
    body = {
        "username": username,
        "display_name": name,
        "role": role.value,
        "ao_id": ao if role is Role.AO else None,
        "email": email,
        "scopes": _checked(scopes),
        "every_duty": every_duty,
        "first_link": email_link,
    }
    with _portal(connection) as client:
        issued = expect_ok(client.post("/v1/admin/users", json=body), named=_CREATE_NAMED)
    if issued.get("first_link_sent_to"):
        return (
            f"created {account_text(issued['account'])}\n"
            f"a link to choose their password was emailed to {issued['first_link_sent_to']}"
        )
    return f"created {account_text(issued['account'])}\npassword: {issued['password']}"


def _key_text(key: dict[str, Any]) -> str:
    """An API key as the portal names it: its label and id, never a secret."""
    return f"{key['label']} (key {key['key_id']})" if key.get("label") else f"key {key['key_id']}"


def _keys_of(account: dict[str, Any], keys: Sequence[dict[str, Any]]) -> str:
    return f"{len(keys)} API key{'' if len(keys) == 1 else 's'} of operator:{account['username']}"


def disable(connection: Connection, username: str) -> str:
    with _portal(connection) as client:
        account = expect_ok(client.post(f"{_account_path(username)}/disable"))
    lines = [f"disabled {account_text(account)}; its sessions are ended"]
    if revoked := account.get("keys_revoked"):
        one = len(revoked) == 1
        lines.append(
            f"{_keys_of(account, revoked)} {'was' if one else 'were'} revoked with it:"
            f" {', '.join(map(_key_text, revoked))}"
        )
    elif account["role"] == "operator" and "keys_revoked" in account:  # a portal from before says nothing of keys
        lines.append(f"no API key of operator:{account['username']} was live")
    if contact := account.get("challenge_contact"):
        by = f" (set by {contact['set_by']})" if contact.get("set_by") else ""
        lines.append(
            f"{contact['email']} is {contact['ao_id']}'s challenge contact{by}: ask the AO to set another on its"
            " Challenge contact page"
        )
    return "\n".join(lines)


def enable(connection: Connection, username: str) -> str:
    with _portal(connection) as client:
        account = expect_ok(client.post(f"{_account_path(username)}/enable"))
    return f"enabled {account_text(account)} again, its password as it was"


def reset_password(connection: Connection, username: str) -> str:
    with _portal(connection) as client:
        issued = expect_ok(client.post(f"{_account_path(username)}/reset-password"))
    return f"new password for {account_text(issued['account'])}\npassword: {issued['password']}"


def email_link(connection: Connection, username: str) -> str:
    with _portal(connection) as client:
        # answered once the relay has taken the email: it may wait its turn, then the relay's time
        sent = expect_ok(client.post(f"{_account_path(username)}/password-link", timeout=120.0))
    return (
        f"a link to choose a password was emailed to {sent['sent_to']} for {account_text(sent['account'])};"
        f" it works once, until {uk_time(sent['expires_at'])}"
    )


def _one_of(scopes: Sequence[str], every_duty: bool) -> None:
    if bool(scopes) == every_duty:
        raise UsageError("give the operator's duties with --scope (repeatable), or --every-duty: one of them")


def set_duties(connection: Connection, username: str, scopes: Sequence[str], every_duty: bool) -> str:
    _one_of(scopes, every_duty)
    body = {"scopes": _checked(scopes), "every_duty": every_duty}
    with _portal(connection) as client:
        account = expect_ok(client.put(f"{_account_path(username)}/scopes", json=body), named=_DUTIES_NAMED)
    said = f"{account_text(account)}; their sessions are ended, unless these were their duties already"
    if beyond := account.get("keys_beyond_duties"):
        one = len(beyond) == 1
        named = "; ".join(
            f"{_key_text(key)}: {', '.join(key['scopes']) if key['scopes'] else 'every duty'}" for key in beyond
        )
        said += (
            f"\n{_keys_of(account, beyond)} still {'does' if one else 'do'} more than these duties: {named};"
            f" {'it stays' if one else 'they stay'} until revoked: lrs credentials revoke --principal"
            f" operator:{account['username']}"
        )
    return said


def set_email(connection: Connection, username: str, address: str | None, remove: bool) -> str:
    if (address is None) != remove:
        raise UsageError("give the account's new email address, or --remove: one of them")
    with _portal(connection) as client:
        account = expect_ok(
            client.put(f"{_account_path(username)}/email", json={"email": address}), named={"email": "ADDRESS"}
        )
    where = f"email {account['email']}" if account["email"] else "no email address"
    return f"{account_text(account)}: {where}; links to choose a password sent to another address no longer work"


def changes(connection: Connection, limit: int, before: int | None = None) -> dict[str, Any]:
    """A page of the changes of accounts and AO keys, newest first (decision 0126): `changes`, and `next`
    to pass as `before` for the older page (None on the last)."""
    params: dict[str, int] = {"limit": limit} if before is None else {"limit": limit, "before": before}
    with _portal(connection) as client:
        page: dict[str, Any] = expect_ok(client.get("/v1/admin/users/changes", params=params))
    return page


def change_text(change: dict[str, Any]) -> str:
    detail = f": {change['detail']}" if change["detail"] else ""
    words = change["change"].replace("_", " ")
    return (
        f"{uk_time(change['changed_at'], labelled=False)}  {change['changed_by']}  {change['subject']}  {words}{detail}"
    )


def accounts(
    connection: Connection,
    *,
    ao: str | None = None,
    role: Role | None = None,
    starting: str | None = None,
    after: str | None = None,
    limit: int = 500,
) -> dict[str, Any]:
    """A page of accounts by username: `items`, and `next` to pass as `after` for the next (None: the last)."""
    params: dict[str, str | int] = {"limit": limit}
    for name, value in (
        ("ao_id", ao.strip().upper() if ao else None),
        ("role", role.value if role else None),
        ("starting", starting.strip().lower() if starting else None),
        ("after", after),
    ):
        if value:
            params[name] = value
    with _portal(connection) as client:
        page: dict[str, Any] = expect_ok(client.get("/v1/admin/users", params=params))
    return page


app = typer.Typer(help="Operator: Organisation Portal accounts.", no_args_is_help=True)
ACCOUNTS_PAGE = 500  # the largest page of accounts the portal serves
Username = Annotated[str, typer.Argument(help="The account's sign-in name, like j.smith.", callback=checked_username)]
_DUTY_NAMES = ", ".join(scope.value for scope in OperatorScope)


@app.command("create")
def create_command(
    ctx: typer.Context,
    username: Username,
    name: Annotated[str, typer.Option(help="The person's name, as the portal shows it.")],
    role: Annotated[
        Role, typer.Option(help="ao: an AO's staff; operator: runs the service.", parser=one_of(Role, "--role"))
    ],
    ao: Annotated[
        str | None, typer.Option(help="The AO's recognition number, for --role ao.", callback=ao_id_value)
    ] = None,
    email: Annotated[
        str | None,
        typer.Option(
            help="The person's email address: direct-entry results go there by default, and forgotten-password links."
        ),
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option(help=f"Operators, repeatable: the account's duties ({_DUTY_NAMES})."),
    ] = None,
    every_duty: Annotated[bool, typer.Option("--every-duty", help="Operators: every duty instead of --scope.")] = False,
    email_link: Annotated[
        bool,
        typer.Option(
            "--email-link",
            help="Email the person a link to choose their own password (needs --email) instead of printing one.",
        ),
    ] = False,
) -> None:
    """Create an account; prints its generated password once, or with --email-link emails the person a link to
    choose their own. An operator needs --scope or --every-duty."""
    print_text(create(connection(ctx), username, name, role, ao, email, scope or (), every_duty, email_link))


@app.command("disable")
def disable_command(ctx: typer.Context, username: Username) -> None:
    """Disable an account and end its sessions."""
    print_text(disable(connection(ctx), username))


@app.command("enable")
def enable_command(ctx: typer.Context, username: Username) -> None:
    """Enable a disabled account again, its password as it was (reset it if it may be known to others)."""
    print_text(enable(connection(ctx), username))


@app.command("reset-password")
def reset_password_command(ctx: typer.Context, username: Username) -> None:
    """Generate a new password; lifts a lock-out."""
    print_text(reset_password(connection(ctx), username))


@app.command("email-link")
def email_link_command(ctx: typer.Context, username: Username) -> None:
    """Email the person a link to choose a password (their password stays until they use it)."""
    print_text(email_link(connection(ctx), username))


@app.command("duties")
def duties_command(
    ctx: typer.Context,
    username: Username,
    scope: Annotated[
        list[str] | None, typer.Option(help=f"Repeatable: the operator's duties from now on ({_DUTY_NAMES}).")
    ] = None,
    every_duty: Annotated[bool, typer.Option("--every-duty", help="Give the operator every duty.")] = False,
) -> None:
    """Set an operator's duties (needs an operator key without scopes); ends their sessions unless the duties are
    theirs already."""
    print_text(set_duties(connection(ctx), username, scope or (), every_duty))


@app.command("email")
def email_command(
    ctx: typer.Context,
    username: Username,
    address: Annotated[str | None, typer.Argument(help="The new email address.")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Leave the account without an email address.")] = False,
) -> None:
    """Set the email address forgotten-password links go to (an operator's: needs a key without scopes)."""
    print_text(set_email(connection(ctx), username, address, remove))


@app.command("changes")
def changes_command(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many, newest first.")] = 50,
    before: Annotated[int | None, typer.Option(min=1, help="Only changes older than this one (a page's next).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Who created, disabled or changed which account, and issued or revoked which AO key in the portal, when (UK time;
    --json: the instant)."""
    page = changes(connection(ctx), limit, before)
    if as_json:
        print_json(page)
        return
    lines = [f"when ({UK_TIME})  by  account  change", *map(change_text, page["changes"])] if page["changes"] else []
    lines = lines or ["no changes"]
    if page["next"] is not None:
        lines.append(f"older: lrs users changes --before {page['next']}")
    print_text("\n".join(lines))


@app.command("list")
def list_command(
    ctx: typer.Context,
    ao: Annotated[
        str | None, typer.Option(help="Only this AO's staff (its recognition number).", callback=ao_id_value)
    ] = None,
    role: Annotated[
        Role | None, typer.Option(help="Only AO users, or only operators.", parser=one_of(Role, "--role"))
    ] = None,
    starting: Annotated[str | None, typer.Option(help="Only usernames starting with this.")] = None,
    after: Annotated[str | None, typer.Option(help="The page after this username (a page's next).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=ACCOUNTS_PAGE, help="How many, by username.")] = ACCOUNTS_PAGE,
    every: EveryOption = False,
    as_json: JsonOption = False,
) -> None:
    """Portal accounts, a page at a time by username, or every one (--all)."""
    to_portal = connection(ctx)

    def read(at: str | None, size: int) -> dict[str, Any]:
        return accounts(to_portal, ao=ao, role=role, starting=starting, after=at, limit=size)

    page = every_page(lambda at: read(at, ACCOUNTS_PAGE), "items", after) if every else read(after, limit)
    if as_json:
        print_json(page)
        return
    lines = [account_text(account) for account in page["items"]] or ["no accounts"]
    if page.get("next"):
        lines.append(f"more: lrs users list --after {page['next']} (with the same filters)")
    print_text("\n".join(lines))
