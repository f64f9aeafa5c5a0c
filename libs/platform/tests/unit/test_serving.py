"""The services' server as `run_http` starts it (decision 0088): asyncio's own event loop, and on it what
the services rely on: work handed to threads, a failed background loop stopping the process by SIGTERM,
and a shutdown that ends although a loop ignores its cancellation."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.support.waiting import eventually

SERVED_APP = Path(__file__).with_name("served_app.py")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, str(SERVED_APP), str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
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


async def _exited(process: subprocess.Popen[bytes]) -> int | None:
    return process.poll()


async def test_a_service_runs_on_asyncios_loop_and_hands_work_to_threads(
    served: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, url = served
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await eventually(lambda: _answering(client, process), within=60, what="the service answering")
        answer = (await client.get("/loop")).json()

    assert answer["loop"].startswith("asyncio")
    assert answer["worker"] != "MainThread"


async def test_a_failed_background_loop_stops_the_process_although_another_ignores_cancellation(
    served: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, url = served
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await eventually(lambda: _answering(client, process), within=60, what="the service answering")
        await client.post("/fail")

    await eventually(lambda: _exited(process), within=60, what="the service exiting")
    assert process.stdout is not None
    log = await asyncio.to_thread(process.stdout.read)
    assert b"background_task_failed" in log
    assert b"background_task_did_not_stop" in log
