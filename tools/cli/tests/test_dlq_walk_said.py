"""`lrs dlq` as the CLI walk found it: the skip a failed retry suggests runs as printed (its target, its service,
its topic); `--topic` is refused where a parked message is named by its id (it was ignored); a key every service
refuses is said once as refused, not as six services "unavailable"; `dlq list --json` has one shape per service;
`retry --reason` goes to the projector, the one retry route that keeps a reason; an empty replacement file says
it is empty."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import httpx
import pytest

from lrs_cli import dlq_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main

from .answering import answered_by

PARKED = {
    "id": 1,
    "consumer": "ingest.batch-view",
    "topic": "lrs.batch.outcomes.v1",
    "partition": 0,
    "offset": 10,
    "reason": "error",
    "attempts": 3,
    "error": "invalid: event_id: Field required",
}
STILL_PARKED = {
    "results": [
        {
            "consumer": "ingest.batch-view",
            "topic": "lrs.batch.outcomes.v1",
            "applied": 0,
            "skipped": 0,
            "still_parked": 1,
            "error": "invalid: event_id: Field required",
        }
    ]
}
PROJECTOR_STILL_PARKED = {
    "results": [{"topic": "lrs.plr.events.v1", "applied": 0, "skipped": 0, "still_parked": 1, "error": "bad"}]
}


def serve(monkeypatch: pytest.MonkeyPatch, answer: Any) -> list[httpx.Request]:
    """Every service answers with `answer(request)`; returns the requests made."""
    asked: list[httpx.Request] = []

    def recorded(request: httpx.Request) -> httpx.Response:
        request.read()
        asked.append(request)
        response: httpx.Response = answer(request)
        return response

    answered_by(monkeypatch, recorded)
    return asked


def _hint(err: str) -> list[str]:
    """The `lrs …` command the hint names, as words."""
    return shlex.split(err.split("(`", 1)[1].split("`)", 1)[0])


def test_the_skip_a_failed_retry_of_another_service_suggests_names_the_message_and_the_service(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monkeypatch, lambda request: httpx.Response(200, json=STILL_PARKED))

    assert main(["dlq", "retry", "1", "--service", "ingest"]) == ExitCode.FAILED

    assert _hint(capsys.readouterr().err) == ["lrs", "dlq", "skip", "1", "--service", "ingest", "--reason", "WHY"]


def test_the_skip_a_failed_projector_retry_suggests_keeps_its_learner_and_topic(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monkeypatch, lambda request: httpx.Response(200, json=PROJECTOR_STILL_PARKED))

    assert main(["dlq", "retry", "1000000043", "--topic", "lrs.plr.events.v1"]) == ExitCode.FAILED

    assert _hint(capsys.readouterr().err) == [
        "lrs",
        "dlq",
        "skip",
        "1000000043",
        "--topic",
        "lrs.plr.events.v1",
        "--reason",
        "WHY",
    ]


@pytest.mark.parametrize(
    "command",
    [
        ["dlq", "retry", "1", "--service", "ingest", "--topic", "nosuch.topic"],
        ["dlq", "skip", "1", "--service", "notifier", "--topic", "nosuch.topic", "--reason", "test"],
        ["dlq", "show", "1", "--service", "reporting", "--topic", "nosuch.topic"],
    ],
)
def test_a_topic_is_refused_where_a_parked_message_is_named_by_its_id(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = serve(monkeypatch, lambda request: httpx.Response(200, json=STILL_PARKED))

    assert main(command) == ExitCode.USAGE

    assert "--topic is for plr-projector" in capsys.readouterr().err
    assert asked == []


def _refusing(request: httpx.Request) -> httpx.Response:
    said = "only operators may use the admin API" if request.url.port == 8003 else "dead letters are for operators"
    return httpx.Response(403, json={"title": "Forbidden", "status": 403, "detail": said, "code": "FORBIDDEN"})


@pytest.mark.parametrize("as_json", [False, True])
def test_a_key_every_service_refuses_is_said_once_as_refused(
    as_json: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for service in ("INGEST", "VALIDATION", "NOTIFIER", "REPORTING", "CHALLENGES"):
        monkeypatch.delenv(f"LRS_{service}_URL", raising=False)
    monkeypatch.setenv("LRS_PLR_PROJECTOR_URL", "http://127.0.0.1:8003")
    serve(monkeypatch, _refusing)

    assert main(["dlq", "list", *(["--json"] if as_json else [])]) == ExitCode.KEY_REFUSED

    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert err.count("\n") == 0, err
    assert err.startswith("lrs: every service refused this key: HTTP 403: Forbidden")
    assert "unavailable" not in err and "did not answer" not in err


def test_a_service_that_refuses_among_others_that_answer_is_said_as_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def parked_messages(connection: Any, service: str, *args: Any) -> tuple[list[dict[str, Any]], int]:
        if service == "reporting":
            from lrs_cli.client import AnswerError

            raise AnswerError("HTTP 403: Forbidden: dead letters are for operators.", 403)
        return [], 0

    monkeypatch.setattr(dlq_commands, "parked_messages", parked_messages)
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")

    assert main(["dlq", "list"]) == ExitCode.KEY_REFUSED

    captured = capsys.readouterr()
    assert "== reporting\nrefused: HTTP 403: Forbidden: dead letters are for operators." in captured.out
    assert "unavailable" not in captured.out
    assert "not every service answered" not in captured.err


def test_dlq_list_json_has_one_shape_for_every_service_answered_or_not(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def parked_messages(connection: Any, service: str, *args: Any) -> tuple[list[dict[str, Any]], int]:
        if service == "reporting":
            raise httpx.ConnectError("[Errno 111] Connection refused", request=httpx.Request("GET", "http://r:1/"))
        return ([PARKED], 1) if service == "ingest" else ([], 0)

    monkeypatch.setattr(dlq_commands, "parked_messages", parked_messages)
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")

    assert main(["dlq", "list", "--json"]) == ExitCode.UNREACHABLE

    captured = capsys.readouterr()
    services = json.loads(captured.out)["services"]
    assert list(services) == list(dlq_commands.SERVICES)
    assert {tuple(sorted(each)) for each in services.values()} == {("error", "parked", "total")}
    assert services["ingest"] == {"parked": [PARKED], "total": 1, "error": None}
    assert services["reporting"]["parked"] is None and services["reporting"]["total"] is None
    assert services["reporting"]["error"].startswith("unavailable: cannot reach http://r:1")
    assert "(see above)" not in captured.err and "not every service answered" in captured.err


def test_a_retrys_reason_goes_to_the_projector_which_keeps_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    done = {"results": [{"topic": "lrs.plr.events.v1", "applied": 1, "skipped": 0, "still_parked": 0}]}
    asked = serve(monkeypatch, lambda request: httpx.Response(200, json=done))

    assert main(["dlq", "retry", "1000000043", "--reason", "grade map fixed in 1.4.2"]) == ExitCode.OK

    [retry] = asked
    assert retry.url.path == "/v1/admin/dlq/1000000043/retry"
    assert json.loads(retry.content) == {"reason": "grade map fixed in 1.4.2"}


def test_a_retrys_reason_is_refused_where_the_service_keeps_none(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = serve(monkeypatch, lambda request: httpx.Response(200, json=STILL_PARKED))

    assert main(["dlq", "retry", "1", "--service", "ingest", "--reason", "fixed"]) == ExitCode.USAGE

    assert "--reason on a retry is kept by plr-projector only" in capsys.readouterr().err
    assert asked == []


def test_an_empty_replacement_file_says_it_is_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "fixed.json"
    empty.write_bytes(b"")
    asked = serve(monkeypatch, lambda request: httpx.Response(200, json=STILL_PARKED))

    assert main(["dlq", "retry", "1", "--service", "ingest", "--replacement", str(empty)]) == ExitCode.FAILED

    err = capsys.readouterr().err
    assert f"cannot read the replacement envelope: {empty} is empty" in err
    assert "Expecting value" not in err
    assert asked == []
