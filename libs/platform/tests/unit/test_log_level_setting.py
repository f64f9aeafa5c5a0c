"""`<SERVICE>_LOG_LEVEL` (runbook walk, finding 5): a word that is not a log level stopped the service with a
`ValueError: Unknown level: 'VERBOSE'` traceback from `logging`, once it had begun starting. It is refused as the
settings are read, in one line naming the variable and the values it takes, exit status 1; any case is taken."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from pydantic_settings import SettingsConfigDict

from lrs_platform.logging import configure_logging
from lrs_platform.settings import LOG_LEVELS, ServiceSettings


class ExampleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EXAMPLE_", extra="ignore", frozen=True)


def test_an_unknown_level_is_refused_in_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAMPLE_LOG_LEVEL", "verbose")

    with pytest.raises(SystemExit) as refused:
        ExampleSettings()

    assert str(refused.value.code) == (
        "EXAMPLE_LOG_LEVEL='verbose' is not a log level: set it to one of debug, info, warning, error, critical"
    )


@pytest.mark.parametrize("typed", ["DEBUG", "info", " Warning ", "error", "critical"])
def test_each_level_is_taken_in_any_case(monkeypatch: pytest.MonkeyPatch, configured_logging: None, typed: str) -> None:
    monkeypatch.setenv("EXAMPLE_LOG_LEVEL", typed)

    settings = ExampleSettings()

    assert settings.log_level == typed.strip().lower() and settings.log_level in LOG_LEVELS
    configure_logging("example", settings.log_level, json=True)  # what every service's create_app does with it
    assert logging.getLogger().level == logging.getLevelName(typed.strip().upper())


def test_a_service_started_with_an_unknown_level_says_one_line_and_exits_1() -> None:
    program = (
        "from pydantic_settings import SettingsConfigDict\n"
        "from lrs_platform.logging import configure_logging\n"
        "from lrs_platform.settings import ServiceSettings\n"
        "class ProjectorSettings(ServiceSettings):\n"
        "    model_config = SettingsConfigDict(env_prefix='PROJECTOR_', extra='ignore', frozen=True)\n"
        "settings = ProjectorSettings()\n"
        "configure_logging('plr-projector', settings.log_level, settings.log_json)\n"
    )
    environment = {key: value for key, value in os.environ.items() if not key.endswith("_LOG_LEVEL")}

    done = subprocess.run(
        [sys.executable, "-c", program],
        env={**environment, "PROJECTOR_LOG_LEVEL": "verbose"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 1, done
    assert done.stderr.splitlines() == [
        "PROJECTOR_LOG_LEVEL='verbose' is not a log level: set it to one of debug, info, warning, error, critical"
    ], done.stderr


@pytest.mark.parametrize("empty", ["", "  "])
def test_a_level_set_but_empty_is_the_default_info(monkeypatch: pytest.MonkeyPatch, empty: str) -> None:
    """Runbook walk, finding 13: `EXAMPLE_LOG_LEVEL=` (the usual way to unset it in an env file) was refused as
    `EXAMPLE_LOG_LEVEL='' is not a log level`; it is the default, as an unset one is."""
    monkeypatch.setenv("EXAMPLE_LOG_LEVEL", empty)

    assert ExampleSettings().log_level == "info"
