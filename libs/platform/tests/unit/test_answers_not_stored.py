"""No cache keeps an answer: every answer a service's app gives, problems and failures too, says
`Cache-Control: no-store` (it may hold a learner's personal data), unless its route names a policy of its own
(the projector's JWKS may be cached) or it is a static file that is the same for everyone; and none is read as
another type than it says (`X-Content-Type-Options: nosniff`)."""

from __future__ import annotations

import httpx
import pytest
from fastapi.responses import JSONResponse

from lrs_platform.authentication import CurrentPrincipal
from lrs_platform.http import DOCS_ASSETS, build_app, noop_lifespan
from lrs_platform.problems import ProblemError


def _client() -> httpx.AsyncClient:
    app = build_app("caching", title="Caching", description="", lifespan=noop_lifespan)

    @app.get("/v1/learners/{uln}/plr")
    async def plr(uln: str) -> dict[str, str]:
        return {"uln": uln, "given_name": "Lily"}

    @app.get("/v1/learners/{uln}/history")
    async def refused(uln: str) -> dict[str, str]:
        raise ProblemError(403, "Forbidden", f"Not yours: {uln}.")

    @app.get("/v1/keyed")
    async def keyed(principal: CurrentPrincipal) -> dict[str, str]:
        return {"caller": str(principal)}

    @app.get("/v1/failing")
    async def failing() -> dict[str, str]:
        raise RuntimeError("a bug")

    @app.get("/.well-known/jwks.json")
    async def jwks() -> JSONResponse:
        return JSONResponse({"keys": []}, headers={"Cache-Control": "public, max-age=300"})

    return httpx.AsyncClient(transport=httpx.ASGITransport(app, raise_app_exceptions=False), base_url="http://caching")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/learners/1000000043/plr", 200),
        ("HEAD", "/v1/learners/1000000043/plr", 200),
        ("GET", "/v1/learners/1000000043/history", 403),
        ("GET", "/v1/keyed", 401),
        ("GET", "/v1/failing", 500),
        ("GET", "/v1/nowhere", 404),
        ("DELETE", "/v1/learners/1000000043/plr", 405),
        ("GET", "/healthz", 200),
    ],
)
async def test_every_answer_says_no_cache_may_keep_it(method: str, path: str, status: int) -> None:
    async with _client() as client:
        answer = await client.request(method, path)
    assert answer.status_code == status, answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers.get_list("x-content-type-options") == ["nosniff"]  # never read as another type


async def test_static_files_and_routes_naming_their_own_policy_are_not_sniffed_either() -> None:
    async with _client() as client:
        answers = [await client.get("/.well-known/jwks.json"), await client.get(f"{DOCS_ASSETS}/swagger-ui-init.js")]
    assert [answer.headers.get_list("x-content-type-options") for answer in answers] == [["nosniff"], ["nosniff"]]


async def test_a_route_naming_its_own_policy_keeps_it() -> None:
    async with _client() as client:
        answer = await client.get("/.well-known/jwks.json")
    assert answer.headers.get_list("cache-control") == ["public, max-age=300"]


async def test_static_files_the_same_for_everyone_may_be_cached() -> None:
    async with _client() as client:
        answer = await client.get(f"{DOCS_ASSETS}/swagger-ui-init.js")
    assert answer.status_code == 200
    assert "cache-control" not in answer.headers
