"""A path with a slash too many is not found, as any path no route has: it was redirected (307) to an address built
from the caller's Host header, telling a client to send its POST, a batch file, to whichever host that header named;
and no document listed a 307."""

from __future__ import annotations

import httpx

from lrs_platform.http import build_app, noop_lifespan


async def test_a_trailing_slash_is_not_found_and_not_redirected_anywhere() -> None:
    app = build_app("slashes", title="Slashes", description="", lifespan=noop_lifespan)

    @app.post("/v1/batches")
    async def submit() -> dict[str, str]:
        return {"batch": "taken"}

    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://slashes") as client:
        answer = await client.post("/v1/batches/", content=b"{}", headers={"Host": "evil.example"})
        taken = await client.post("/v1/batches", json={})

    assert answer.status_code == 404
    assert "location" not in answer.headers
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert taken.status_code == 200
