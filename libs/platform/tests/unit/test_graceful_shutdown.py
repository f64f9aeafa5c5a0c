"""On SIGTERM the requests still open get a bounded time to end: then they are cut and the lifespan's shutdown
runs, so a long-poll or a trickling upload cannot hold a pod past its grace period (deploy/k8s/tests/
test_shutdown.py adds the whole budget up)."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from tests.support.waiting import eventually

from lrs_platform import http
from lrs_platform.http import GRACEFUL_SHUTDOWN_SECONDS, build_app, noop_lifespan, run_http
from lrs_platform.service import SHUTDOWN_SECONDS

SERVED_APP = Path(__file__).with_name("served_long_request.py")
DRAIN_SECONDS = 0.5  # the bound, shortened for the test


def test_run_http_gives_open_requests_a_bounded_drain(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.append(options))

    app = build_app("served", title="Served", description="A test service.", lifespan=noop_lifespan)
    run_http(app, "127.0.0.1", 8000)

    [options] = served
    assert options["timeout_graceful_shutdown"] == GRACEFUL_SHUTDOWN_SECONDS
    # a bound, and no longer than the longest long-poll (30 s) it is there to cut
    assert 0 < GRACEFUL_SHUTDOWN_SECONDS < 30
    assert http.SERVED_WITH["timeout_graceful_shutdown"] == GRACEFUL_SHUTDOWN_SECONDS
    assert SHUTDOWN_SECONDS <= GRACEFUL_SHUTDOWN_SECONDS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, str(SERVED_APP), str(port), str(DRAIN_SECONDS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        assert process.stdout is not None
        process.stdout.close()


async def _answering(client: httpx.AsyncClient, process: subprocess.Popen[bytes]) -> bool:
    assert process.poll() is None, "the service exited while starting"
    try:
        return (await client.get("/healthz")).status_code == 200
    except httpx.TransportError:
        return False


async def _open_requests(client: httpx.AsyncClient) -> int:
    count: int = (await client.get("/open")).json()["open"]
    return count


async def _exit_status(process: subprocess.Popen[bytes]) -> tuple[int] | None:
    status = process.poll()
    return None if status is None else (status,)


async def test_a_request_still_open_after_the_drain_is_cut_and_the_service_stops(
    served: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, url = served
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        await eventually(lambda: _answering(client, process), within=60, what="the service answering")
        hanging = asyncio.create_task(client.get("/hang"))
        await eventually(lambda: _open_requests(client), within=10, what="the request being served")

        process.send_signal(signal.SIGTERM)

        # the request would never end by itself: the process exiting shows the drain was cut
        [status] = await eventually(lambda: _exit_status(process), within=20, what="the service exiting")
        outcome = (await asyncio.gather(hanging, return_exceptions=True))[0]

    assert status in (0, -signal.SIGTERM)  # uvicorn raises the signal it handled again once it has stopped
    assert not (isinstance(outcome, httpx.Response) and outcome.status_code == 200)
    assert process.stdout is not None
    log = await asyncio.to_thread(process.stdout.read)
    cut = log.find(b"timeout graceful shutdown exceeded")
    assert 0 <= cut < log.find(b"lifespan_stopped"), log.decode(errors="replace")
