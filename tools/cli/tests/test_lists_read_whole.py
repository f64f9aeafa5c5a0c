"""`--all` on every list read a page at a time with `--after` (`lrs challenges list`, `lrs learners erasures`,
`lrs learners disclosures`, `lrs learners hidden-reports`, `lrs users list`), as on `lrs batch list`: every page,
the largest the service serves, from `--after` on or from the start, printed as one list; no "more: … --after" line,
so that a script has the whole list on stdout."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lrs_cli import (
    challenge_commands,
    erasure_commands,
    hidden_report_commands,
    personal_data_commands,
    user_commands,
)
from lrs_cli.client import ExitCode
from lrs_cli.main import main


class _Paged:
    """A list of three pages, each after the position the one before named; records every `limit` and `after`."""

    sandpit = False
    api_key = "lrs_test_key"

    def __init__(self, items: str, extra: dict[str, Any] | None = None, *, loops: bool = False) -> None:
        self.items = items
        self.extra = extra or {}
        self.asked: list[tuple[str | None, str | None]] = []
        self.pages: dict[str | None, tuple[list[dict[str, Any]], str | None]] = {
            None: ([{"id": 1}, {"id": 2}], "p2"),
            "p2": ([{"id": 3}, {"id": 4}], "p3"),
            "p3": ([{"id": 5}], "p2" if loops else None),
        }

    def command(self, arguments: str) -> str:
        return f"lrs {arguments}"

    def client(self, service: str = "any", timeout: float = 60.0) -> httpx.Client:
        def answer(request: httpx.Request) -> httpx.Response:
            after = request.url.params.get("after")
            self.asked.append((request.url.params.get("limit"), after))
            found, following = self.pages[after]
            extra = self.extra | ({"more": following is not None} if "more" in self.extra else {})  # as services say
            return httpx.Response(200, json={self.items: found, "next": following, **extra})

        return httpx.Client(base_url=f"http://{service}", transport=httpx.MockTransport(answer))


EVERY_ID = [{"id": number} for number in range(1, 6)]
LISTS = [
    pytest.param(["challenges", "list"], challenge_commands, "items", "1000", id="challenges-list"),
    pytest.param(["learners", "erasures"], erasure_commands, "erasures", "1000", id="learners-erasures"),
    pytest.param(["learners", "disclosures"], personal_data_commands, "disclosures", "1000", id="learners-disclosures"),
]


def _run(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    module: Any,
    service: _Paged,
    *arguments: str,
) -> tuple[int, str, str]:
    monkeypatch.setattr(module, "connection", lambda ctx: service)
    code = main(list(arguments))
    said = capsys.readouterr()
    return code, said.out, said.err


@pytest.mark.parametrize(("command", "module", "items", "largest"), LISTS)
def test_all_reads_every_page_the_largest_the_service_serves(
    command: list[str],
    module: Any,
    items: str,
    largest: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    service = _Paged(items)

    code, out, err = _run(monkeypatch, capsys, module, service, *command, "--all", "--json", "--limit", "2")

    assert code == ExitCode.OK
    assert json.loads(out) == EVERY_ID
    assert "more:" not in err
    assert service.asked == [(largest, None), (largest, "p2"), (largest, "p3")]


@pytest.mark.parametrize(("command", "module", "items", "largest"), LISTS)
def test_all_with_after_reads_from_that_position_on(
    command: list[str],
    module: Any,
    items: str,
    largest: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    service = _Paged(items)

    code, out, _ = _run(monkeypatch, capsys, module, service, *command, "--all", "--after", "p2", "--json")

    assert code == ExitCode.OK
    assert json.loads(out) == EVERY_ID[2:]
    assert [after for _, after in service.asked] == ["p2", "p3"]


@pytest.mark.parametrize(("command", "module", "items", "largest"), LISTS)
def test_without_all_a_page_and_where_the_next_starts_as_before(
    command: list[str],
    module: Any,
    items: str,
    largest: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    service = _Paged(items)

    code, out, err = _run(monkeypatch, capsys, module, service, *command, "--json", "--limit", "2")

    assert code == ExitCode.OK
    assert json.loads(out) == EVERY_ID[:2]
    assert err == "more: the same command with --after p2\n"
    assert service.asked == [("2", None)]


def test_a_list_that_names_a_position_twice_is_not_read_for_ever(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    service = _Paged("items", loops=True)

    code, out, err = _run(monkeypatch, capsys, challenge_commands, service, "challenges", "list", "--all", "--json")

    assert (code, out) == (ExitCode.FAILED, "")
    assert "named the position p2 twice" in err


def test_hidden_reports_all_adds_up_the_reports_hidden(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    service = _Paged("links", {"hidden_reports": 2, "more": False})

    code, out, err = _run(
        monkeypatch, capsys, hidden_report_commands, service, "learners", "hidden-reports", "--all", "--json"
    )

    assert code == ExitCode.OK
    assert json.loads(out) == EVERY_ID
    assert "more" not in err
    assert service.asked == [("1000", None), ("1000", "p2"), ("1000", "p3")]


def test_hidden_reports_all_says_how_many_are_hidden_in_all(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    service = _Paged("links", {"hidden_reports": 2, "more": False})
    for number, (found, following) in service.pages.items():
        service.pages[number] = (
            [
                {"uln": "******0043", "master_uln": "******0043", "provider_ukprn": "10004567", "hidden_reports": 1}
                for _ in found
            ],
            following,
        )

    code, out, _ = _run(monkeypatch, capsys, hidden_report_commands, service, "learners", "hidden-reports", "--all")

    assert code == ExitCode.OK
    assert "6 centre reports hidden. Once" in " ".join(out.split())


def test_users_list_all_prints_every_account_and_no_next(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    service = _Paged("items")
    monkeypatch.setattr(user_commands, "connection", lambda ctx: service)
    monkeypatch.setattr(user_commands, "_portal", lambda connection: service.client("portal"))

    code = main(["users", "list", "--all", "--json"])

    assert code == ExitCode.OK
    assert json.loads(capsys.readouterr().out) == {"items": EVERY_ID, "next": None}
    assert service.asked == [("500", None), ("500", "p2"), ("500", "p3")]


@pytest.mark.parametrize(
    "command",
    [
        ["challenges", "list"],
        ["learners", "erasures"],
        ["learners", "disclosures"],
        ["learners", "hidden-reports"],
        ["users", "list"],
    ],
    ids=" ".join,
)
def test_the_help_of_each_list_offers_all(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "200")

    assert main([*command, "--help"]) == ExitCode.OK

    assert "--all" in capsys.readouterr().out
