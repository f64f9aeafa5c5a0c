"""`lrs dlq retry|skip --service NAME` left messages parked: the skip its hint names is of the message that is its
key's poison now, as the service's answer names it (`poison_id`). When a retry applied the poison and the next
message of the key failed, or a skip dropped it and the next failed, the hint named the id given, which was gone
(`lrs dlq skip` of it: 404 "no parked message N"). The stubbed service answers as docs/openapi/<service>.json
documents it: every key the service sends, none it does not.

And `lrs --sandpit dlq list --service all` without a Sandpit key says so once, a usage error (2), as a command of
one service does, asking no service: it said "unavailable: no API key" once per service and exited 2 "not every
service listed"."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import httpx
import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_contracts.environments import ENVIRONMENT_HEADER, Environment

from .answering import answered_by, clients_answered_by
from .documented_answers import as_documented

SERVICES = ("ingest", "challenges", "notifier", "reporting")
ERROR = "invalid: record_count: Field required"


def replayed(service: str, *, applied: int, skipped: int, still_parked: int, poison_id: int | None) -> dict[str, Any]:
    """`POST /v1/admin/dlq/{id}/retry|skip`'s answer (`lrs_platform.parking_api.Replayed`)."""
    result = {
        "consumer": f"{service}.batch-view",
        "topic": "lrs.batch.outcomes.v1",
        "key": "b3db5e2f-5a4e-4f0e-9d2c-1f0e3d2c1b0a",
        "applied": applied,
        "skipped": skipped,
        "still_parked": still_parked,
        "error": ERROR if still_parked else None,
        "poison_id": poison_id,
    }
    return {"results": [result]}


def serve(monkeypatch: pytest.MonkeyPatch, service: str, answer: dict[str, Any]) -> list[httpx.Request]:
    """`service` answers every request with `answer`, checked against its document; returns the requests made."""
    asked: list[httpx.Request] = []

    def answered(request: httpx.Request) -> httpx.Response:
        request.read()
        asked.append(request)
        response = httpx.Response(200, json=answer)
        as_documented(service, request, response)
        return response

    answered_by(monkeypatch, answered)
    return asked


def _hint(err: str) -> list[str]:
    """The `lrs …` command the hint names, as words."""
    return shlex.split(err.split("(`", 1)[1].split("`)", 1)[0])


@pytest.mark.parametrize("service", SERVICES)
def test_a_retry_that_applied_the_poison_names_the_next_message_that_failed_as_the_one_to_skip(
    service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two invalid messages of one key, 1 and 2: the retry of 1 with a corrected copy applied it, and 2 failed."""
    asked = serve(monkeypatch, service, replayed(service, applied=1, skipped=0, still_parked=1, poison_id=2))
    mended = tmp_path / "mended.json"
    mended.write_text(json.dumps({"event_id": "eb4d7202-0000-4000-8000-000000000001"}), encoding="utf-8")

    assert main(["dlq", "retry", "1", "--service", service, "--replacement", str(mended)]) == ExitCode.FAILED

    assert [request.url.path for request in asked] == ["/v1/admin/dlq/1/retry"]
    err = capsys.readouterr().err
    assert _hint(err) == ["lrs", "dlq", "skip", "2", "--service", service, "--reason", "WHY"]
    assert "parked message 2, its key's poison now" in err
    assert "skip 1" not in err


@pytest.mark.parametrize("service", SERVICES)
def test_a_skip_that_a_message_behind_failed_names_that_message_as_the_one_to_skip(
    service: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monkeypatch, service, replayed(service, applied=0, skipped=1, still_parked=2, poison_id=5))

    assert main(["dlq", "skip", "3", "--service", service, "--reason", "a duplicate"]) == ExitCode.FAILED

    err = capsys.readouterr().err
    assert _hint(err) == ["lrs", "dlq", "skip", "5", "--service", service, "--reason", "WHY"]
    assert "held behind the skipped one failed" in err


def test_a_retry_whose_poison_failed_again_names_it_still(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monkeypatch, "ingest", replayed("ingest", applied=0, skipped=0, still_parked=2, poison_id=1))

    assert main(["dlq", "retry", "1", "--service", "ingest"]) == ExitCode.FAILED

    err = capsys.readouterr().err
    assert _hint(err) == ["lrs", "dlq", "skip", "1", "--service", "ingest", "--reason", "WHY"]
    assert "the retry failed again" in err


def test_a_retry_that_applied_every_message_names_nothing_to_skip(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monkeypatch, "reporting", replayed("reporting", applied=2, skipped=0, still_parked=0, poison_id=None))

    assert main(["dlq", "retry", "1", "--service", "reporting"]) == ExitCode.OK

    assert "skip" not in capsys.readouterr().err


# --- `dlq list --service all` without a key ----------------------------------------------------------------------


def nothing_answers(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    asked: list[httpx.Request] = []

    def answered(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(500)

    clients_answered_by(monkeypatch, answered)
    return asked


@pytest.mark.parametrize("as_json", [False, True])
def test_listing_every_sandpit_service_without_a_sandpit_key_says_so_once_as_a_usage_error(
    as_json: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = nothing_answers(monkeypatch)
    monkeypatch.setenv("LRS_API_KEY", "lrs_live_operator_key")  # live's key, which the Sandpit never takes
    monkeypatch.delenv("LRS_SANDPIT_API_KEY", raising=False)
    for service in ("INGEST", "VALIDATION", "PLR_PROJECTOR", "NOTIFIER"):
        monkeypatch.setenv(f"LRS_SANDPIT_{service}_URL", f"http://sandpit-{service.lower().replace('_', '-')}:8000")

    assert main(["--sandpit", "dlq", "list", "--service", "all", *(["--json"] if as_json else [])]) == ExitCode.USAGE

    captured = capsys.readouterr()
    assert "unavailable" not in captured.out + captured.err
    said = [line for line in captured.err.splitlines() if line.startswith("lrs: ")]
    assert said == ["lrs: no API key: set LRS_SANDPIT_API_KEY or pass --key-file"]
    assert "== " not in captured.out
    assert asked == []


def test_listing_every_live_service_without_a_key_says_so_once_as_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = nothing_answers(monkeypatch)
    monkeypatch.delenv("LRS_API_KEY", raising=False)

    assert main(["dlq", "list"]) == ExitCode.USAGE

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == "lrs: no API key: set LRS_API_KEY or pass --key-file"
    assert asked == []


def test_a_service_whose_url_is_not_set_is_said_in_its_section_and_the_others_are_listed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A usage error of one service alone (its Sandpit URL not set) is no reason to list none: said in its section,
    as before."""
    monkeypatch.setenv("LRS_SANDPIT_API_KEY", "lrs_sbx_test_key")
    for service in ("INGEST", "VALIDATION", "PLR_PROJECTOR"):
        monkeypatch.setenv(f"LRS_SANDPIT_{service}_URL", f"http://sandpit-{service.lower().replace('_', '-')}:8000")
    monkeypatch.delenv("LRS_SANDPIT_NOTIFIER_URL", raising=False)

    def answered(request: httpx.Request) -> httpx.Response:
        headers = {ENVIRONMENT_HEADER: Environment.SANDPIT.value}
        if request.url.path == "/healthz":
            return httpx.Response(200, json={"status": "alive"}, headers=headers)
        return httpx.Response(200, json={"parked": [], "total": 0}, headers=headers)

    clients_answered_by(monkeypatch, answered)

    assert main(["--sandpit", "dlq", "list"]) == ExitCode.USAGE

    out = capsys.readouterr().out
    assert "== notifier\nunavailable: LRS_SANDPIT_NOTIFIER_URL is not set" in out
    assert "== ingest\nno parked messages" in out
