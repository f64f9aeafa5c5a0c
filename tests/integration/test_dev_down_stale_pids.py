"""`make down` after a reboot: the pid files `make up` left may name processes that took those pids since.
down.sh signals only a process that is still the program its pid file names, and removes the files."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


@pytest.fixture
def strangers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes of someone else's, standing where `make up`'s services, SMTP sink and broker were."""
    started = [subprocess.Popen(["sleep", "300"]) for _ in range(3)]
    yield started
    for process in started:
        process.kill()
        process.wait()


def test_down_leaves_alone_the_processes_that_took_stale_pids(
    tmp_path: Path, strangers: list[subprocess.Popen[bytes]]
) -> None:
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    run = tmp_path / ".run"
    (run / "pids").mkdir(parents=True)
    (run / "kafka").mkdir()
    service, smtp, broker = strangers
    (run / "pids" / "ingest.pid").write_text(f"{service.pid}\n")
    (run / "pids" / "smtp.pid").write_text(f"{smtp.pid}\n")
    (run / "kafka" / "kafka.pid").write_text(f"{broker.pid}\n")
    (run / "env").write_text("")

    stopped = subprocess.run(
        ["bash", str(tmp_path / "scripts" / "dev" / "down.sh")], capture_output=True, text=True, timeout=60, check=False
    )

    assert stopped.returncode == 0, stopped.stderr
    assert [process.poll() for process in strangers] == [None, None, None], "a stranger's process was signalled"
    assert not list((run / "pids").glob("*.pid")), "stale pid files are removed"
    assert not (run / "kafka").exists() and not (run / "env").exists()
