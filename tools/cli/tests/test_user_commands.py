"""`lrs users`: an operator's duties on the command line (decision 0124), checked before anything is sent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from lrs_cli import user_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_cli.user_commands import account_text, change_text

NOWHERE = "http://127.0.0.1:9"  # nothing listens: a refused command must not reach it


@pytest.fixture(autouse=True)
def _operator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setenv("LRS_PORTAL_URL", NOWHERE)


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["users", "duties", "oncall"], "--scope (repeatable), or --every-duty"),
        (["users", "duties", "oncall", "--scope", "rebuild", "--every-duty"], "one of them"),
        (["users", "duties", "oncall", "--scope", "root"], "unknown scope(s) root; the scopes are support"),
        (
            ["users", "create", "nia", "--name", "Nia", "--role", "ao", "--ao", "RN5133", "--scope", "support"],
            "--scope and --every-duty are for operators",
        ),
        (["users", "create", "ops2", "--name", "Ops", "--role", "operator"], "--scope (repeatable), or --every-duty"),
        (
            ["users", "create", "nia", "--name", "Nia", "--role", "ao", "--ao", "RN5133", "--email-link"],
            "--email-link needs --email",
        ),
        (["users", "email", "nia"], "new email address, or --remove: one of them"),
        (["users", "email", "nia", "nia@ao.example", "--remove"], "new email address, or --remove: one of them"),
    ],
)
def test_duties_spelt_wrong_are_a_usage_error(argv: list[str], said: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == ExitCode.USAGE
    assert said in capsys.readouterr().err


def test_an_account_is_described_with_its_duties() -> None:
    account = {"username": "oncall", "display_name": "Oncall", "role": "operator", "disabled": False, "locked": False}

    assert account_text({**account, "scopes": ["dead-letters", "rebuild"]}) == (
        "oncall (Oncall, operator with duties dead-letters, rebuild, active)"
    )
    assert account_text({**account, "scopes": []}) == "oncall (Oncall, operator with every duty, active)"


CHANGE = {
    "change_id": 7,
    "changed_at": "2026-12-02T02:30:00Z",
    "changed_by": "operator:root",
    "subject": "oncall",
    "change": "duties_changed",
    "detail": "dead-letters, rebuild",
}


def test_a_change_is_one_line_saying_when_who_what_and_to_what() -> None:
    assert change_text(CHANGE) == "2 Dec 2026, 02:30  operator:root  oncall  duties changed: dead-letters, rebuild"
    assert change_text({**CHANGE, "change": "disabled", "detail": ""}).endswith("oncall  disabled")


@pytest.mark.parametrize(
    ("page", "argv", "printed"),
    [
        ({"changes": [], "next": None}, [], "no changes\n"),
        (
            {"changes": [{**CHANGE, "change": "disabled", "detail": ""}], "next": 7},
            [],
            "when (UK time)  by  account  change\n2 Dec 2026, 02:30  operator:root  oncall  disabled\n"
            "older: lrs users changes --before 7\n",
        ),
        ({"changes": [], "next": None}, ["--json"], '{\n  "changes": [],\n  "next": null\n}\n'),
    ],
)
def test_the_changes_are_printed_with_the_way_to_older_ones(
    page: dict[str, object],
    argv: list[str],
    printed: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    asked: list[tuple[int, int | None]] = []

    def answer(connection: object, limit: int, before: int | None = None) -> dict[str, object]:
        asked.append((limit, before))
        return page

    monkeypatch.setattr(user_commands, "changes", answer)

    assert main(["users", "changes", "--limit", "5", "--before", "9", *argv]) == ExitCode.OK
    assert capsys.readouterr().out == printed
    assert asked == [(5, 9)]


def test_the_accounts_are_listed_with_the_filters_asked_and_the_way_to_the_next_page(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[dict[str, object]] = []
    account = {"username": "nia", "display_name": "Nia", "role": "ao", "ao_id": "RN5133", "disabled": False}

    def answer(connection: object, **filters: object) -> dict[str, object]:
        asked.append(filters)
        return {"items": [{**account, "locked": False, "scopes": []}], "next": "nia"}

    monkeypatch.setattr(user_commands, "accounts", answer)

    argv = ["users", "list", "--ao", "RN5133", "--role", "ao", "--starting", "n", "--after", "m", "--limit", "1"]
    assert main(argv) == ExitCode.OK
    assert capsys.readouterr().out == (
        "nia (Nia, AO user of RN5133, active)\nmore: lrs users list --after nia (with the same filters)\n"
    )
    assert asked == [{"ao": "RN5133", "role": user_commands.Role.AO, "starting": "n", "after": "m", "limit": 1}]


def test_the_list_asks_the_portal_for_the_page_as_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[httpx.Request] = []

    def portal(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"items": [], "next": None})

    def client(connection: object) -> httpx.Client:
        return httpx.Client(base_url="http://portal", transport=httpx.MockTransport(portal))

    monkeypatch.setattr(user_commands, "_portal", client)

    assert main(["users", "list", "--ao", " rn5133", "--role", "operator", "--starting", "Nia", "--limit", "7"]) == 0
    assert main(["users", "list", "--after", "nia"]) == 0
    assert [(request.url.path, dict(request.url.params)) for request in sent] == [
        ("/v1/admin/users", {"limit": "7", "ao_id": "RN5133", "role": "operator", "starting": "nia"}),
        ("/v1/admin/users", {"limit": "500", "after": "nia"}),
    ]


def test_a_reader_that_stops_reading_ends_the_command_by_sigpipe() -> None:
    """`lrs ... | head -1`: exit 1 would tell a script the batch was rejected; a shell sees 141."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will read: the first write meets a broken pipe
    lrs = Path(sys.executable).parent / "lrs"
    ended = subprocess.run(
        [str(lrs), "batch", "check", "samples/sample-100.csv"], stdout=write_end, capture_output=False,
        stderr=subprocess.PIPE, text=True, timeout=60, check=False,
    )  # fmt: skip
    os.close(write_end)

    assert (ended.returncode, ended.stderr) == (-signal.SIGPIPE, "")
