"""`make restart SERVICE=smtp` starts the SMTP sink `make up` started again, alone, on its port (runbook walk,
finding 10: its pid file is in .run/pids/ like the services', but `make restart` did not know the name).

Run in the layout of test_restart_one_service.py (scripts/dev linked, a fake .venv), with the real aiosmtpd."""

from __future__ import annotations

import os
import smtplib
import subprocess
import sys
from pathlib import Path

from tests.test_restart_one_service import System, _alive, _free_port, _until, system

__all__ = ["system"]  # the fixture, used by name


def _smtp(system: System, port: int) -> subprocess.Popen[bytes]:
    """The sink as up.sh starts it."""
    for folder in ("cur", "new", "tmp"):
        (system.run / "mailbox" / folder).mkdir(parents=True, exist_ok=True)
    with (system.run / "logs" / "smtp.log").open("ab") as log:
        sink = subprocess.Popen(
            [sys.executable, "-m", "aiosmtpd", "-n", "-u", "-l", f"127.0.0.1:{port}", "-c",
             "aiosmtpd.handlers.Mailbox", str(system.run / "mailbox")],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    (system.run / "pids" / "smtp.pid").write_text(f"{sink.pid}\n")
    system.started.append(sink.pid)
    return sink


def _deliver(port: int) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as relay:
        relay.sendmail("lrs@lrs.example", ["ao@ao.example"], b"Subject: drill\r\n\r\nafter the restart\r\n")


def _listening(port: int) -> bool | None:
    try:
        _deliver(port)
    except OSError:
        return None
    return True


def test_smtp_is_started_again_on_its_port_and_takes_mail(system: System) -> None:
    port = _free_port()
    with (system.run / "env").open("a") as env:
        env.write(f"export NOTIFIER_SMTP_HOST=127.0.0.1 NOTIFIER_SMTP_PORT={port}\n")
    sink = _smtp(system, port)
    _until(lambda: _listening(port), "the sink to listen")
    before = sink.pid

    done = system.restart("SERVICE=smtp")

    assert done.returncode == 0, done
    assert f"stopping smtp (pid {before})" in done.stdout
    sink.wait(timeout=30)
    after = int((system.run / "pids" / "smtp.pid").read_text())
    assert after != before and _alive(after)
    assert f"smtp (pid {after}) listening at 127.0.0.1:{port}" in done.stdout
    _deliver(port)
    assert len(list((system.run / "mailbox" / "new").iterdir())) == 2  # the probe's before, this one after


def test_a_killed_smtp_is_started_again(system: System) -> None:
    port = _free_port()
    with (system.run / "env").open("a") as env:
        env.write(f"export NOTIFIER_SMTP_HOST=127.0.0.1 NOTIFIER_SMTP_PORT={port}\n")
    sink = _smtp(system, port)
    sink.kill()
    sink.wait(timeout=30)

    done = system.restart("smtp", via_make=False)

    assert done.returncode == 0, done
    assert "smtp is not running" in done.stdout
    _deliver(port)
    assert os.listdir(Path(system.run / "mailbox" / "new"))
