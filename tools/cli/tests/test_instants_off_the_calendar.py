"""An instant typed at the edge of the calendar, `0001-01-01T00:10+01:00` (year 0 in UTC) or `9999-12-31T23:30-01:00`
(year 10000), is a usage error (exit status 2) naming the option, not an OverflowError traceback (exit status 1), and
nothing is sent."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from tools.cli.tests.test_verify_walk import Issuer, claims_of, credential, write

from lrs_cli.client import ExitCode, UsageError, parse_moment
from lrs_cli.credential_commands import _issued_at, _issued_on, issued_after, shown
from lrs_cli.main import main

from .answering import answered_by

OFF_THE_CALENDAR = ["0001-01-01T00:10+01:00", "9999-12-31T23:30-01:00"]


@pytest.mark.parametrize("text", OFF_THE_CALENDAR)
def test_plr_verify_issued_after_off_the_calendar_is_a_usage_error(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issuer = Issuer()
    token, jwks = write(tmp_path, issuer.sign(claims_of(credential())), issuer.jwks())

    assert main(["plr", "verify", token, "--jwks", jwks, "--issued-after", text]) == ExitCode.USAGE

    said = capsys.readouterr()
    assert f"--issued-after {text!r} is not a date such as 2026-12-01 (a UK date)" in said.err
    assert "Traceback" not in said.err and said.out == ""


@pytest.mark.parametrize("text", ["0001-01-01", "31 December 9999", "0001-01-01T00:10Z", "9999-12-31T23:30Z"])
def test_the_first_and_last_days_are_still_read(text: str) -> None:
    assert issued_after(text).said.startswith("--issued-after ")


def _nothing_sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.method} {request.url.path}")
        return httpx.Response(422, json={"title": "Unprocessable", "detail": "out of range"})

    answered_by(monkeypatch, answer)
    return asked


@pytest.mark.parametrize("text", OFF_THE_CALENDAR)
def test_a_moment_off_the_calendar_is_refused_by_the_option_that_took_it(text: str) -> None:
    with pytest.raises(UsageError, match=r"--to '.*' is outside the calendar in UTC or UK time"):
        parse_moment(text, "--to")


@pytest.mark.parametrize("text", OFF_THE_CALENDAR)
def test_maintenance_schedule_off_the_calendar_is_a_usage_error_before_anything_is_sent(
    text: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = _nothing_sent(monkeypatch)

    command = ["maintenance", "schedule", "--from", "2026-12-20T22:00Z", "--to", text, "--reason", "upgrade"]
    assert main(command) == ExitCode.USAGE

    assert asked == []
    assert f"--to {text!r} is outside the calendar in UTC or UK time" in capsys.readouterr().err


@pytest.mark.parametrize("text", OFF_THE_CALENDAR)
def test_projector_replay_from_off_the_calendar_is_a_usage_error_before_anything_is_sent(
    text: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = _nothing_sent(monkeypatch)

    assert main(["projector", "replay", "--from", text]) == ExitCode.USAGE

    assert asked == []
    assert f"--from {text!r} is outside the calendar in UTC or UK time" in capsys.readouterr().err


def test_a_credential_issued_at_the_calendars_end_is_said_as_written_not_a_traceback() -> None:
    edge = "9999-12-31T23:30:00-01:00"  # year 10000 in UTC and UK time
    assert _issued_at(edge) == _issued_on(edge) == shown(edge)
