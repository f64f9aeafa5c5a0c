"""`lrs users ... USERNAME`: the argument is checked against the portal's username rule before the portal is asked
(a usage error, exit status 2, in one line), and is percent-quoted in the admin API's address: a `/`, `..` or `?` in
a name never makes the command act on another account or route."""

from __future__ import annotations

import httpx
import pytest

from lrs_cli import user_commands
from lrs_cli.client import Connection, ExitCode
from lrs_cli.main import main
from portal.accounts import USERNAME_PATTERN

from .answering import answered_by

ACCOUNT = {
    "username": "ao.demo",
    "display_name": "AO Demo",
    "role": "ao",
    "ao_id": "RN9093",
    "scopes": [],
    "disabled": False,
    "locked": False,
    "email": "ao@ao.example",
}

COMMANDS = [
    ["users", "disable"],
    ["users", "enable"],
    ["users", "reset-password"],
    ["users", "email-link"],
    ["users", "duties", "{}", "--every-duty"],
    ["users", "email", "{}", "--remove"],
    ["users", "create", "{}", "--name", "Nia", "--role", "ao", "--ao", "RN9093"],
]


def argv(command: list[str], username: str) -> list[str]:
    return [username if part == "{}" else part for part in command] + ([username] if "{}" not in command else [])


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    """The portal answers every request as if it acted on ao.demo; the requests made."""
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(
            200,
            json={
                "account": ACCOUNT,
                "password": "x" * 16,
                "sent_to": "ao@ao.example",
                "expires_at": "2026-12-06T08:00:00Z",
                **ACCOUNT,
            },
        )

    answered_by(monkeypatch, answer)
    monkeypatch.setenv("LRS_PORTAL_URL", "http://127.0.0.1:8007")
    return requests


@pytest.mark.parametrize("username", ["nobody/../ao.demo", "ao.demo?x=", "ao.demo#x", "a", "ao demo", "ao.demo\x00"])
@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(command[:2]) for command in COMMANDS])
def test_a_username_no_account_can_have_is_a_usage_error_before_the_portal_is_asked(
    command: list[str], username: str, asked: list[httpx.Request], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv(command, username)) == ExitCode.USAGE

    err = capsys.readouterr().err
    assert "is not a portal username" in err and err.strip().count("\n") == 0, err
    assert asked == []


@pytest.mark.parametrize(
    ("command", "path"),
    [
        (["users", "disable"], "/v1/admin/users/ao.demo/disable"),
        (["users", "enable"], "/v1/admin/users/ao.demo/enable"),
        (["users", "reset-password"], "/v1/admin/users/ao.demo/reset-password"),
        (["users", "email-link"], "/v1/admin/users/ao.demo/password-link"),
        (["users", "duties", "{}", "--every-duty"], "/v1/admin/users/ao.demo/scopes"),
        (["users", "email", "{}", "--remove"], "/v1/admin/users/ao.demo/email"),
    ],
)
def test_a_username_typed_in_another_case_or_with_spaces_is_the_portals_reading_of_it(
    command: list[str], path: str, asked: list[httpx.Request]
) -> None:
    assert main(argv(command, " AO.Demo ")) == ExitCode.OK

    (request,) = asked
    assert request.url.raw_path.decode() == path


def test_the_username_is_percent_quoted_in_every_address_whatever_it_holds(asked: list[httpx.Request]) -> None:
    connection = Connection(api_key="lrs_test_key")
    crafted = "nobody/../ao.demo?x=#"

    user_commands.disable(connection, crafted)
    user_commands.enable(connection, crafted)
    user_commands.reset_password(connection, crafted)
    user_commands.email_link(connection, crafted)
    user_commands.set_duties(connection, crafted, (), every_duty=True)
    user_commands.set_email(connection, crafted, None, remove=True)

    quoted = "nobody%2F..%2Fao.demo%3Fx%3D%23"
    assert [request.url.raw_path.decode().split("/")[4] for request in asked] == [quoted] * 6
    assert all(request.url.query == b"" for request in asked)


def test_the_commands_username_rule_is_the_portals() -> None:
    assert user_commands.USERNAME_PATTERN.pattern == USERNAME_PATTERN.pattern


def test_an_emailed_links_expiry_is_said_in_uk_time_as_the_email_says_it(asked: list[httpx.Request]) -> None:
    said = user_commands.email_link(Connection(api_key="lrs_test_key"), "ao.demo")

    assert said.endswith("it works once, until 6 Dec 2026, 08:00 (UK time)"), said
