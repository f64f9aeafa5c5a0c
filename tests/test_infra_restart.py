"""`make infra-restart|infra-stop|infra-start WHAT=kafka|postgres` (scripts/infra/infra-restart.sh) stops and starts
again the broker or the cluster `make up` started, with its data, settings and port (runbook walk, finding 1:
kafka-start.sh formats a new broker on new ports and pg-start.sh runs initdb, so neither can start the old one again);
and scripts/infra/kafka-stop.sh given a relative work dir stops its broker, while a pid file naming another live
process is said so and that process left alone: the work dir is removed when no broker of it runs (a reboot gave
its pid to another program: `make down` cleans up), and kept, exit 1, when one runs under another pid (finding 2).

Kafka is a fake `java` on PATH that runs as the broker would be seen (`kafka.Kafka <work>/server.properties` in
its arguments) and logs "Kafka Server started": what is checked is the scripts' own work, without a JVM. PostgreSQL
is the real one, started by pg-start.sh in a directory of its own (a few seconds), skipped where it is not installed.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "scripts" / "infra"
T = TypeVar("T")

FAKE_JAVA = f"""#!{sys.executable}
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("[KafkaServer id=1] Kafka Server started (kafka.server.KafkaRaftServer)", flush=True)
while True:
    time.sleep(3600)
"""


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


def _args(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


@dataclass
class Layout:
    """A `make up` .run directory with a (fake) broker in .run/kafka."""

    run: Path
    bin_dir: Path
    started: list[int] = field(default_factory=list)

    @property
    def kafka(self) -> Path:
        return self.run / "kafka"

    def env(self) -> dict[str, str]:
        return {**os.environ, "PATH": f"{self.bin_dir}:{os.environ['PATH']}", "LRS_RUN_DIR": str(self.run),
                "INFRA_WAIT_SECONDS": "0"}  # fmt: skip

    def start_broker(self) -> int:
        """As kafka-start.sh leaves it: running from .run/kafka/server.properties, its pid in kafka.pid."""
        # started from a shell that exits, as kafka-start.sh's nohup: not this test's child, so once stopped it is
        # reaped at once (a child left a zombie would answer `kill -0` until kafka-stop.sh's 20 s ran out)
        started = subprocess.run(
            ["bash", "-c", 'nohup "$@" >> "$0" 2>&1 < /dev/null & echo $!', str(self.kafka / "kafka.log"),
             str(self.bin_dir / "java"), "-Xms256m", "-cp", "lib/*", "kafka.Kafka", f"{self.kafka}/server.properties"],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        broker = int(started.stdout)
        _until(lambda: True if "Kafka Server started" in (self.kafka / "kafka.log").read_text() else None, "the broker")
        (self.kafka / "kafka.pid").write_text(f"{broker}\n")
        self.started.append(broker)
        return broker

    def script(
        self, script: str, *arguments: str, cwd: Path | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["bash", str(INFRA / script), *arguments], cwd=cwd or ROOT, env={**self.env(), **env},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        with contextlib.suppress(FileNotFoundError, ValueError):
            self.started.append(int((self.kafka / "kafka.pid").read_text()))
        return done


@pytest.fixture
def layout(tmp_path: Path) -> Iterator[Layout]:
    run = tmp_path / ".run"
    (run / "kafka" / "data").mkdir(parents=True)
    (run / "env").write_text("export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:39092\n")
    (run / "kafka" / "server.properties").write_text(
        "process.roles=broker,controller\n"
        "listeners=PLAINTEXT://127.0.0.1:39092,CONTROLLER://127.0.0.1:39093\n"
        f"log.dirs={run}/kafka/data\n"
    )
    (run / "kafka" / "data" / "meta.properties").write_text("cluster.id=kept\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "java").write_text(FAKE_JAVA)
    (bin_dir / "java").chmod(0o700)
    made = Layout(run, bin_dir)
    try:
        yield made
    finally:
        for pid in set(made.started):  # only what this test started
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_kafka_is_stopped_and_started_again_from_its_own_settings_and_data(layout: Layout) -> None:
    before = layout.start_broker()

    done = layout.script("infra-restart.sh", "kafka")

    assert done.returncode == 0, done
    assert f"stopping Kafka (pid {before}, 127.0.0.1:39092)" in done.stdout
    assert not _alive(before)
    after = int((layout.kafka / "kafka.pid").read_text())
    assert after != before and _alive(after)
    assert f"kafka.Kafka {layout.kafka}/server.properties" in _args(after)  # not formatted, no new ports
    assert f"Kafka started (pid {after}, 127.0.0.1:39092) with its data" in done.stdout
    assert (layout.kafka / "data" / "meta.properties").read_text() == "cluster.id=kept\n"
    assert (layout.kafka / "kafka.log").read_text().count("Kafka Server started") == 2  # appended to


def test_kafka_stop_then_start_one_step_at_a_time(layout: Layout) -> None:
    before = layout.start_broker()

    stopped = layout.script("infra-restart.sh", "kafka", "stop")
    again = layout.script("infra-restart.sh", "kafka", "stop")

    assert stopped.returncode == 0 and not _alive(before), stopped
    assert again.returncode == 0 and "Kafka is not running" in again.stdout, again
    assert (layout.kafka / "server.properties").exists() and (layout.kafka / "data" / "meta.properties").exists()

    started = layout.script("infra-restart.sh", "kafka", "start")
    running = layout.script("infra-restart.sh", "kafka", "start")

    assert started.returncode == 0, started
    pid = int((layout.kafka / "kafka.pid").read_text())
    assert _alive(pid) and f"Kafka is running already (pid {pid}" in running.stdout


def test_a_wrong_name_or_step_is_refused_and_nothing_up_is_said_so(layout: Layout) -> None:
    for arguments in (["zookeeper"], [""], ["kafka", "bounce"], ["kafka", "stop", "now"]):
        done = layout.script("infra-restart.sh", *arguments)
        assert done.returncode == 2 and done.stderr.startswith("usage: make infra-restart"), done
    (layout.run / "env").unlink()
    done = layout.script("infra-restart.sh", "kafka")
    assert done.returncode == 1 and "nothing is up: 'make up' first" in done.stderr, done


def test_kafka_stop_given_a_relative_work_dir_stops_its_broker(layout: Layout) -> None:
    broker = layout.start_broker()

    done = layout.script("kafka-stop.sh", "kafka", cwd=layout.run, KEEP_WORK="1")

    assert done.returncode == 0, done
    _until(lambda: None if _alive(broker) else True, "the broker to stop")
    assert (layout.kafka / "data" / "meta.properties").exists()  # KEEP_WORK=1


def test_kafka_stop_leaves_alone_a_program_that_took_its_brokers_pid_and_removes_the_work_dir_no_broker_uses(
    layout: Layout,
) -> None:
    other = subprocess.Popen(["sleep", "300"])  # after a reboot, another program with the broker's old pid
    try:
        (layout.kafka / "kafka.pid").write_text(f"{other.pid}\n")

        done = layout.script("kafka-stop.sh", str(layout.kafka))

        assert done.returncode == 0, done
        assert f"pid {other.pid} in {layout.kafka}/kafka.pid is not the broker of {layout.kafka}" in done.stderr
        assert other.poll() is None, "another program was signalled"
        assert not layout.kafka.exists()
    finally:
        other.kill()
        other.wait()


def test_kafka_stop_removes_nothing_while_a_broker_of_its_work_dir_runs_under_another_pid(layout: Layout) -> None:
    # a broker of this work dir (as `ps` shows its command line), and a pid file written over with another pid
    broker = subprocess.Popen(["bash", "-c", "sleep 300; :", "kafka.Kafka", f"{layout.kafka}/server.properties"])
    other = subprocess.Popen(["sleep", "300"])
    try:
        (layout.kafka / "kafka.pid").write_text(f"{other.pid}\n")

        done = layout.script("kafka-stop.sh", str(layout.kafka))

        assert done.returncode == 1, done
        assert "which runs under another pid: nothing stopped or removed" in done.stderr
        assert broker.poll() is None and other.poll() is None
        assert (layout.kafka / "data" / "meta.properties").exists()
    finally:
        for each in (broker, other):
            each.kill()
            each.wait()


def test_kafka_stop_of_a_broker_gone_removes_its_work_dir_as_before(layout: Layout) -> None:
    broker = layout.start_broker()
    os.kill(broker, signal.SIGKILL)
    _until(lambda: None if Path(f"/proc/{broker}").exists() else True, "the broker to die and be reaped")

    done = layout.script("kafka-stop.sh", str(layout.kafka))

    assert done.returncode == 0 and not layout.kafka.exists(), done


@pytest.mark.skipif(not glob.glob("/usr/lib/postgresql/*/bin/initdb"), reason="no PostgreSQL server installed")
def test_postgres_is_stopped_and_started_again_with_its_data_and_port() -> None:
    run = Path(tempfile.mkdtemp(prefix="lrs-infra-restart-"))
    run.chmod(0o711)  # as up.sh makes .run for root: the cluster's postgres user passes through
    psql = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))[-1]
    try:
        url = subprocess.run(
            ["bash", str(INFRA / "pg-start.sh")], env={**os.environ, "PG_WORK": str(run / "pg")},
            capture_output=True, text=True, timeout=120, check=True,
        ).stdout.strip()  # fmt: skip
        (run / "env").write_text(f"export DATABASE_URL={url}\n")
        subprocess.run([psql, "-q", url, "-c", "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)"], check=True)
        env = {**os.environ, "LRS_RUN_DIR": str(run), "INFRA_WAIT_SECONDS": "0"}

        stopped = subprocess.run(
            ["bash", str(INFRA / "infra-restart.sh"), "postgres", "stop"], env=env,
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        refused = subprocess.run([psql, "-q", url, "-c", "SELECT 1"], capture_output=True, text=True, check=False)
        started = subprocess.run(
            ["bash", str(INFRA / "infra-restart.sh"), "postgres", "start"], env=env,
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

        assert stopped.returncode == 0 and "PostgreSQL stopped" in stopped.stdout, stopped
        assert refused.returncode != 0
        assert started.returncode == 0 and "PostgreSQL started" in started.stdout, started
        kept = subprocess.run(
            [psql, "-At", url, "-c", "SELECT x FROM kept"], capture_output=True, text=True, check=True
        )
        assert kept.stdout.strip() == "42"  # the same cluster, on the same port
    finally:
        subprocess.run(["bash", str(INFRA / "pg-stop.sh"), str(run / "pg")], check=False, timeout=120)
        shutil.rmtree(run, ignore_errors=True)
