"""A JSON body naming a key twice in one object is refused 422 MALFORMED_REQUEST at every service's door, rather
than read as its last value: `{"resolution": "upheld", "resolution": "rejected"}` was a rejection. A caller the
route refuses is told that first, and a body the route does not read as JSON is left alone."""

from __future__ import annotations

from typing import Annotated

import httpx
import pytest
from fastapi import Depends, Request
from pydantic import BaseModel

from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.problems import ProblemError


class Resolution(BaseModel):
    resolution: str
    note: dict[str, str] | None = None


async def _key(request: Request) -> str:
    if "authorization" not in request.headers:
        raise ProblemError(401, "Unauthenticated", "No API key.")
    return request.headers["authorization"]


def _client(*, key: bool = True) -> httpx.AsyncClient:
    app = build_app("json", title="JSON", description="", lifespan=noop_lifespan)

    @app.post("/v1/resolve")
    async def resolve(body: Resolution, _key: Annotated[str, Depends(_key)]) -> dict[str, str]:
        return {"resolution": body.resolution}

    @app.post(
        "/v1/read-resolution",
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {}}}}},
    )
    async def read_resolution(request: Request) -> dict[str, str]:
        return {"resolution": Resolution.model_validate_json(await request.body()).resolution}

    @app.post(
        "/v1/files",
        openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}},
    )
    async def take_file(request: Request) -> dict[str, int]:
        return {"length": len(await request.body())}

    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://json", headers={"Authorization": "Bearer k"} if key else {}
    )


@pytest.mark.parametrize("path", ["/v1/resolve", "/v1/read-resolution"])
@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b'{"resolution": "upheld", "resolution": "rejected"}', "'resolution'"),
        (b'{"resolution": "upheld", "note": {"by": "a", "by": "b"}}', "'by'"),
        (b'{"resolution": "upheld", "' + b"k" * 100 + b'": 1, "' + b"k" * 100 + b'": 2}', "'" + "k" * 64 + "'…"),
    ],
    ids=["top-level", "nested", "long-key"],
)
async def test_a_key_named_twice_is_refused_naming_it(path: str, body: bytes, named: str) -> None:
    async with _client() as client:
        answer = await client.post(path, content=body, headers={"Content-Type": "application/json"})

    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "MALFORMED_REQUEST"
    assert f"an object names {named} twice: send each key once" in problem["detail"]


async def test_a_caller_the_route_refuses_is_told_that_first() -> None:
    async with _client(key=False) as client:
        answer = await client.post(
            "/v1/resolve",
            content=b'{"resolution": "a", "resolution": "b"}',
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 401, answer.text


async def test_each_key_once_and_bodies_not_read_as_json_pass() -> None:
    async with _client() as client:
        once = await client.post("/v1/resolve", json={"resolution": "upheld", "note": {"by": "a"}})
        csv = await client.post("/v1/files", content=b'{"a": 1, "a": 2}', headers={"Content-Type": "application/json"})
    assert once.json() == {"resolution": "upheld"}
    assert csv.json() == {"length": 16}


@pytest.mark.parametrize("path", ["/v1/resolve", "/v1/read-resolution"])
@pytest.mark.parametrize("opening", [b"[", b'{"a":'], ids=["arrays", "objects"])
async def test_a_body_nested_too_deeply_to_read_is_refused_saying_so(path: str, opening: bytes) -> None:
    """4 KB nested 2,000 levels: Python's parser runs out of stack (RecursionError), which was a 500."""
    body = opening * 2_000 + b"1" + (b"]" if opening == b"[" else b"}") * 2_000
    async with _client() as client:
        answer = await client.post(path, content=body, headers={"Content-Type": "application/json"})

    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "MALFORMED_REQUEST"
    assert "nested too deeply" in problem["detail"]
