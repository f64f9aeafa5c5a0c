"""A service as `run_http` serves it, with a request that never ends, for `test_graceful_shutdown`:
`python served_long_request.py PORT DRAIN_SECONDS`.

`GET /hang` waits for ever (a long-poll with no end); `GET /open` says how many are waiting. Its lifespan prints
`lifespan_stopped` when its shutdown runs, which uvicorn starts only once the open requests are done or cut.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from lrs_platform.http import SERVED_WITH, build_app, run_http


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.open = 0
    yield
    print("lifespan_stopped", flush=True)


app = build_app("served", title="Served", description="A test service.", lifespan=_lifespan)


@app.get("/hang")
async def hang() -> dict[str, str]:
    app.state.open += 1
    await asyncio.Event().wait()
    return {"ended": "never"}


@app.get("/open")
async def open_requests() -> dict[str, int]:
    return {"open": app.state.open}


if __name__ == "__main__":
    # the services' own bound, shortened so the test need not wait for it (it must be there to shorten)
    SERVED_WITH["timeout_graceful_shutdown"] = min(SERVED_WITH["timeout_graceful_shutdown"], float(sys.argv[2]))
    run_http(app, "127.0.0.1", int(sys.argv[1]), log_level="info")
