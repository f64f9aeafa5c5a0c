"""An ASGI app served over real HTTP (uvicorn) inside the test's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import uvicorn
from bench.processes import free_port
from tests.support.waiting import eventually

from lrs_platform.http import SERVED_WITH


@asynccontextmanager
async def served(
    app: Any, *, lifespan: Literal["on", "off"] = "on", protocol: type[asyncio.Protocol] = SERVED_WITH["http"]
) -> AsyncIterator[str]:
    """The app on a free local port until the block ends (served by `protocol`, the services' own by default): its
    base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan, http=protocol)
    server = uvicorn.Server(config)  # in the test's own event loop: SERVED_WITH's loop does not apply
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        if task.done():
            raise AssertionError(f"the app did not start: {task.exception()!r}")
        return server.started

    try:
        await eventually(started, within=120, what="the app serving")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
