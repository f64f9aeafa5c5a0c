"""`--sandpit`, `LRS_ENVIRONMENT` and `lrs sandpit reset|purge` against a fake ingest served over HTTP.

The fake answers like a sandpit (or a live) ingest would: the `LRS-Environment` header, the reset and
purge routes. The real services are in tests/integration/test_cli_sandpit.py.
"""

from __future__ import annotations

import json
import re
import shlex
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main

SANDPIT_KEY = "lrs_sbx_k1_secret"
LIVE_KEY = "lrs_k2_secret"
RESET_ID = "8b0f6c1e-2d1a-4c55-9d6e-3f1f0a1b2c3d"
BATCH_ID = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"


@dataclass
class FakeIngest:
    """What the fake was asked, and how it answers."""

    environment: str | None
    polls_until_done: int = 1
    operator: bool = False  # the key is an operator's: a reset names the AO
    requests: list[tuple[str, str, str | None, bytes]] = field(default_factory=list)
    polls: int = 0
    maintenance: dict[str, Any] | None = None  # the notice a pending reset carries (held behind a batch)

    def answer(self, method: str, target: str) -> tuple[int, Any]:
        path = urlsplit(target).path
        if path == "/healthz":
            return 200, {"status": "ok"}
        if (method, path) == ("POST", "/v1/batches"):
            return 202, {"batch_id": BATCH_ID, "status": "received", "environment": self.environment}
        if (method, path) == ("GET", "/v1/batches"):
            return 200, {"items": [{"batch_id": "b1", "status": "completed"}], "total": 1}
        if (method, path) == ("POST", "/v1/sandpit/reset"):
            if self.operator and not self.requests[-1][3]:
                return 422, {"title": "AO required", "detail": 'Name the AO to reset: {"ao_id": "RN5133"}.'}
            return 202, {"reset_id": RESET_ID, "ao_id": "RN9001", "status": "pending"}
        if (method, path) == ("GET", f"/v1/sandpit/resets/{RESET_ID}"):
            self.polls += 1
            if self.polls < self.polls_until_done:
                pending = {"reset_id": RESET_ID, "ao_id": "RN9001", "status": "pending", "plr_min_offsets": None}
                return 200, pending | ({"maintenance": self.maintenance} if self.maintenance else {})
            return 200, {"reset_id": RESET_ID, "ao_id": "RN9001", "status": "completed", "plr_min_offsets": "0:7,3:2"}
        if method == "GET" and (read := re.fullmatch(r"/v1/learners/([0-9]{10})/plr", path)):  # the projector's
            return 200, {"uln": read[1], "learning_events": []}
        if method == "POST" and path in ("/v1/admin/maintenance/pause", "/v1/admin/maintenance/resume"):
            return 200, {"published": True}
        if (method, path) == ("POST", "/v1/admin/sandpit/purge"):
            days = parse_qs(urlsplit(target).query)["idle_days"][0]
            resets = [{"ao_id": "RN9002", "reset_id": RESET_ID, "status": "pending"}] if days == "30" else []
            return 202, {"idle_days": int(days), "resets": resets}
        return 404, {"title": "Not Found"}

    def sent(self, method: str, path: str) -> list[tuple[str, str, str | None, bytes]]:
        return [request for request in self.requests if request[0] == method and urlsplit(request[1]).path == path]


@dataclass
class Served:
    fake: FakeIngest
    url: str


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[ThreadingHTTPServer] = []

    def start(fake: FakeIngest) -> Served:
        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.requests.append((self.command, self.path, self.headers.get("Authorization"), body))
                status, answer = fake.answer(self.command, self.path)
                content = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                if fake.environment:
                    self.send_header("LRS-Environment", fake.environment)
                self.end_headers()
                self.wfile.write(content)

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return Served(fake, f"http://127.0.0.1:{server.server_address[1]}")

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (
        "LRS_ENVIRONMENT",
        "LRS_API_KEY",
        "LRS_SANDPIT_API_KEY",
        "LRS_SANDPIT_INGEST_URL",
        "LRS_SANDPIT_PLR_PROJECTOR_URL",
    ):
        monkeypatch.delenv(variable, raising=False)


def sandpit_at(monkeypatch: pytest.MonkeyPatch, served: Served) -> None:
    monkeypatch.setenv("LRS_SANDPIT_INGEST_URL", served.url)
    monkeypatch.setenv("LRS_SANDPIT_API_KEY", SANDPIT_KEY)
    monkeypatch.setenv("LRS_API_KEY", LIVE_KEY)


@pytest.mark.parametrize("how", ["--sandpit", "LRS_ENVIRONMENT=sandpit"])
def test_the_sandpit_option_or_variable_uses_the_sandpit_url_and_key_and_marks_the_output(
    how: str, serve: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sandpit = serve(FakeIngest("sandpit"))
    sandpit_at(monkeypatch, sandpit)
    monkeypatch.setenv("LRS_INGEST_URL", "http://127.0.0.1:9")  # live: never called
    argv = ["batch", "list", "--json"]
    if how == "--sandpit":
        argv.insert(0, "--sandpit")
    else:
        monkeypatch.setenv("LRS_ENVIRONMENT", "sandpit")

    assert main(argv) == ExitCode.OK

    captured = capsys.readouterr()
    assert json.loads(captured.out) == [{"environment": "sandpit", "batch_id": "b1", "status": "completed"}]
    assert captured.err.startswith("SANDPIT: ")
    [listing] = sandpit.fake.sent("GET", "/v1/batches")
    assert listing[2] == f"Bearer {SANDPIT_KEY}"


def test_live_output_is_unmarked(
    serve: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    live = serve(FakeIngest(None))
    monkeypatch.setenv("LRS_INGEST_URL", live.url)
    monkeypatch.setenv("LRS_API_KEY", LIVE_KEY)

    assert main(["batch", "list", "--json"]) == ExitCode.OK

    captured = capsys.readouterr()
    assert json.loads(captured.out) == [{"batch_id": "b1", "status": "completed"}]
    assert captured.err == ""


def test_a_sandpit_url_that_reaches_live_is_refused_before_anything_is_sent(
    serve: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    live = serve(FakeIngest("live"))
    sandpit_at(monkeypatch, live)
    batch = tmp_path / "batch.csv"
    batch.write_text("ULN,AO\n", encoding="utf-8")

    assert main(["--sandpit", "batch", "submit", str(batch)]) == ExitCode.FAILED

    assert f"lrs: {live.url} is not the Sandpit (it answers as live)" in capsys.readouterr().err
    assert [request[:2] for request in live.fake.requests] == [("GET", "/healthz")]


def test_a_live_url_that_reaches_the_sandpit_is_refused(
    serve: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sandpit = serve(FakeIngest("sandpit"))
    monkeypatch.setenv("LRS_INGEST_URL", sandpit.url)
    monkeypatch.setenv("LRS_API_KEY", LIVE_KEY)

    assert main(["batch", "list"]) == ExitCode.FAILED

    assert f"lrs: {sandpit.url} is the Sandpit, not live" in capsys.readouterr().err


def test_a_file_a_live_url_sent_to_the_sandpit_is_said_to_be_the_sandpit_s_batch(
    serve: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    """The Sandpit took the file (202): saying only "not live" leaves the person unsure where it went."""
    sandpit = serve(FakeIngest("sandpit"))
    monkeypatch.setenv("LRS_INGEST_URL", sandpit.url)
    monkeypatch.setenv("LRS_API_KEY", SANDPIT_KEY)
    batch = tmp_path / "batch.csv"
    batch.write_text("ULN,AO\n", encoding="utf-8")

    assert main(["batch", "submit", str(batch)]) == ExitCode.FAILED

    assert capsys.readouterr().err == (
        f"lrs: {sandpit.url} is the Sandpit, not live: the file was received by the Sandpit as batch {BATCH_ID},"
        " and nothing reached live. Check LRS_<SERVICE>_URL, or pass --sandpit\n"
    )


def test_sandpit_reset_waits_until_every_service_has_applied_it(
    serve: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sandpit = serve(FakeIngest("sandpit", polls_until_done=3))
    sandpit_at(monkeypatch, sandpit)

    assert main(["sandpit", "reset", "--json"]) == ExitCode.OK

    captured = capsys.readouterr()
    assert json.loads(captured.out) == {
        "environment": "sandpit",
        "reset_id": RESET_ID,
        "ao_id": "RN9001",
        "status": "completed",
        "plr_min_offsets": "0:7,3:2",
    }
    assert captured.err.startswith("SANDPIT: ")
    [reset] = sandpit.fake.sent("POST", "/v1/sandpit/reset")
    assert reset[2] == f"Bearer {SANDPIT_KEY}"
    assert sandpit.fake.polls == 3


def test_a_completed_reset_says_from_which_log_offsets_the_plrs_show_it(
    serve: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sandpit = serve(FakeIngest("sandpit"))
    sandpit_at(monkeypatch, sandpit)

    assert main(["sandpit", "reset"]) == ExitCode.OK

    assert capsys.readouterr().out == (
        f"Sandpit reset {RESET_ID} of RN9001: completed - its sandpit batches and achievement states are gone;"
        " PLRs show it from log offsets 0:7,3:2: `lrs --sandpit plr show ULN --min-offsets 0:7,3:2`\n"
    )


@pytest.mark.parametrize("key_file", [False, True])
def test_the_plr_read_a_completed_reset_prints_goes_to_the_sandpit_with_its_offsets(
    key_file: bool, serve: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    sandpit, live = serve(FakeIngest("sandpit")), serve(FakeIngest(None))
    sandpit_at(monkeypatch, sandpit)
    monkeypatch.setenv("LRS_SANDPIT_PLR_PROJECTOR_URL", sandpit.url)
    monkeypatch.setenv("LRS_PLR_PROJECTOR_URL", live.url)
    argv = ["sandpit", "reset"]
    if key_file:  # the AO's own key, not $LRS_SANDPIT_API_KEY: the hint names it too
        key = tmp_path / "my sandpit.key"
        key.write_text("lrs_sbx_k3_own\n", encoding="utf-8")
        argv = ["--key-file", str(key), *argv]
    assert main(argv) == ExitCode.OK
    [hint] = re.findall(r"`([^`]*)`", capsys.readouterr().out)

    program, *followed = shlex.split(hint.replace("ULN", "1000000043"))
    assert program == "lrs"
    assert main(followed) == ExitCode.OK

    assert live.fake.requests == []
    [read] = sandpit.fake.sent("GET", "/v1/learners/1000000043/plr")
    assert parse_qs(urlsplit(read[1]).query)["min_offsets"] == ["0:7,3:2"]
    assert read[2] == ("Bearer lrs_sbx_k3_own" if key_file else f"Bearer {SANDPIT_KEY}")


def test_an_operator_names_the_ao_whose_sandpit_to_reset(serve: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sandpit = serve(FakeIngest("sandpit"))
    sandpit_at(monkeypatch, sandpit)

    assert main(["sandpit", "reset", "--ao", "RN9001", "--no-wait"]) == ExitCode.OK

    [reset] = sandpit.fake.sent("POST", "/v1/sandpit/reset")
    assert json.loads(reset[3]) == {"ao_id": "RN9001"}
    assert sandpit.fake.polls == 0


def test_a_reset_still_pending_at_the_end_of_the_wait_exits_3(
    serve: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sandpit = serve(FakeIngest("sandpit", polls_until_done=1_000_000))
    sandpit_at(monkeypatch, sandpit)

    assert main(["sandpit", "reset", "--wait", "0"]) == ExitCode.NOT_FINAL

    out = capsys.readouterr().out
    assert out.startswith(f"Sandpit reset {RESET_ID} of RN9001: pending")
    assert f"lrs sandpit reset-status {RESET_ID}" in out
    assert main(["sandpit", "reset-status", RESET_ID]) == ExitCode.NOT_FINAL


PAUSED = {
    "reason": "walk sandpit pause",
    "until": None,
    "paused": True,
    "message": "will be applied when the Sandpit resumes after an unplanned pause",
}


def test_a_reset_held_by_maintenance_says_so_at_once_and_exits_3(
    serve: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sandpit = serve(FakeIngest("sandpit", polls_until_done=1_000_000, maintenance=PAUSED))
    sandpit_at(monkeypatch, sandpit)
    started = time.monotonic()

    assert main(["sandpit", "reset", "--wait", "120"]) == ExitCode.NOT_FINAL

    assert time.monotonic() - started < 30  # not the whole wait: the first answer naming the hold ends it
    assert sandpit.fake.polls == 1
    out = capsys.readouterr().out
    assert out.startswith(
        f"Sandpit reset {RESET_ID} of RN9001: pending - held by maintenance (walk sandpit pause) behind a batch of"
        " RN9001's sent before it: it will be applied when the Sandpit resumes after an unplanned pause"
    )
    assert f"lrs sandpit reset-status {RESET_ID}" in out
    assert main(["sandpit", "reset-status", RESET_ID]) == ExitCode.NOT_FINAL
    assert "held by maintenance (walk sandpit pause)" in capsys.readouterr().out


def test_a_reset_held_by_a_window_ending_within_the_wait_is_waited_for(
    serve: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    soon = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    window = {"reason": "upgrade", "until": soon, "paused": False, "message": f"will be applied after {soon}"}
    sandpit = serve(FakeIngest("sandpit", polls_until_done=3, maintenance=window))
    sandpit_at(monkeypatch, sandpit)

    assert main(["sandpit", "reset", "--wait", "3600"]) == ExitCode.OK

    assert sandpit.fake.polls == 3
    assert ": completed" in capsys.readouterr().out


def test_sandpit_purge_passes_the_idle_days_and_names_each_reset(
    serve: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sandpit = serve(FakeIngest("sandpit"))
    sandpit_at(monkeypatch, sandpit)

    assert main(["sandpit", "purge", "--idle-days", "30"]) == ExitCode.OK
    assert capsys.readouterr().out == f"reset 1 Sandpit(s) idle for 30 days: RN9002 ({RESET_ID})\n"

    assert main(["sandpit", "purge", "--idle-days", "90"]) == ExitCode.OK
    assert capsys.readouterr().out == "no Sandpit has been idle for 90 days\n"


def test_live_only_services_are_refused_in_the_sandpit(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_SANDPIT_API_KEY", SANDPIT_KEY)

    assert main(["--sandpit", "challenges", "list"]) == ExitCode.FAILED
    assert "lrs: the Sandpit has no challenges service: it is live only" in capsys.readouterr().err


@pytest.mark.parametrize(
    "options",
    [
        [],
        [
            "--given-name",
            "Sam",
            "--family-name",
            "Sbx",
            "--telephone",
            "01632 960 001",
            "--email",
            "sbx@pearson.example",
        ],
    ],
)
def test_a_challenge_contact_is_refused_in_the_sandpit_before_anything_is_sent(
    options: list[str], serve: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Sandpit runs no challenges: a contact stored there would be emailed nothing, and "has none" is false."""
    notifier = serve(FakeIngest("sandpit"))
    monkeypatch.setenv("LRS_SANDPIT_NOTIFIER_URL", notifier.url)
    monkeypatch.setenv("LRS_SANDPIT_API_KEY", SANDPIT_KEY)

    assert main(["--sandpit", "challenges", "contact", "RN9093", *options]) == ExitCode.FAILED

    captured = capsys.readouterr()
    assert "lrs: the Sandpit has no challenges service, so no challenge contact: it is live only" in captured.err
    assert captured.out == ""
    assert notifier.fake.requests == []


def test_an_operator_resetting_without_naming_the_ao_is_told_the_option(
    serve: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sandpit = serve(FakeIngest("sandpit", operator=True))
    sandpit_at(monkeypatch, sandpit)

    assert main(["sandpit", "reset"]) == ExitCode.USAGE

    err = capsys.readouterr().err
    assert "lrs: an operator names the AO whose Sandpit to reset: add --ao, like --ao RN9093" in err
    assert "HTTP 422" not in err
    assert sandpit.fake.polls == 0


@pytest.mark.parametrize("key_file", [False, True])
def test_the_resume_a_sandpit_pause_prints_goes_to_the_sandpit(
    key_file: bool, serve: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    sandpit, live = serve(FakeIngest("sandpit")), serve(FakeIngest(None))
    sandpit_at(monkeypatch, sandpit)
    monkeypatch.setenv("LRS_INGEST_URL", live.url)
    argv = ["--sandpit", "maintenance", "pause", "--reason", "sbx test"]
    if key_file:
        key = tmp_path / "ops sandpit.key"
        key.write_text("lrs_sbx_k4_ops\n", encoding="utf-8")
        argv = ["--key-file", str(key), *argv]

    assert main(argv) == ExitCode.OK
    [hint] = re.findall(r"`([^`]*)`", capsys.readouterr().out)
    program, *followed = shlex.split(hint)
    assert program == "lrs"
    assert "--sandpit" in followed
    assert main(followed) == ExitCode.OK

    assert live.fake.requests == []
    [resume] = sandpit.fake.sent("POST", "/v1/admin/maintenance/resume")
    assert resume[2] == ("Bearer lrs_sbx_k4_ops" if key_file else f"Bearer {SANDPIT_KEY}")


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"LRS_ENVIRONMENT": "staging", "LRS_API_KEY": LIVE_KEY},
            "LRS_ENVIRONMENT is 'staging': it is live or sandpit",
        ),
        ({"LRS_ENVIRONMENT": "sandpit", "LRS_SANDPIT_API_KEY": SANDPIT_KEY}, "LRS_SANDPIT_INGEST_URL is not set"),
    ],
)
def test_a_misconfigured_environment_is_a_usage_error(
    variables: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)

    assert main(["batch", "list"]) == ExitCode.USAGE
    assert message in capsys.readouterr().err


def test_without_a_sandpit_key_the_sandpit_says_which_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_API_KEY", LIVE_KEY)

    assert main(["sandpit", "reset"]) == ExitCode.USAGE
    assert "lrs: no API key: set LRS_SANDPIT_API_KEY or pass --key-file" in capsys.readouterr().err
