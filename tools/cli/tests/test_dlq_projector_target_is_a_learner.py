"""`lrs dlq retry|skip|show TARGET` act on plr-projector unless --service names another, and the projector names its
parked events by learner. The ids `lrs dlq list` prints for every other service's message are small numbers: one of
them given without --service is a usage error (exit status 2) saying what to add, and the projector is not asked
(it used to answer "no parked events for this learner", exit status 1). The projector's other names pass: a ULN, an
achievement id, `keyless:…`, and ten digits whose check digit is wrong (a poison's key may be one)."""

from __future__ import annotations

from typing import Any

import pytest

from lrs_cli import dlq_commands, projector_commands
from lrs_cli.client import CommandError, Connection, ExitCode
from lrs_cli.main import main

REPLAYED = [{"topic": "lrs.plr.events.v1", "applied": 1, "still_parked": 0}]


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """The projector's dead-letter calls, recorded (command, target) and answered as applied; nothing else asked."""
    asked: list[tuple[str, str]] = []

    def retry(connection: Connection, uln: str, *args: Any) -> list[dict[str, Any]]:
        asked.append(("retry", uln))
        return REPLAYED

    def skip(connection: Connection, uln: str, *args: Any) -> list[dict[str, Any]]:
        asked.append(("skip", uln))
        return REPLAYED

    def value(connection: Connection, uln: str, topic: str | None) -> dlq_commands.ParkedValue:
        asked.append(("show", uln))
        raise CommandError("the projector was asked")  # what it shows is test_dlq_show.py's

    monkeypatch.setattr(projector_commands, "dlq_retry", retry)
    monkeypatch.setattr(projector_commands, "dlq_skip", skip)
    monkeypatch.setattr(dlq_commands, "_projector_value", value)
    monkeypatch.setenv("LRS_API_KEY", "lrs_k1_secret")
    return asked


@pytest.mark.parametrize("command", ["retry", "skip", "show"])
@pytest.mark.parametrize("target", ["17", "0123456789", "100000004312"])
def test_another_service_s_id_without_service_is_a_usage_error_and_the_projector_is_not_asked(
    command: str, target: str, asked: list[tuple[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dlq", command, target, *(["--reason", "test"] if command == "skip" else [])]) == ExitCode.USAGE

    said = " ".join(capsys.readouterr().err.split())
    assert asked == []
    assert (
        f"{target} is not a ULN: plr-projector's dead letters are named by learner; for another service's message"
        " add --service NAME (`lrs dlq list` names each message's service)"
    ) in said


def test_the_hint_names_the_environment_asked(asked: list[tuple[str, str]], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--sandpit", "dlq", "retry", "17"]) == ExitCode.USAGE

    assert "(`lrs --sandpit dlq list` names each message's service)" in " ".join(capsys.readouterr().err.split())
    assert asked == []


@pytest.mark.parametrize(
    "target",
    [
        "1000000043",  # a learner's ULN
        "1000000042",  # ten digits, the check digit wrong: a poison's key may be, and only the projector knows
        "0f8fad5b-d9cb-469f-a165-70867728950e",  # an achievement id: the challenge events' key
        "keyless:lrs.plr.events.v1:0:1201",
    ],
)
@pytest.mark.parametrize("command", ["retry", "skip"])
def test_what_the_projector_names_its_parked_events_by_is_asked_of_it(
    command: str, target: str, asked: list[tuple[str, str]]
) -> None:
    assert main(["dlq", command, target, *(["--reason", "test"] if command == "skip" else [])]) == ExitCode.OK

    assert asked == [(command, target)]


def test_show_asks_the_projector_of_a_learner(asked: list[tuple[str, str]], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dlq", "show", "1000000043"]) == ExitCode.FAILED

    assert asked == [("show", "1000000043")]
    assert "the projector was asked" in capsys.readouterr().err
