"""Every route bounds the request body it reads, while it streams: nothing over the limit is held, and the caller
is told with a problem naming REQUEST_TOO_LARGE."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from fastapi import Request
from pydantic import BaseModel

from lrs_platform.http import DEAD_LETTER_BODY_BYTES, DEFAULT_BODY_BYTES, build_app, noop_lifespan


class Note(BaseModel):
    text: str


def _client() -> tuple[httpx.AsyncClient, list[int]]:
    app = build_app(
        "bounded",
        title="Bounded",
        description="",
        lifespan=noop_lifespan,
        body_limits={"/v1/files": None, "/v1/imports": 10_000},
    )
    read: list[int] = []

    @app.post("/v1/notes")
    async def note(body: Note) -> dict[str, int]:  # FastAPI reads and parses the body
        read.append(len(body.text))
        return {"length": len(body.text)}

    @app.post("/v1/imports")
    async def imports(request: Request) -> dict[str, int]:  # the route reads it itself
        read.append(len(await request.body()))
        return {"length": read[-1]}

    @app.post("/v1/files")
    async def files(request: Request) -> dict[str, int]:  # bounded by the route, as ingest's batches are
        read.append(len(await request.body()))
        return {"length": read[-1]}

    @app.post("/v1/admin/dlq/{parked}/retry")
    async def retry(parked: int, request: Request) -> dict[str, int]:
        read.append(len(await request.body()))
        return {"length": read[-1]}

    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://bounded"), read


def _note(characters: int) -> bytes:
    return b'{"text": "' + b"x" * characters + b'"}'


async def _streamed(body: bytes) -> AsyncIterator[bytes]:
    """A body sent in parts without a Content-Length (chunked)."""
    for start in range(0, len(body), 65_536):
        yield body[start : start + 65_536]


async def test_a_body_declared_too_large_is_refused_before_any_of_it_is_read() -> None:
    client, read = _client()
    async with client:
        answer = await client.post(
            "/v1/notes", content=_note(DEFAULT_BODY_BYTES), headers={"content-type": "application/json"}
        )
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert (problem["code"], problem["title"]) == ("REQUEST_TOO_LARGE", "Content Too Large")
    assert f"({DEFAULT_BODY_BYTES:,} bytes)" in problem["detail"]
    assert read == []


async def test_a_body_streamed_past_the_limit_is_refused_once_it_passes_it() -> None:
    client, read = _client()
    async with client:
        parsed = await client.post("/v1/notes", content=_streamed(_note(DEFAULT_BODY_BYTES)))
        own = await client.post("/v1/imports", content=_streamed(b"x" * 10_001))
    for answer in (parsed, own):
        assert answer.status_code == 413, answer.text
        assert answer.json()["code"] == "REQUEST_TOO_LARGE"
    assert read == []


async def test_bodies_within_their_routes_limits_are_read_as_sent() -> None:
    client, read = _client()
    async with client:
        small = await client.post("/v1/notes", json={"text": "x" * 1_000})
        at_limit = await client.post("/v1/imports", content=b"x" * 10_000)
        unbounded = await client.post("/v1/files", content=b"x" * (2 * DEFAULT_BODY_BYTES))
        replacement = await client.post("/v1/admin/dlq/7/retry", content=b"x" * (DEFAULT_BODY_BYTES + 1))
        too_large = await client.post("/v1/admin/dlq/7/retry", content=b"x" * (DEAD_LETTER_BODY_BYTES + 1))
    assert [answer.status_code for answer in (small, at_limit, unbounded, replacement)] == [200] * 4
    assert read == [1_000, 10_000, 2 * DEFAULT_BODY_BYTES, DEFAULT_BODY_BYTES + 1]
    assert too_large.status_code == 413
