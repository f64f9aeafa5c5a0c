"""Every log line says which environment logged it: the Sandpit runs the same services as live, and a line
pasted into a ticket must say whether it came from the Sandpit."""

from __future__ import annotations

import json
import logging

import pytest

from lrs_contracts.environments import Environment
from lrs_platform.logging import configure_logging, get_logger


@pytest.mark.parametrize("environment", list(Environment))
def test_the_service_s_own_lines_and_its_libraries_say_their_environment(
    configured_logging: None, capsys: pytest.CaptureFixture[str], environment: Environment
) -> None:
    configure_logging("probe", "info", json=True, environment=environment)
    get_logger("probe").info("batch_received")
    logging.getLogger("aiokafka").warning("Unable connect to node with id 1")

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["service"], line["environment"]) for line in lines] == [("probe", environment.value)] * 2


def test_configured_again_without_one_a_line_names_none(
    configured_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("probe", "info", json=True, environment=Environment.SANDPIT)
    configure_logging("probe", "info", json=True)
    get_logger("probe").info("batch_received")

    assert "environment" not in json.loads(capsys.readouterr().out)
