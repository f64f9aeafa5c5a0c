"""`lrs dlq list --learner ULN` checks the ULN first, as every command that takes one does (`lrs plr show 12`): a
badly formed one (RV001) or one with a wrong check digit (RV002) is a usage error (exit status 2) and no service is
asked, rather than "no parked events". `--key` stays free: the services' keys are also batch ids, AO ids,
`keyless:…` and achievement ids."""

from __future__ import annotations

from typing import Any

import pytest

from lrs_cli import dlq_commands
from lrs_cli.client import Connection, ExitCode
from lrs_cli.main import main


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """Every service answers that it holds nothing; returns (service, key) of each asked."""
    asked: list[tuple[str, str | None]] = []

    def parked_messages(
        connection: Connection, service: str, key: str | None = None, topic: str | None = None, limit: int = 500
    ) -> tuple[list[dict[str, Any]], int]:
        asked.append((service, key))
        return [], 0

    monkeypatch.setattr(dlq_commands, "parked_messages", parked_messages)
    monkeypatch.setenv("LRS_API_KEY", "lrs_k1_secret")
    return asked


@pytest.mark.parametrize(
    ("uln", "said"),
    [
        ("12", "lrs: ULN '12' is badly formed (RV001): a ULN is 10 digits, the first not 0"),
        (
            "1000000042",
            "lrs: the check digit of ULN 1000000042 is wrong (RV002): a digit was mistyped, no learner has it",
        ),
    ],
    ids=["RV001", "RV002"],
)
def test_a_learner_no_one_can_have_is_a_usage_error_and_nothing_is_asked(
    uln: str, said: str, asked: list[tuple[str, str | None]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dlq", "list", "--learner", uln, "--service", "plr-projector"]) == ExitCode.USAGE

    captured = capsys.readouterr()
    assert asked == []
    assert said in " ".join(captured.err.split())
    assert "No parked events" not in captured.out and "no parked events" not in captured.out


def test_a_learner_s_uln_is_the_key_asked(asked: list[tuple[str, str | None]]) -> None:
    assert main(["dlq", "list", "--learner", "1000000043", "--service", "plr-projector"]) == ExitCode.OK

    assert asked == [("plr-projector", "1000000043")]


@pytest.mark.parametrize("key", ["keyless:lrs.plr.events.v1:0:1201", "RN9093", "12"])
def test_the_key_stays_free(key: str, asked: list[tuple[str, str | None]]) -> None:
    assert main(["dlq", "list", "--key", key, "--service", "ingest"]) == ExitCode.OK

    assert asked == [("ingest", key)]


def test_a_learner_and_another_key_are_refused_together(asked: list[tuple[str, str | None]]) -> None:
    assert main(["dlq", "list", "--learner", "1000000043", "--key", "RN9093"]) == ExitCode.USAGE

    assert asked == []
