"""`make restart` checks, before it stops anything, that each service it is about to start again would take its
settings (scripts/dev/check_settings.py, run by restart.sh): upgrade walk, finding 7. A release that refused a setting
an earlier one took (`NOTIFIER_SERVICE_DESK_EMAIL='lrs..desk@lrs.example'`) stopped the running notifier, then could
not start the new one: the service was down. Now the setting is named in the service's words and nothing is stopped.

The check is run here directly, with the environment `make up` writes (as `.run/env` sourced), and once through
restart.sh against a fake notifier that loads the real NotifierSettings as it starts. No Kafka, no PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from scripts.dev.check_settings import SANDPIT, SETTINGS, environment_of

ROOT = Path(__file__).resolve().parents[1]
CHECK = ROOT / "scripts" / "dev" / "check_settings.py"
NAMES = [*SETTINGS, *(f"sandpit-{service}" for service in SANDPIT)]
PORT_VARIABLE = {
    "ingest": "INGEST_PORT",
    "validation": "VALIDATION_PORT",
    "plr-projector": "PROJECTOR_PORT",
    "challenges": "CHALLENGES_PORT",
    "notifier": "NOTIFIER_PORT",
    "reporting": "REPORTING_PORT",
    "portal": "PORTAL_PORT",
}
DESK_REFUSED = (
    "NOTIFIER_SERVICE_DESK_EMAIL='lrs..desk@lrs.example': NOTIFIER_SERVICE_DESK_EMAIL must be one email address in"
    " ASCII, like lrs-desk@example.org"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _make_up_env(bin_dir: Path | None = None) -> str:
    """`.run/env` as scripts/dev/up.sh writes it (free ports, made-up keys)."""
    lines = [
        f'export PATH="{bin_dir or Path(sys.executable).parent}:$PATH"',
        "export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:1",
        "export DATABASE_URL=postgresql://postgres@127.0.0.1:1/lrs",
        "export LRS_SANDPIT_DATABASE_URL=postgresql://postgres@127.0.0.1:1/lrs_sandpit"
        " PORTAL_SANDPIT_DATABASE_URL=postgresql://postgres@127.0.0.1:1/lrs_sandpit",
        "export NOTIFIER_SMTP_HOST=127.0.0.1 NOTIFIER_SMTP_PORT=1",
        "export PORTAL_SMTP_HOST=127.0.0.1 PORTAL_SMTP_PORT=1",
        'export PORTAL_SUPPORT_EMAIL="${PORTAL_SUPPORT_EMAIL-lrs-desk@lrs.example}"'
        ' PORTAL_SUPPORT_PHONE="${PORTAL_SUPPORT_PHONE-0808 157 0900}"'
        ' PORTAL_SUPPORT_HOURS="${PORTAL_SUPPORT_HOURS-Monday to Friday, 9am to 5pm}"',
        'export NOTIFIER_SERVICE_DESK_EMAIL="${NOTIFIER_SERVICE_DESK_EMAIL-lrs-desk@lrs.example}"'
        ' NOTIFIER_SERVICE_DESK_PHONE="${NOTIFIER_SERVICE_DESK_PHONE-0808 157 0900}"'
        ' NOTIFIER_SERVICE_DESK_HOURS="${NOTIFIER_SERVICE_DESK_HOURS-Monday to Friday, 9am to 5pm}"',
    ]
    for service, variable in PORT_VARIABLE.items():
        port = _free_port()
        lines.append(f"export {variable}={port} LRS_{service.replace('-', '_').upper()}_URL=http://127.0.0.1:{port}")
    for service in SANDPIT:
        lines.append(f"export LRS_SANDPIT_{service.replace('-', '_').upper()}_URL=http://127.0.0.1:{_free_port()}")
    lines += [
        "export PORTAL_COOKIE_SECURE=false",
        "export PORTAL_PUBLIC_URL=$LRS_PORTAL_URL",
        "export PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY=" + "A" * 43 + "=",
        "export LRS_SANDPIT_PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY=" + "C" * 43 + "=",
        "export PROJECTOR_CREDENTIAL_ISSUER_URL=$LRS_PLR_PROJECTOR_URL",
        "export LRS_KEYRING_KEY=" + "B" * 43 + "=",
        "export INGEST_INSTANCE_ID=local VALIDATION_INSTANCE_ID=local",
    ]
    return "\n".join(lines) + "\n"


def _sourced(env_file: Path) -> dict[str, str]:
    """The environment restart.sh runs with once it sourced `env_file`: only what it exports, nothing of ours."""
    done = subprocess.run(
        ["env", "-i", f"PATH={os.environ['PATH']}", "bash", "-c", 'source "$1" && env -0', "sourced", str(env_file)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return _environ(done.stdout)


def _environ(dump: bytes) -> dict[str, str]:
    """NUL-separated NAME=VALUE, less what bash sets for each program it runs."""
    pairs = (entry.decode().split("=", 1) for entry in dump.split(b"\0") if entry)
    return {key: value for key, value in pairs if key not in {"_", "SHLVL", "PWD"}}


@pytest.fixture
def make_up_env(tmp_path: Path) -> dict[str, str]:
    env_file = tmp_path / "env"
    env_file.write_text(_make_up_env())
    return _sourced(env_file)


def _check(env: dict[str, str], *names: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECK), *names], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_settings_make_up_writes_are_taken_by_all_eleven(make_up_env: dict[str, str]) -> None:
    done = _check(make_up_env, *NAMES)

    assert (done.returncode, done.stderr, done.stdout) == (0, "", "")


@pytest.mark.parametrize("names", [["notifier"], NAMES])
def test_a_setting_the_notifier_refuses_is_named_in_its_words(make_up_env: dict[str, str], names: list[str]) -> None:
    """The upgrade walk's case: the Sandpit's notifier reads the same setting, and refuses it in the same line."""
    done = _check({**make_up_env, "NOTIFIER_SERVICE_DESK_EMAIL": "lrs..desk@lrs.example"}, *names)

    assert done.returncode == 1, done
    refusers = "notifier" if names == ["notifier"] else "notifier, sandpit-notifier"
    assert done.stderr.splitlines() == [f"{refusers} would not start: {DESK_REFUSED}"]


def test_a_log_level_is_refused_once_in_the_line_the_service_stops_with(make_up_env: dict[str, str]) -> None:
    done = _check({**make_up_env, "PROJECTOR_LOG_LEVEL": "loud"}, *NAMES)

    assert done.returncode == 1, done
    assert done.stderr.splitlines() == [
        "PROJECTOR_LOG_LEVEL='loud' is not a log level: set it to one of debug, info, warning, error, critical"
    ]


def test_the_sandpits_are_checked_with_the_settings_make_up_gives_them(make_up_env: dict[str, str]) -> None:
    """What live takes and the Sandpit's copies would refuse, started with services.sh's overrides."""
    env = {
        **make_up_env,
        "LRS_SANDPIT_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/lrs_copy",
        "LRS_SANDPIT_NOTIFIER_URL": "http://127.0.0.1:port",
    }

    done = _check(env, *NAMES)

    assert done.returncode == 1, done
    assert done.stderr.splitlines() == [
        "sandpit-ingest, sandpit-validation, sandpit-plr-projector would not start: the Sandpit needs a database of"
        " its own (named '*sandpit*'), not 'lrs_copy'",
        "sandpit-notifier would not start: NOTIFIER_PORT='port' (the Sandpit's, LRS_SANDPIT_NOTIFIER_URL's): Input"
        " should be a valid integer, unable to parse string as an integer",
    ]


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        # read by a settings class of lrs_platform's, under its own name
        (
            "KAFKA_SESSION_TIMEOUT_MS",
            "1",
            "KAFKA_SESSION_TIMEOUT_MS='1': Input should be greater than or equal to 1000",
        ),
        # a key's setting: named, its value not printed
        ("LRS_KEYRING_WRAP_WITH", "hush", "LRS_KEYRING_WRAP_WITH: Input should be a valid integer, unable to parse"),
        ("CHALLENGES_PORT", "80a", "CHALLENGES_PORT='80a': Input should be a valid integer, unable to parse"),
    ],
)
def test_the_setting_is_named_as_it_is_set(make_up_env: dict[str, str], variable: str, value: str, line: str) -> None:
    done = _check({**make_up_env, variable: value}, "challenges")

    assert done.returncode == 1, done
    assert done.stderr.startswith(f"challenges would not start: {line}"), done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_a_name_that_is_no_service_is_refused(make_up_env: dict[str, str]) -> None:
    for names in (["sandpit-challenges"], ["smtp"], []):
        done = _check(make_up_env, *names)
        assert done.returncode == 2 and done.stderr.startswith("usage: check_settings.py NAME..."), done


def test_each_sandpit_environment_is_the_one_start_service_gives(tmp_path: Path) -> None:
    """check_settings.py mirrors services.sh's start_service: each program, started by it, writes its environment."""
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for service in SETTINGS:
        fake = bin_dir / f"lrs-{service}"
        fake.write_text(
            f"#!{sys.executable}\nimport os, shutil, sys\n"  # as it was given (Python sets LC_CTYPE in os.environ)
            "name = os.environ.get('LRS_ENVIRONMENT', 'live') + '-' + os.path.basename(sys.argv[0])\n"
            "shutil.copy('/proc/self/environ', os.path.join(os.environ['DUMP'], name))\n"
        )
        fake.chmod(0o700)
    for folder in ("pids", "logs", "dump"):
        (tmp_path / ".run" / folder).mkdir(parents=True)
    env_file = tmp_path / ".run" / "env"
    env_file.write_text(_make_up_env(bin_dir) + f"export DUMP={tmp_path / '.run' / 'dump'}\n")
    script = (
        f'run="$PWD/.run"; source {ROOT}/scripts/dev/services.sh; source .run/env; '
        'for n in $(service_names); do start_service "$n"; done; wait'
    )
    subprocess.run(["env", "-i", f"PATH={os.environ['PATH']}", "bash", "-c", script], cwd=tmp_path, check=True)
    sourced = _sourced(env_file)

    def given(name: str) -> dict[str, str]:
        return _environ((tmp_path / ".run" / "dump" / name).read_bytes())

    for service in SETTINGS:
        assert environment_of(service, sourced) == ({**given(f"live-lrs-{service}")}, {}), service
    for service in SANDPIT:
        environment, sources = environment_of(f"sandpit-{service}", sourced)
        assert environment == given(f"sandpit-lrs-{service}"), service
        assert set(sources) == {key for key, value in environment.items() if sourced.get(key) != value}, service


FAKE_NOTIFIER = f"""#!{sys.executable}
# A notifier that starts as the real one does (its settings first), then answers /healthz and /readyz.
import http.server, os
from notifier.config import NotifierSettings

settings = NotifierSettings()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", settings.port), Handler).serve_forever()
"""


@pytest.fixture
def layout(tmp_path: Path) -> Iterator[Path]:
    """A `make up` layout: scripts/dev linked to the repository's, a notifier of our own, .run/env as up.sh's."""
    root = tmp_path / "repo"
    (root / "scripts" / "dev").mkdir(parents=True)
    for script in ("restart.sh", "services.sh"):
        (root / "scripts" / "dev" / script).symlink_to(ROOT / "scripts" / "dev" / script)
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    (bin_dir / "python").chmod(0o700)
    (bin_dir / "lrs-notifier").write_text(FAKE_NOTIFIER)
    (bin_dir / "lrs-notifier").chmod(0o700)
    for folder in ("pids", "logs"):
        (root / ".run" / folder).mkdir(parents=True, mode=0o700)
    (root / ".run" / "env").write_text(_make_up_env(bin_dir))
    try:
        yield root
    finally:
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            os.kill(int((root / ".run" / "pids" / "notifier.pid").read_text()), signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=3):
            return True
    except (urllib.error.URLError, ConnectionError):
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat")
    return not (state.exists() and state.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def _restart(root: Path, *arguments: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "scripts/dev/restart.sh", *arguments],
        cwd=root,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("arguments", [["notifier"], []])
def test_restart_leaves_the_running_notifier_running_when_the_new_start_would_refuse_a_setting(
    layout: Path, arguments: list[str]
) -> None:
    """`NOTIFIER_SERVICE_DESK_EMAIL=... make restart [SERVICE=notifier]`: refused before the notifier is stopped."""
    subprocess.run(
        ["bash", "-c", 'run="$PWD/.run"; source scripts/dev/services.sh; source .run/env; start_service notifier'],
        cwd=layout,
        env={"PATH": os.environ["PATH"]},
        check=True,
        timeout=60,
    )
    running = int((layout / ".run" / "pids" / "notifier.pid").read_text())
    url = next(
        line.split("LRS_NOTIFIER_URL=", 1)[1]
        for line in (layout / ".run" / "env").read_text().splitlines()
        if "LRS_NOTIFIER_URL=" in line
    )
    deadline = time.monotonic() + 60
    while not _ready(url):
        assert time.monotonic() < deadline and _alive(running), "the notifier did not answer"
        time.sleep(0.05)

    done = _restart(layout, *arguments, NOTIFIER_SERVICE_DESK_EMAIL="lrs..desk@lrs.example")

    assert done.returncode == 1, done
    assert "stopping" not in done.stdout
    refusers = "notifier" if arguments else "notifier, sandpit-notifier"
    assert done.stderr.splitlines() == [f"{refusers} would not start: {DESK_REFUSED}"]
    assert int((layout / ".run" / "pids" / "notifier.pid").read_text()) == running
    assert _alive(running) and _ready(url)


def test_a_database_address_refused_is_named_without_its_password(make_up_env: dict[str, str]) -> None:
    """A line `make restart` prints goes to terminals and logs: an address's password never does."""
    done = _check({**make_up_env, "PORTAL_SANDPIT_DATABASE_URL": "postgresql://lrs:s3cretpw@127.0.0.1/lrs"}, "portal")

    assert done.returncode == 1, done
    assert "s3cretpw" not in done.stderr
    assert "PORTAL_SANDPIT_DATABASE_URL='postgresql://lrs:***@127.0.0.1/lrs'" in done.stderr, done.stderr


# What the services refuse later in their start, beyond their settings classes (e2e walk, finding 1): a key that is not
# 32 bytes in base64, a reference directory without its files. Each stopped the running service, which then could not
# start again; now it is refused before anything stops, in the service's words, and a key's value is never printed.
SHORT_KEY = "c2hvcnRrZXk="  # base64 of 8 bytes: a key pasted short


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        (
            "PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY",
            SHORT_KEY,
            "plr-projector would not start: PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY: the"
            " credential key-encryption key must be 32 bytes in base64, not 8 bytes",
        ),
        (  # the Sandpit's projector is started with its own key (services.sh)
            "LRS_SANDPIT_PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY",
            SHORT_KEY,
            "sandpit-plr-projector would not start: PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY (the Sandpit's,"
            " LRS_SANDPIT_PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY): the credential key-encryption key must be 32 bytes"
            " in base64, not 8 bytes",
        ),
        (
            "LRS_KEYRING_KEY",
            "not*base64*at*all",
            "ingest, validation, challenges, notifier, sandpit-ingest, sandpit-validation, sandpit-notifier would not"
            " start: LRS_KEYRING_KEY must be 32 bytes in base64: it is not base64",
        ),
        (
            "LRS_KEYRING_WRAPPING_KEYS",
            f"1:{SHORT_KEY}",
            "ingest, validation, challenges, notifier, sandpit-ingest, sandpit-validation, sandpit-notifier would not"
            " start: LRS_KEYRING_WRAPPING_KEYS key 1 must be 32 bytes in base64, not 8 bytes",
        ),
    ],
)
def test_a_key_a_service_would_refuse_is_named_in_its_words_without_its_value(
    make_up_env: dict[str, str], variable: str, value: str, line: str
) -> None:
    done = _check({**make_up_env, variable: value}, *NAMES)

    assert done.returncode == 1, done
    assert done.stderr.splitlines() == [line]
    assert value not in done.stderr and value not in done.stdout


@pytest.mark.parametrize(
    ("variable", "names", "refusers"),
    [
        ("PORTAL_REFERENCE_DIR", NAMES, "portal"),
        ("NOTIFIER_REFERENCE_DIR", NAMES, "notifier, sandpit-notifier"),
        ("CHALLENGES_REFERENCE_DIR", ["challenges"], "challenges"),
        ("INGEST_REFERENCE_DIR", NAMES, "sandpit-ingest"),  # read by the Sandpit's ingest only
    ],
)
def test_a_reference_directory_without_its_files_is_named_in_the_services_words(
    make_up_env: dict[str, str], tmp_path: Path, variable: str, names: list[str], refusers: str
) -> None:
    missing = tmp_path / "nonexistent"

    done = _check({**make_up_env, variable: str(missing)}, *names)

    assert done.returncode == 1, done
    assert done.stderr.splitlines() == [
        f"{refusers} would not start: {variable}='{missing}': [Errno 2] No such file or directory:"
        f" '{missing / 'awarding-organisations.csv'}'"
    ]


def test_restart_leaves_the_running_notifier_running_when_a_key_it_would_refuse_is_set(layout: Path) -> None:
    """`make restart SERVICE=notifier` with a keyring key pasted short: nothing stopped, the key not printed."""
    subprocess.run(
        ["bash", "-c", 'run="$PWD/.run"; source scripts/dev/services.sh; source .run/env; start_service notifier'],
        cwd=layout,
        env={"PATH": os.environ["PATH"]},
        check=True,
        timeout=60,
    )
    running = int((layout / ".run" / "pids" / "notifier.pid").read_text())
    with (layout / ".run" / "env").open("a") as env_file:  # as the walk pasted it: into .run/env, which restart sources
        env_file.write(f"export LRS_KEYRING_KEY={SHORT_KEY}\n")

    done = _restart(layout, "notifier")

    assert done.returncode == 1, done
    assert "stopping" not in done.stdout and SHORT_KEY not in done.stdout + done.stderr
    assert done.stderr.splitlines() == [
        "notifier would not start: LRS_KEYRING_KEY must be 32 bytes in base64, not 8 bytes"
    ]
    assert int((layout / ".run" / "pids" / "notifier.pid").read_text()) == running
    assert _alive(running)
