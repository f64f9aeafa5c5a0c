"""A value the CLI offers a fixed set of (`--service`, `--state`, `--role`, a step, an action) is refused, when it
is none of them, as a usage error said plainly: not pydantic's "Value error, 'bogus' is not one of …"."""

from __future__ import annotations

import pytest

from lrs_cli.choices import NotAChoice, one_of
from lrs_cli.client import ExitCode
from lrs_cli.dlq_commands import ListedService, Service
from lrs_cli.main import main


def test_a_service_is_named_by_its_value() -> None:
    assert one_of(Service, "--service")("ingest") is Service.INGEST
    assert one_of(ListedService, "--service")("all") is ListedService.ALL
    assert one_of(Service, "--service")(Service.PLR_PROJECTOR) is Service.PLR_PROJECTOR  # the default, parsed


def test_an_unknown_service_is_a_usage_error_naming_every_service() -> None:
    with pytest.raises(NotAChoice) as refused:
        one_of(ListedService, "--service")("bogus")

    assert refused.value.format_message() == (
        "--service must be one of plr-projector, ingest, validation, notifier, reporting, challenges, all, not 'bogus'"
    )


@pytest.mark.parametrize("command", [["list"], ["retry", "12"], ["skip", "12", "--reason", "test"]])
def test_every_dlq_command_says_so_plainly_with_exit_status_2(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")

    code = main(["dlq", *command, "--service", "bogus"])

    err = " ".join(capsys.readouterr().err.replace("│", " ").split())  # as said, whatever the terminal's width
    assert code == ExitCode.USAGE
    assert "Usage: lrs dlq" in err
    assert "--service must be one of plr-projector, ingest" in err
    assert "Value error" not in err


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (
            ["challenges", "list", "--state", "raised", "--state", "bogus"],
            "--state must be one of raised, acknowledged",
        ),
        (["projector", "rebuild", "bogus"], "the step must be one of start, status, compare, switch, abandon"),
        (["users", "list", "--role", "bogus"], "--role must be one of ao, operator, not 'bogus'"),
        (["credentials", "bogus", "ao:RN5133"], "the action must be one of create, rotate, revoke"),
    ],
)
def test_every_choice_the_cli_offers_is_refused_plainly(
    command: list[str], said: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")

    code = main(command)

    err = " ".join(capsys.readouterr().err.replace("│", " ").split())
    assert code == ExitCode.USAGE, err
    assert said in err
    assert "Value error" not in err
