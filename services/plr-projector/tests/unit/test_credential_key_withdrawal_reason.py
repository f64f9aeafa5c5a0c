"""A credential signing key's withdrawal sent without a body, as an operator may type it, is told that the withdrawal
needs a reason, by name (FastAPI's words named only a missing body); the route's contract is as before: a 422
problem, the body required in its OpenAPI, and a caller who may not withdraw refused first."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from plr_projector.api import admin_router

from .test_credential_key_withdrawal import WITHDRAW, KeysSeen, _client


@pytest.mark.parametrize(
    "sent", [{}, {"content": b""}, {"content": b" \n", "headers": {"content-type": "application/json"}}]
)
async def test_a_withdrawal_without_a_body_is_told_a_reason_is_required(sent: dict[str, Any]) -> None:
    keys = KeysSeen()
    async with _client("operator:alex", keys) as client:
        answer = await client.post(WITHDRAW, **sent)

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["code"] == "INVALID_REQUEST"
    assert problem["detail"] == (
        'a reason is required: send a JSON body such as {"reason": "suspected leak"} saying why the key is withdrawn;'
        " it is kept with the withdrawal and logged"
    )
    assert keys.asked == []


async def test_a_body_without_a_reason_names_the_reason_as_before() -> None:
    async with _client("operator:alex", KeysSeen()) as client:
        answer = await client.post(WITHDRAW, json={})

    assert answer.status_code == 422
    assert "reason" in answer.json()["detail"]


async def test_a_caller_who_may_not_withdraw_is_refused_before_the_missing_reason_is_described() -> None:
    keys = KeysSeen()
    async with _client("ao:RN5133", keys) as client:
        answer = await client.post(WITHDRAW)

    assert answer.status_code == 403
    assert keys.asked == []


def test_the_body_stays_required_in_the_routes_contract() -> None:
    app = FastAPI()
    app.include_router(admin_router)
    operation = app.openapi()["paths"]["/v1/admin/credential-keys/{key_id}/withdraw"]["post"]

    assert operation["requestBody"]["required"] is True
    assert [parameter["name"] for parameter in operation["parameters"]] == ["key_id"]
