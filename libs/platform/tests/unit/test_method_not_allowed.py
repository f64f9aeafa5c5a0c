"""A 405 names, in `Allow`, every method the path answers, not only the first matching route's (Starlette's own
header): OPTIONS on /v1/batches was told `POST` alone though GET lists batches there; its detail says them too.
HEAD is answered wherever GET is, as GET's answer without its body (FastAPI's routes answered it 405)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from lrs_platform.http import build_app, noop_lifespan


def _client() -> httpx.AsyncClient:
    app = build_app("allowing", title="Allowing", description="", lifespan=noop_lifespan)

    @app.post("/v1/batches")
    async def submit() -> dict[str, str]:
        return {"submitted": "yes"}

    @app.get("/v1/batches")
    async def listed() -> list[str]:
        return []

    @app.post("/v1/submit-only")
    async def submit_only() -> dict[str, str]:
        return {"submitted": "yes"}

    admin = APIRouter(prefix="/v1/admin")

    @admin.post("/rebuild")
    async def rebuild() -> dict[str, str]:
        return {"rebuilding": "yes"}

    @admin.get("/rebuild")
    async def progress() -> dict[str, str]:
        return {"rebuilding": "no"}

    @admin.delete("/rebuild")
    async def cancel() -> dict[str, str]:
        return {"rebuilding": "cancelled"}

    app.include_router(admin)

    async def plain(request: Request) -> PlainTextResponse:
        return PlainTextResponse("plain")

    app.add_route("/v1/plain", plain, methods=["GET"])  # a Starlette route: it answers HEAD beside GET
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://allowing")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("OPTIONS", "/v1/batches", "GET, HEAD, POST"),
        ("PATCH", "/v1/batches", "GET, HEAD, POST"),
        ("PUT", "/v1/admin/rebuild", "DELETE, GET, HEAD, POST"),
        ("HEAD", "/v1/submit-only", "POST"),
        ("POST", "/v1/plain", "GET, HEAD"),
    ],
)
async def test_allow_names_every_method_of_every_route_at_the_path(method: str, path: str, allowed: str) -> None:
    async with _client() as client:
        answer = await client.request(method, path)

    assert (answer.status_code, answer.headers["allow"]) == (405, allowed)
    assert answer.headers["content-type"] == "application/problem+json"
    if method != "HEAD":  # a HEAD answer has no body
        problem = answer.json()
        assert (problem["code"], problem["detail"]) == ("METHOD_NOT_ALLOWED", f"This address takes {allowed}.")


async def test_a_mounts_own_allow_is_kept() -> None:
    async with _client() as client:
        answer = await client.post("/docs/assets/swagger-ui-init.js")

    assert (answer.status_code, answer.headers["allow"]) == (405, "GET, HEAD")
    assert answer.json()["detail"] == "This address takes GET, HEAD."


@pytest.mark.parametrize("path", ["/v1/batches", "/v1/admin/rebuild", "/v1/plain", "/healthz"])
async def test_head_is_the_gets_answer_without_its_body(path: str) -> None:
    async with _client() as client:
        got = await client.get(path)
        headed = await client.head(path)

    assert (headed.status_code, headed.content) == (200, b"")
    assert headed.headers["content-length"] == got.headers["content-length"] == str(len(got.content))
    assert headed.headers["content-type"] == got.headers["content-type"]


async def test_head_of_an_unknown_path_is_a_404_without_a_body() -> None:
    async with _client() as client:
        answer = await client.head("/v1/nowhere")

    assert (answer.status_code, answer.content) == (404, b"")
