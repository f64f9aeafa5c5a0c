"""`make restart SERVICE=NAME` (scripts/dev/restart.sh NAME) starts again one service of a running `make up`, the
others left running (operator review, finding 4: `make restart` stopped all eleven and ingest refused uploads).

Run against a copy of the repository's layout whose `.venv/bin/lrs-<service>` are small fakes: each answers
/healthz and /readyz on the port `make up` gives it with its pid and the environment it was started with, so what
is checked is the scripts' own work (which process, which command, which environment), without Kafka or PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")

LIVE = ("ingest", "validation", "plr-projector", "challenges", "notifier", "reporting", "portal")
SANDPIT = ("ingest", "validation", "plr-projector", "notifier")
PORT_VARIABLE = {
    "ingest": "INGEST_PORT",
    "validation": "VALIDATION_PORT",
    "plr-projector": "PROJECTOR_PORT",
    "challenges": "CHALLENGES_PORT",
    "notifier": "NOTIFIER_PORT",
    "reporting": "REPORTING_PORT",
    "portal": "PORTAL_PORT",
}
LIVE_DATABASE = "postgresql://postgres@live.invalid/lrs"
SANDPIT_DATABASE = "postgresql://postgres@sandpit.invalid/lrs_sandpit"

FAKE_SERVICE = f"""#!{sys.executable}
import http.server, json, os, signal, sys
PORTS = {PORT_VARIABLE!r}
service = os.path.basename(sys.argv[0]).removeprefix("lrs-")
if os.environ.get("FAKE_IGNORE_TERM"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
port = int(os.environ[PORTS[service]])


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({{
            "pid": os.getpid(),
            "environment": os.environ.get("LRS_ENVIRONMENT", "live"),
            "database": os.environ["DATABASE_URL"],
            "port": port,
        }}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", port), Handler)
print(service, "listening on", port, flush=True)
server.serve_forever()
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _until(probe: Callable[[], T | None], what: str, within: float = 30.0) -> T:
    deadline = time.monotonic() + within
    while True:
        if (found := probe()) is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat")
    return not (state.exists() and state.read_text().rsplit(")", 1)[1].split()[0] == "Z")


@dataclass
class System:
    """A `make up` layout in `root`: scripts/dev linked to the repository's, fakes for the services."""

    root: Path
    urls: dict[str, str]
    started: list[int]

    @property
    def run(self) -> Path:
        return self.root / ".run"

    def pid(self, name: str) -> int:
        return int((self.run / "pids" / f"{name}.pid").read_text())

    def answer(self, name: str) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"{self.urls[name]}/readyz", timeout=3) as response:
                answer: dict[str, Any] = json.load(response)
                return answer
        except (urllib.error.URLError, ConnectionError):
            return None

    def start_as_make_up_does(self, *names: str, **env: str) -> None:
        """Starts the named services with services.sh's start_service, from .run/env, as up.sh does."""
        script = 'run="$PWD/.run"; source scripts/dev/services.sh; source .run/env; for n; do start_service "$n"; done'
        subprocess.run(
            ["bash", "-c", script, "start", *names],
            cwd=self.root,
            env={**os.environ, **env},
            check=True,
            timeout=60,
            umask=0o077,  # as up.sh
        )
        for name in names:
            self.started.append(self.pid(name))
            _until(partial(self.answer, name), f"{name} to answer")

    def restart(self, *arguments: str, via_make: bool = True) -> subprocess.CompletedProcess[str]:
        command = (
            ["make", "-s", "-f", str(ROOT / "Makefile"), "restart", *arguments]
            if via_make
            else ["bash", "scripts/dev/restart.sh", *arguments]
        )
        env = {key: value for key, value in os.environ.items() if not key.startswith(("MAKE", "MFLAGS"))}
        env.pop("SERVICE", None)
        done = subprocess.run(
            command, cwd=self.root, env=env, capture_output=True, text=True, timeout=300, check=False, umask=0o022
        )
        if (self.run / "pids").is_dir():
            self.started.extend(int(path.read_text()) for path in (self.run / "pids").glob("*.pid"))
        return done


@pytest.fixture
def system(tmp_path: Path) -> Iterator[System]:
    root = tmp_path / "repo"
    (root / "scripts" / "dev").mkdir(parents=True)
    for script in ("restart.sh", "services.sh", "demo.py"):
        (root / "scripts" / "dev" / script).symlink_to(ROOT / "scripts" / "dev" / script)
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')  # demo.py wait, for make restart
    (bin_dir / "python").chmod(0o700)
    for service in LIVE:
        fake = bin_dir / f"lrs-{service}"
        fake.write_text(FAKE_SERVICE)
        fake.chmod(0o700)
    run = root / ".run"
    for folder in ("pids", "logs"):
        (run / folder).mkdir(parents=True, mode=0o700)
    urls = {}
    lines = [
        f'export PATH="{bin_dir}:$PATH"',
        f"export DATABASE_URL={LIVE_DATABASE}",
        f"export LRS_SANDPIT_DATABASE_URL={SANDPIT_DATABASE} PORTAL_SANDPIT_DATABASE_URL={SANDPIT_DATABASE}",
        "export PORTAL_SMTP_HOST=127.0.0.1 PORTAL_SMTP_PORT=1",
        "export INGEST_INSTANCE_ID=local VALIDATION_INSTANCE_ID=local",
        "export PORTAL_COOKIE_SECURE=false",  # as up.sh: the portal is served over plain http on loopback
    ]
    for service in LIVE:
        port = _free_port()
        urls[service] = f"http://127.0.0.1:{port}"
        lines.append(
            f"export {PORT_VARIABLE[service]}={port} LRS_{service.replace('-', '_').upper()}_URL={urls[service]}"
        )
    for service in SANDPIT:
        urls[f"sandpit-{service}"] = f"http://127.0.0.1:{_free_port()}"
        lines.append(f"export LRS_SANDPIT_{service.replace('-', '_').upper()}_URL={urls[f'sandpit-{service}']}")
    lines.append("export PORTAL_PUBLIC_URL=$LRS_PORTAL_URL")
    (run / "env").write_text("\n".join(lines) + "\n")
    (run / "env").chmod(0o600)
    made = System(root, urls, [])
    try:
        yield made
    finally:
        for pid in set(made.started):  # only the fakes this test started
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)


def test_a_wrong_name_is_refused_with_the_names_it_takes(system: System) -> None:
    names = [*LIVE, *(f"sandpit-{service}" for service in SANDPIT), "smtp"]
    for wrong in (["plr_projector"], ["sandpit-challenges"], ["plr-projector ingest"], ["plr-projector", "ingest"]):
        done = system.restart(*wrong, via_make=False)
        assert done.returncode == 2, done
        assert [line.strip() for line in done.stderr.splitlines()[1:]] == names, done.stderr
    done = system.restart("SERVICE=plr_projector")  # make passes SERVICE on (and fails with 2 whatever failed)
    assert done.returncode == 2 and "no service is named 'plr_projector'" in done.stderr, done
    assert [line.strip() for line in done.stderr.splitlines()[1:-1]] == names, done.stderr
    assert list((system.run / "pids").iterdir()) == []  # nothing stopped or started


def test_nothing_up_is_said_so(system: System) -> None:
    (system.run / "env").unlink()
    done = system.restart("plr-projector", via_make=False)
    assert done.returncode == 1 and "nothing is up: 'make up' first" in done.stderr, done


def test_a_killed_projector_is_started_again_alone_as_make_up_started_it(system: System) -> None:
    system.start_as_make_up_does("ingest", "plr-projector")
    ingest, killed = system.pid("ingest"), system.pid("plr-projector")
    os.kill(killed, signal.SIGKILL)
    _until(lambda: None if _alive(killed) else True, "the projector to die")

    done = system.restart("SERVICE=plr-projector")

    assert done.returncode == 0, done
    started = system.pid("plr-projector")
    assert started != killed and _alive(started)
    url = system.urls["plr-projector"]
    assert system.answer("plr-projector") == {
        "pid": started,
        "environment": "live",
        "database": LIVE_DATABASE,
        "port": int(url.rsplit(":", 1)[1]),
    }
    assert f"plr-projector (pid {started}) ready at {url}" in done.stdout
    assert system.pid("ingest") == ingest and _alive(ingest)  # the others left running
    # appended to its log; its new pid file private as under `make up` (run with umask 022 here)
    assert (system.run / "logs" / "plr-projector.log").read_text().count("plr-projector listening on") == 2
    assert stat.S_IMODE((system.run / "pids" / "plr-projector.pid").stat().st_mode) == 0o600


def test_a_running_service_is_stopped_before_it_is_started_again(system: System) -> None:
    system.start_as_make_up_does("validation")
    before = system.pid("validation")

    done = system.restart("SERVICE=validation")

    assert done.returncode == 0, done
    assert f"stopping validation (pid {before})" in done.stdout
    assert not _alive(before)
    after = system.pid("validation")
    assert after != before and system.answer("validation") == {
        "pid": after,
        "environment": "live",
        "database": LIVE_DATABASE,
        "port": int(system.urls["validation"].rsplit(":", 1)[1]),
    }


def test_a_sandpit_service_is_started_with_the_sandpits_environment(system: System) -> None:
    system.start_as_make_up_does("plr-projector")
    live = system.pid("plr-projector")

    done = system.restart("SERVICE=sandpit-plr-projector")

    assert done.returncode == 0, done
    assert "sandpit-plr-projector is not running" in done.stdout
    started = system.pid("sandpit-plr-projector")
    assert system.answer("sandpit-plr-projector") == {
        "pid": started,
        "environment": "sandpit",
        "database": SANDPIT_DATABASE,
        "port": int(system.urls["sandpit-plr-projector"].rsplit(":", 1)[1]),
    }
    log = system.run / "logs" / "sandpit-plr-projector.log"
    assert log.read_text().startswith("plr-projector listening")
    assert stat.S_IMODE(log.stat().st_mode) == 0o600  # made by restart.sh, run with umask 022: private all the same
    assert system.pid("plr-projector") == live and _alive(live)


def test_one_that_does_not_stop_on_sigterm_is_killed_after_the_bound(system: System) -> None:
    system.start_as_make_up_does("notifier", FAKE_IGNORE_TERM="1")
    stuck = system.pid("notifier")

    done = system.restart("notifier", via_make=False)

    assert done.returncode == 0, done
    assert f"notifier (pid {stuck}) did not stop within 20 s of SIGTERM: killed" in done.stderr
    assert not _alive(stuck)
    assert system.answer("notifier") == {
        "pid": system.pid("notifier"),
        "environment": "live",
        "database": LIVE_DATABASE,
        "port": int(system.urls["notifier"].rsplit(":", 1)[1]),
    }


def test_a_stale_pid_file_names_a_process_that_is_left_alone(system: System) -> None:
    other = subprocess.Popen(["sleep", "300"])  # a process that took the dead projector's pid, say
    try:
        (system.run / "pids" / "plr-projector.pid").write_text(f"{other.pid}\n")

        done = system.restart("SERVICE=plr-projector")

        assert done.returncode == 0, done
        assert other.poll() is None
        assert system.answer("plr-projector") is not None
    finally:
        other.kill()
        other.wait()


def test_a_port_held_by_another_process_is_refused(system: System) -> None:
    system.start_as_make_up_does("reporting")
    (system.run / "pids" / "reporting.pid").unlink()  # running, but no longer known by its pid file

    done = system.restart("reporting", via_make=False)

    assert done.returncode == 1, done
    assert f"answers at {system.urls['reporting']}" in done.stderr
    assert not (system.run / "pids" / "reporting.pid").exists()


def test_make_restart_without_service_still_starts_all_eleven_again(system: System) -> None:
    names = [*LIVE, *(f"sandpit-{service}" for service in SANDPIT)]
    system.start_as_make_up_does(*names)
    before = {name: system.pid(name) for name in names}

    done = system.restart()

    assert done.returncode == 0, done
    assert "restarted with .run/env as it is now" in done.stdout
    for name in names:
        assert not _alive(before[name]), name
        assert system.answer(name) == {
            "pid": system.pid(name),
            "environment": "sandpit" if name.startswith("sandpit-") else "live",
            "database": SANDPIT_DATABASE if name.startswith("sandpit-") else LIVE_DATABASE,
            "port": int(system.urls[name].rsplit(":", 1)[1]),
        }, name


@pytest.mark.parametrize(
    ("name", "variable", "value"),
    [
        ("plr-projector", "PROJECTOR_LOG_LEVEL", "verbose"),
        ("reporting", "REPORTING_LOG_LEVEL", "Verbose"),
        ("sandpit-plr-projector", "PROJECTOR_LOG_LEVEL", "loud"),
    ],
)
def test_a_log_level_the_service_would_refuse_leaves_the_running_one_running(
    system: System, name: str, variable: str, value: str
) -> None:
    """Runbook walk, finding 13: the old process was stopped, then the new one refused the level and exited, and the
    service stayed down. The level is checked first, in the service's words; the running one is left as it is."""
    with (system.run / "env").open("a") as env:
        env.write(f"export {variable}={value}\n")
    system.start_as_make_up_does(name)
    running = system.pid(name)

    done = system.restart(name, via_make=False)

    assert done.returncode == 1, done
    assert done.stderr.strip() == (
        f"{variable}='{value}' is not a log level: set it to one of debug, info, warning, error, critical"
    )
    assert "stopping" not in done.stdout
    assert system.pid(name) == running and _alive(running)


def test_make_restart_of_all_with_a_log_level_one_would_refuse_stops_none(system: System) -> None:
    """Session 54's note: `make restart` of every service stopped them all, then one refused its level and stayed
    down. Every level is checked first; nothing is stopped."""
    with (system.run / "env").open("a") as env:
        env.write("export CHALLENGES_LOG_LEVEL=chatty\n")
    names = [*LIVE, *(f"sandpit-{service}" for service in SANDPIT)]
    system.start_as_make_up_does(*names)
    before = {name: system.pid(name) for name in names}

    done = system.restart()

    assert done.returncode != 0, done
    assert "CHALLENGES_LOG_LEVEL='chatty' is not a log level" in done.stderr
    assert "stopping" not in done.stdout
    assert all(system.pid(name) == before[name] and _alive(before[name]) for name in names)


@pytest.mark.parametrize("value", ["", " ", "WARNING"])
def test_an_empty_or_known_log_level_restarts_it(system: System, value: str) -> None:
    with (system.run / "env").open("a") as env:
        env.write(f"export VALIDATION_LOG_LEVEL='{value}'\n")
    system.start_as_make_up_does("validation")
    before = system.pid("validation")

    done = system.restart("validation", via_make=False)

    assert done.returncode == 0, done
    assert not _alive(before) and system.pid("validation") != before
