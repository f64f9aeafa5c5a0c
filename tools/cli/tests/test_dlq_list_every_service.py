"""`lrs dlq list` without --service lists every service's parked messages (as `--service all` does): an operator on
call asking what is parked must not be told "no parked events" of the projector alone while ingest holds some.
A listing of one service that finds none says which service it asked. `retry`, `skip` and `history` act on one
service, and their help says so."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lrs_cli import dlq_commands
from lrs_cli.client import Connection, ExitCode
from lrs_cli.main import main

PARKED = {
    "id": 1,
    "consumer": "ingest.batch-view",
    "topic": "lrs.batch.outcomes.v1",
    "partition": 5,
    "offset": 10,
    "reason": "error",
    "attempts": 1,
    "error": "invalid: Invalid JSON",
}


@pytest.fixture
def only_ingest_holds_one(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every service answers; ingest alone has a parked message. Returns the services asked, in order."""
    asked: list[str] = []

    def parked_messages(
        connection: Connection, service: str, key: str | None = None, topic: str | None = None, limit: int = 500
    ) -> tuple[list[dict[str, Any]], int]:
        asked.append(service)
        found = [PARKED] if service == "ingest" else []
        return found, len(found)

    monkeypatch.setattr(dlq_commands, "parked_messages", parked_messages)
    monkeypatch.setenv("LRS_API_KEY", "lrs_k1_secret")
    return asked


def test_list_without_a_service_lists_every_service(
    only_ingest_holds_one: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dlq", "list"]) == ExitCode.OK

    out = capsys.readouterr().out
    assert only_ingest_holds_one == list(dlq_commands.SERVICES)
    assert "== plr-projector\nno parked events\n== ingest\n" in out
    assert "ingest.batch-view" in out


def test_list_json_without_a_service_names_every_service_the_projector_s_key_kept(
    only_ingest_holds_one: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dlq", "list", "--json"]) == ExitCode.OK

    printed = json.loads(capsys.readouterr().out)["services"]
    assert list(printed) == list(dlq_commands.SERVICES)
    assert printed["plr-projector"] == {"parked": [], "total": 0, "error": None}
    assert printed["ingest"] == {"parked": [PARKED], "total": 1, "error": None}


@pytest.mark.parametrize(("service", "said"), [("plr-projector", "events"), ("notifier", "messages")])
def test_one_service_with_none_parked_says_which_it_asked(
    service: str, said: str, only_ingest_holds_one: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dlq", "list", "--service", service]) == ExitCode.OK

    assert capsys.readouterr().out == f"no parked {said} in {service}\n"
    assert only_ingest_holds_one == [service]


@pytest.mark.parametrize("command", ["retry", "skip", "history"])
def test_the_commands_that_act_say_they_act_on_one_service(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one line per option, whatever the terminal's width

    assert main(["dlq", command, "--help"]) == ExitCode.OK

    said = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert "The one service whose dead letters this acts on" in said
    assert "[default: plr-projector]" in said
