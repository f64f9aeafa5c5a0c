"""Infrastructure the fault suite can break: a broker, a PostgreSQL cluster and an SMTP sink of its own.

Each is started by the project's own scripts (scripts/infra) and can be crashed and brought back on
the same address, so the services under test see a restart, not a different server.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler
from tests.support.infra import start_local, stop_local
from tests.support.waiting import eventually


def _as_postgres_user() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _postgres_bin() -> Path:
    return sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda path: int(path.parent.name))[-1]


class RestartableKafka:
    """A single-node KRaft broker from kafka-start.sh that can be SIGKILLed and started again."""

    def __init__(self) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="lrs-faults-kafka."))
        self.bootstrap = ""
        self._command: list[str] = []
        self._respawned: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        self.bootstrap = start_local("kafka", self.work)
        # The broker's own command line, to start the very same broker (ports, data) after a crash.
        self._command = Path(f"/proc/{self._pid()}/cmdline").read_bytes().decode().split("\0")[:-1]
        return self.bootstrap

    def _pid(self) -> int:
        return int((self.work / "kafka.pid").read_text())

    async def crash(self) -> None:
        pid = self._pid()
        os.kill(pid, signal.SIGKILL)
        if self._respawned is not None:
            await asyncio.to_thread(self._respawned.wait, 30)
        await eventually(lambda: _async(_gone(pid)), within=30, what=f"broker {pid} gone")

    def _respawn(self) -> subprocess.Popen[bytes]:
        with (self.work / "kafka.log").open("ab") as out:
            self._respawned = subprocess.Popen(
                self._command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        (self.work / "kafka.pid").write_text(str(self._respawned.pid))
        return self._respawned

    def _starts(self) -> int:
        return (self.work / "kafka.log").read_text(errors="replace").count("Kafka Server started")

    async def start_again(self, within: float = 120.0) -> None:
        before = self._starts()
        respawned = self._respawn()

        async def started() -> bool:
            if respawned.poll() is not None:
                raise RuntimeError(f"Kafka did not come back (exit {respawned.returncode}); see {self.work}/kafka.log")
            return self._starts() > before

        await eventually(started, within=within, what="the broker started again")

    def stop(self) -> None:
        stop_local("kafka", self.work)
        if self._respawned is not None:
            self._respawned.wait(timeout=60)


class RestartablePostgres:
    """A throw-away cluster from pg-start.sh that can be crashed (immediate shutdown) and restarted."""

    def __init__(self) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="lrs-faults-pg."))
        self.url = ""

    def start(self) -> str:
        self.url = start_local("pg", self.work)
        # pg-start.sh trades durability for speed (synchronous_commit=off): a crash would then lose commits
        # already acknowledged, which no service can survive. Production commits durably, and so does this
        # cluster: a role setting outranks the server's command line.
        durably = "ALTER ROLE postgres SET synchronous_commit = on"
        subprocess.run(
            [str(_postgres_bin() / "psql"), "-q", self.url, "-v", "ON_ERROR_STOP=1", "-c", durably],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return self.url

    def crash_and_restart(self) -> None:
        """`pg_ctl restart -m immediate`: every connection dropped, crash recovery, same port and options."""
        subprocess.run(
            [
                *_as_postgres_user(),
                str(_postgres_bin() / "pg_ctl"),
                "-D",
                str(self.work / "data"),
                "-l",
                str(self.work / "server.log"),
                "-m",
                "immediate",
                "-w",
                "-t",
                "120",
                "restart",
            ],
            check=True,
            capture_output=True,
            timeout=180,
        )

    def stop(self) -> None:
        stop_local("pg", self.work)


def _gone(pid: int) -> bool:
    """True once the process has exited (a zombie nobody reaps counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


async def _async(value: bool) -> bool:
    return value


def _text_of(part: Message) -> str:
    payload: Any = part.get_payload(decode=True)
    return payload.decode(part.get_content_charset() or "utf-8", errors="replace") if isinstance(payload, bytes) else ""


@dataclass(frozen=True)
class ReceivedEmail:
    message_id: str
    to: str
    subject: str
    body: str


@dataclass
class SmtpSink:
    """An SMTP server on a fixed port that can go away (connection refused) and come back."""

    port: int
    received: list[ReceivedEmail] = field(default_factory=list)
    _controller: Controller | None = None

    def start(self) -> None:
        sink = self

        class _Handler(MessageHandler):
            def handle_message(self, message: Message) -> None:
                body = "\n".join(_text_of(part) for part in message.walk() if part.get_content_maintype() == "text")
                sink.received.append(
                    ReceivedEmail(
                        message_id=str(message.get("Message-ID", "")),
                        to=str(message.get("To", "")),
                        subject=str(message.get("Subject", "")),
                        body=body,
                    )
                )

        self._controller = Controller(_Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def mentioning(self, text: str) -> list[ReceivedEmail]:
        return [email for email in list(self.received) if text in email.body]
