"""A body sent compressed is refused 415 at the door of every service, rather than read as it is."""

from __future__ import annotations

import gzip

import httpx
import pytest

from lrs_platform.http import build_app, noop_lifespan


def _client() -> httpx.AsyncClient:
    app = build_app("reads", title="Reads", description="", lifespan=noop_lifespan)

    @app.post("/v1/things")
    async def things(body: dict[str, str]) -> dict[str, str]:
        return body

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reads")


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "GZIP"])
async def test_a_compressed_body_is_refused_415_naming_its_encoding(encoding: str) -> None:
    async with _client() as client:
        answer = await client.post(
            "/v1/things",
            content=gzip.compress(b'{"a": "b"}'),
            headers={"Content-Type": "application/json", "Content-Encoding": encoding},
        )

    assert answer.status_code == 415
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert f"Content-Encoding: {encoding}" in problem["detail"]


@pytest.mark.parametrize("headers", [{}, {"Content-Encoding": "identity"}])
async def test_a_body_as_it_is_is_read(headers: dict[str, str]) -> None:
    async with _client() as client:
        answer = await client.post("/v1/things", json={"a": "b"}, headers=headers)

    assert answer.status_code == 200
    assert answer.json() == {"a": "b"}


@pytest.mark.parametrize("coding", ["gzip, chunked", "deflate,chunked", " GZIP , chunked"])
async def test_a_body_compressed_as_a_transfer_coding_is_refused_415_naming_it(coding: str) -> None:
    """The server takes the chunks off and hands on the gzip, which read as it is "is not UTF-8"."""
    async with _client() as client:
        answer = await client.post(
            "/v1/things",
            content=gzip.compress(b'{"a": "b"}'),
            headers={"Content-Type": "application/json", "Transfer-Encoding": coding},
        )

    assert answer.status_code == 415
    problem = answer.json()
    assert problem["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert f"Transfer-Encoding: {coding}" in problem["detail"]
    assert problem["detail"].endswith("send it as it is, with no transfer coding but chunked.")


async def test_a_chunked_body_is_read() -> None:
    async with _client() as client:
        answer = await client.post("/v1/things", json={"a": "b"}, headers={"Transfer-Encoding": "chunked"})

    assert answer.status_code == 200
