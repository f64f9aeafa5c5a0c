"""`lrs dlq … --service` names a service the CLI knows; any other name is a usage error said plainly, not
pydantic's "Value error, 'bogus' is not one of …"."""

from __future__ import annotations

import pytest

from lrs_cli.client import ExitCode
from lrs_cli.dlq_commands import ListedService, Service, UnknownService, service_named
from lrs_cli.main import main


def test_a_service_is_named_by_its_value() -> None:
    assert service_named("ingest", Service) is Service.INGEST
    assert service_named("all", ListedService) is ListedService.ALL
    assert service_named(Service.PLR_PROJECTOR, Service) is Service.PLR_PROJECTOR  # the default, already parsed


def test_an_unknown_service_is_a_usage_error_naming_every_service() -> None:
    with pytest.raises(UnknownService) as refused:
        service_named("bogus", ListedService)

    assert refused.value.format_message() == (
        "--service must be one of plr-projector, ingest, validation, notifier, reporting, challenges, all, not 'bogus'"
    )


@pytest.mark.parametrize("command", [["list"], ["retry", "12"], ["skip", "12"]])
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
