"""What a route about the registry the Sandpit shares with live answers in the Sandpit: a change is refused as
read-only, a read is sent to the live service, not told it "cannot change" anything; a caller without a key is
asked for one first (decision 0032)."""

from __future__ import annotations

import httpx
from fastapi import Depends

from lrs_contracts.environments import Environment
from lrs_platform.authentication import current_principal
from lrs_platform.environment import refuse_in_sandpit
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal


def _client(environment: Environment, *, authenticated: bool = True) -> httpx.AsyncClient:
    app = build_app("registry", title="Registry", description="", lifespan=noop_lifespan)
    app.state.environment = environment
    if authenticated:
        app.dependency_overrides[current_principal] = lambda: Principal.parse("operator:ops")

    @app.get("/v1/learners/{uln}/sharing", dependencies=[Depends(refuse_in_sandpit)])
    async def read_sharing(uln: str) -> dict[str, str]:
        return {"uln": uln}

    @app.post("/v1/learners/{uln}/sharing", dependencies=[Depends(refuse_in_sandpit)])
    async def change_sharing(uln: str) -> dict[str, str]:
        return {"uln": uln}

    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://registry")


async def test_a_read_is_sent_to_the_live_service_and_a_change_refused_as_read_only() -> None:
    async with _client(Environment.SANDPIT) as client:
        read = await client.get("/v1/learners/1000000043/sharing")
        change = await client.post("/v1/learners/1000000043/sharing")

    assert (read.status_code, read.json()["code"]) == (403, "SANDPIT_READ_ONLY")
    assert "read on the live service" in read.json()["detail"] and "cannot change" not in read.json()["detail"]
    assert (change.status_code, change.json()["title"]) == (403, "Read-only in the Sandpit")
    assert "cannot change them" in change.json()["detail"]


async def test_live_answers_both() -> None:
    async with _client(Environment.LIVE) as client:
        assert (await client.get("/v1/learners/1000000043/sharing")).status_code == 200
        assert (await client.post("/v1/learners/1000000043/sharing")).status_code == 200


async def test_the_sandpit_asks_a_caller_without_a_key_for_one_before_saying_read_only() -> None:
    async with _client(Environment.SANDPIT, authenticated=False) as client:
        read = await client.get("/v1/learners/1000000043/sharing")
        change = await client.post("/v1/learners/1000000043/sharing")

    for answer in (read, change):
        assert answer.status_code == 401, answer.text
        assert answer.headers["www-authenticate"] == 'Bearer realm="lrs"'
