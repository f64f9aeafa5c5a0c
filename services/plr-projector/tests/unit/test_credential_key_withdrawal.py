"""Withdrawing a credential signing key at the door: who may, what they must say, and how a refusal is answered."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import OPENAPI_SCOPES, Principal
from plr_projector.api import admin_router
from plr_projector.credential_keys import (
    CredentialKeyAlreadyWithdrawn,
    NoSuchCredentialKey,
    PublicKey,
    Withdrawal,
    WithdrawalRefused,
)
from plr_projector.credential_routes import CredentialSigning, credential_signing_of
from plr_projector.credentials import CredentialIssuer

KEY_ID = "20260301-0a1b2c3d"
WITHDRAW = f"/v1/admin/credential-keys/{KEY_ID}/withdraw"
MOMENT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class KeysSeen:
    """Credential keys that record each withdrawal asked of them and answer it, or refuse it with `refusal`."""

    refusal: WithdrawalRefused | None = None
    asked: list[tuple[str, str, str]] = field(default_factory=list)

    async def withdraw(self, key_id: str, operator: str, reason: str) -> Withdrawal:
        self.asked.append((key_id, operator, reason))
        if self.refusal is not None:
            raise self.refusal
        withdrawn = PublicKey(key_id, bytes(32), MOMENT, "plr-projector (first use)", MOMENT, MOMENT, operator, reason)
        return Withdrawal(withdrawn, PublicKey("20260301-99999999", bytes(32), MOMENT, operator, None))


def _client(principal: str, keys: KeysSeen) -> httpx.AsyncClient:
    app = build_app("plr-projector", title="PLR", description="", lifespan=noop_lifespan)
    app.include_router(admin_router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse(principal)
    signing: Any = CredentialSigning(CredentialIssuer.at("https://lrs.example"), keys)  # type: ignore[arg-type]
    app.dependency_overrides[credential_signing_of] = lambda: signing
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://plr")


def test_withdrawing_needs_the_operator_scope_rotating_does() -> None:
    scopes = {
        route.path: (route.openapi_extra or {}).get(OPENAPI_SCOPES)
        for route in admin_router.routes
        if isinstance(route, APIRoute) and route.path.startswith("/v1/admin/credential-keys/")
    }
    assert scopes == {
        "/v1/admin/credential-keys/rotate": ["keys"],
        "/v1/admin/credential-keys/{key_id}/withdraw": ["keys"],
    }


async def test_the_key_is_withdrawn_by_the_operator_for_the_reason_given() -> None:
    keys = KeysSeen()
    async with _client("operator:alex", keys) as client:
        answer = await client.post(WITHDRAW, json={"reason": "suspected leak"})

    assert answer.status_code == 200, answer.text
    assert keys.asked == [(KEY_ID, "operator:alex", "suspected leak")]
    body = answer.json()
    assert body["replaced_by"] == "20260301-99999999"
    assert body["withdrawn"]["kid"] == f"https://lrs.example/.well-known/jwks.json#{KEY_ID}"
    assert (body["withdrawn"]["published"], body["withdrawn"]["withdrawn_by"]) == (False, "operator:alex")


@pytest.mark.parametrize("principal", ["ao:RN5133", "learner:1000000043", "provider:10000001"])
async def test_only_an_operator_may_withdraw_a_key(principal: str) -> None:
    keys = KeysSeen()
    async with _client(principal, keys) as client:
        answer = await client.post(WITHDRAW, json={"reason": "suspected leak"})

    assert answer.status_code == 403
    assert keys.asked == []


@pytest.mark.parametrize(
    "body", [None, {}, {"reason": ""}, {"reason": " \n "}, {"reason": "x\x00"}, {"reason": "x" * 501}]
)
async def test_a_withdrawal_says_why(body: dict[str, str] | None) -> None:
    keys = KeysSeen()
    async with _client("operator:alex", keys) as client:
        answer = await client.post(WITHDRAW, json=body)

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert keys.asked == []


@pytest.mark.parametrize(
    ("refusal", "status", "title"),
    [
        (NoSuchCredentialKey("There is no credential signing key 20260301-0a1b2c3d."), 404, "No such key"),
        (CredentialKeyAlreadyWithdrawn("Credential signing key … was withdrawn at …"), 409, "Key already withdrawn"),
    ],
)
async def test_a_refused_withdrawal_is_a_problem_saying_why(
    refusal: WithdrawalRefused, status: int, title: str
) -> None:
    async with _client("operator:alex", KeysSeen(refusal)) as client:
        answer = await client.post(WITHDRAW, json={"reason": "suspected leak"})

    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert (answer.json()["title"], answer.json()["detail"]) == (title, refusal.detail)
