"""The projector's routes as built: a badly formed ULN, wherever the route takes it, is 422 RV001 in the words a
ULN asked about is refused in (as a wrong check digit is RV002, and the CLI says RV001), never INVALID_REQUEST
quoting a regular expression; and a centre report's free text of invisible characters alone is refused by name
before it reaches the PLR log, which keeps what it holds for good."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lrs_domain.rules import why_no_learner_has
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from plr_projector.api import admin_router, centre_router, credential_router, plr_router
from plr_projector.credential_routes import credential_signing_of
from plr_projector.endpoints import projector_of


class Untouched:
    """A projector no request here may reach: any attribute read fails the request (a 500), and is noted."""

    reached: list[str] = []

    def __getattr__(self, name: str) -> Any:
        Untouched.reached.append(name)
        raise AssertionError(f"the request reached the projector ({name})")


def _client(principal: str) -> httpx.AsyncClient:
    Untouched.reached.clear()
    app = build_app("plr-projector", title="PLR", description="", lifespan=noop_lifespan)
    for router in (plr_router, centre_router, admin_router, credential_router):
        app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse(principal)
    app.dependency_overrides[projector_of] = Untouched
    app.dependency_overrides[credential_signing_of] = Untouched
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://plr")


REPORT = {"uln": "1000000043", "qualification_number": "601/4491/X"}


@pytest.mark.parametrize(
    ("principal", "method", "path", "params", "body", "where"),
    [
        ("learner:1000000043", "GET", "/v1/learners/%201000000043/plr", {}, None, "path.uln"),
        ("operator:ops", "GET", "/v1/learners/01000000043/plr", {}, None, "path.uln"),
        ("operator:ops", "GET", "/v1/learners/100000004/plr/credential", {}, None, "path.uln"),
        ("ao:RN5133", "GET", "/v1/ao/achievements", {"uln": "10000000431"}, None, "query.uln"),
        ("operator:ops", "GET", "/v1/admin/centre-reports/hidden", {"uln": "1000000043 "}, None, "query.uln"),
        ("provider:10000001", "POST", "/v1/centre/achievements", {}, {**REPORT, "uln": "5000000004\n"}, "body.uln"),
    ],
)
async def test_a_badly_formed_uln_is_answered_rv001_naming_where_not_what(
    principal: str, method: str, path: str, params: dict[str, str], body: dict[str, str] | None, where: str
) -> None:
    refusal = why_no_learner_has("0")
    assert refusal is not None
    async with _client(principal) as client:
        answer = await client.request(method, path, params=params, json=body)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert (problem["code"], problem["type"], problem["title"]) == ("RV001", "/problems/RV001", "Invalid ULN")
    assert problem["detail"] == f"{where}: {refusal.reason}"
    assert Untouched.reached == []


@pytest.mark.parametrize("field", ["grade", "subject", "provider_name"])
@pytest.mark.parametrize("value", ["\u200b", "\u2060\u2060", "\ufeff", " \u200b ", "   "])
async def test_a_centre_reports_free_text_of_invisible_characters_alone_is_refused_by_name(
    field: str, value: str
) -> None:
    async with _client("provider:10000001") as client:
        answer = await client.post(
            "/v1/centre/achievements",
            content=json.dumps({**REPORT, field: value}),
            headers={"content-type": "application/json"},
        )
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "INVALID_REQUEST"
    assert problem["detail"].startswith(f"body.{field}: has no character a reader sees")
    assert Untouched.reached == []


@pytest.mark.parametrize("value", ["Merit", "\u200bMerit", "A*"])
async def test_a_free_text_a_reader_sees_passes_the_door(value: str) -> None:
    """Past the body's checks the route asks the projector (here, one that fails the request when asked)."""
    async with _client("provider:10000001") as client:
        answer = await client.post("/v1/centre/achievements", json={**REPORT, "grade": value, "subject": value})
    assert answer.status_code == 500, answer.text
    assert Untouched.reached != []
