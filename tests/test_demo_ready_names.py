"""`make up` and `make restart` list each process as ready by the name `make restart SERVICE=` takes (that of its
.run/pids/ file): they printed `plr_projector` and `sandpit_plr_projector`, which `make restart SERVICE=` refuses
(operator docs review, finding 6)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from scripts.dev import demo

ROOT = Path(__file__).resolve().parents[1]


def _restart_names() -> list[str]:
    """The names `make restart SERVICE=` takes: scripts/dev/services.sh's service_names."""
    done = subprocess.run(
        ["bash", "-c", "source scripts/dev/services.sh && service_names"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout.split()


async def test_the_ready_listing_names_each_process_as_make_restart_takes_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    processes = (*demo.SERVICES, "portal", *demo.SANDPIT_SERVICES)
    for number, service in enumerate(processes):
        monkeypatch.setenv(f"LRS_{service.upper()}_URL", f"http://127.0.0.1:{18000 + number}")
    ready = httpx.MockTransport(lambda request: httpx.Response(200, json={"status": "ready"}))
    real_client = httpx.AsyncClient

    def client(**options: Any) -> httpx.AsyncClient:
        return real_client(transport=ready, **options)

    monkeypatch.setattr(httpx, "AsyncClient", client)  # the client demo.wait_ready makes

    await demo.wait_ready(within=5.0)

    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert sorted(listed) == sorted(_restart_names())
    assert "plr-projector" in listed and "sandpit-plr-projector" in listed


def test_a_process_is_named_as_its_pid_file() -> None:
    assert demo.process_name("plr_projector") == "plr-projector"
    assert demo.process_name("sandpit_plr_projector") == "sandpit-plr-projector"
    assert demo.process_name("ingest") == "ingest"
