"""A service as `run_http` serves it, for `test_serving`: `python served_app.py PORT`.

Its lifespan runs two background loops as the services do: one that ignores cancellation (so the
bounded shutdown has something to leave behind) and one that fails when `POST /fail` says so, which
stops the process (`BackgroundTasks`' SIGTERM to itself).
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from lrs_platform.http import build_app, run_http
from lrs_platform.service import BackgroundTasks


async def _ignores_cancellation() -> None:
    while True:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            continue


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    failing = asyncio.Event()
    app.state.failing = failing

    async def fails_when_told() -> None:
        await failing.wait()
        raise RuntimeError("told to fail")

    tasks = BackgroundTasks()
    tasks.start(_ignores_cancellation(), "stuck")
    tasks.start(fails_when_told(), "fails")
    yield
    await tasks.stop(within=0.5)


app = build_app("served", title="Served", description="A test service.", lifespan=_lifespan)


@app.get("/loop")
async def loop() -> dict[str, str]:
    """The event loop's class, and the thread `asyncio.to_thread` ran in."""
    worker = await asyncio.to_thread(lambda: threading.current_thread().name)
    return {"loop": type(asyncio.get_running_loop()).__module__, "worker": worker}


@app.post("/fail")
async def fail() -> dict[str, str]:
    app.state.failing.set()
    return {"failing": "yes"}


if __name__ == "__main__":
    run_http(app, "127.0.0.1", int(sys.argv[1]), log_level="info")
