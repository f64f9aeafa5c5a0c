"""`lrs dlq skip` needs a reason, as the portal's Skip form and the services' skip route do (report parity, finding
1): without `--reason` it is a usage error naming it, a blank one too, and nothing is sent. The skip the CLI suggests
after a retry or skip left a poison parked carries `--reason` (it was suggested without one)."""

from __future__ import annotations

import json

import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main

from .test_dlq_hint_names_the_poison_now import _hint, replayed, serve


@pytest.mark.parametrize("service", ["ingest", "plr-projector"])
def test_a_skip_without_a_reason_is_a_usage_error_naming_it(
    service: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = serve(monkeypatch, "ingest", replayed("ingest", applied=0, skipped=1, still_parked=0, poison_id=None))
    target = "1" if service == "ingest" else "1000000043"

    assert main(["dlq", "skip", target, "--service", service]) == ExitCode.USAGE

    assert "Missing option '--reason'" in capsys.readouterr().err
    assert asked == []


@pytest.mark.parametrize("blank", ["", "   ", " \t "])
def test_a_blank_reason_is_a_usage_error_and_nothing_is_skipped(
    blank: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = serve(monkeypatch, "ingest", replayed("ingest", applied=0, skipped=1, still_parked=0, poison_id=None))

    assert main(["dlq", "skip", "1", "--service", "ingest", "--reason", blank]) == ExitCode.USAGE

    assert "--reason is blank: say why the message is dropped" in capsys.readouterr().err
    assert asked == []


def test_a_skip_with_a_reason_sends_it(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = serve(monkeypatch, "ingest", replayed("ingest", applied=0, skipped=1, still_parked=0, poison_id=None))

    assert main(["dlq", "skip", "1", "--service", "ingest", "--reason", "NUL byte; batch resubmitted"]) == ExitCode.OK

    [request] = asked
    assert json.loads(request.content) == {"reason": "NUL byte; batch resubmitted"}


def test_the_skip_suggested_after_a_failed_retry_asks_for_a_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monkeypatch, "notifier", replayed("notifier", applied=0, skipped=0, still_parked=1, poison_id=2))

    assert main(["dlq", "retry", "2", "--service", "notifier"]) == ExitCode.FAILED

    hint = _hint(capsys.readouterr().err)
    assert hint == ["lrs", "dlq", "skip", "2", "--service", "notifier", "--reason", "WHY"]
