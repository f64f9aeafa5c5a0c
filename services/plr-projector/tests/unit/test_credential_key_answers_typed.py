"""The credential-key routes answer through their response models (`admin_models`) byte for byte as they answered
before, untyped: no key dropped, renamed, reordered or added, a none still sent as null. Their OpenAPI names each key
they send, so `lrs credential-keys` and its tests can be checked against it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from plr_projector import credential_routes
from plr_projector.api import admin_router
from plr_projector.credential_keys import ActiveKeyExpected, PublicKey, Rotation, Withdrawal
from plr_projector.credential_routes import CredentialSigning, credential_signing_of
from plr_projector.credentials import CredentialIssuer

JWKS = "https://lrs.example/.well-known/jwks.json"
CREATED = datetime(2026, 6, 1, 21, 30, tzinfo=UTC)
RETIRED_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WITHDRAWN_AT = datetime(2026, 12, 6, 10, 0, 0, 123456, tzinfo=UTC)
ACTIVE = PublicKey("20261201-0a1b2c3d", bytes(32), RETIRED_AT, "plr-projector (first use)", None)
RETIRED = PublicKey("20260601-11112222", bytes(32), CREATED, "operator:ann", RETIRED_AT)
WITHDRAWN = PublicKey(
    "20250301-33334444", bytes(32), CREATED, "operator:ann", RETIRED_AT, WITHDRAWN_AT, "operator:bób", "KEK “seen” ✓"
)

# What the routes sent before they had response models, literally (`JSONResponse.render` of their dicts), but for
# their instants: written with `Z`, typed `date-time`, as every other answer writes one
LISTED = {
    "keys": [
        {
            "key_id": "20261201-0a1b2c3d",
            "kid": f"{JWKS}#20261201-0a1b2c3d",
            "active": True,
            "published": True,
            "created_at": "2026-12-01T09:00:00Z",
            "created_by": "plr-projector (first use)",
            "retired_at": None,
            "withdrawn_at": None,
            "withdrawn_by": None,
            "withdrawal_reason": None,
        },
        {
            "key_id": "20260601-11112222",
            "kid": f"{JWKS}#20260601-11112222",
            "active": False,
            "published": True,
            "created_at": "2026-06-01T21:30:00Z",
            "created_by": "operator:ann",
            "retired_at": "2026-12-01T09:00:00Z",
            "withdrawn_at": None,
            "withdrawn_by": None,
            "withdrawal_reason": None,
        },
        {
            "key_id": "20250301-33334444",
            "kid": f"{JWKS}#20250301-33334444",
            "active": False,
            "published": False,
            "created_at": "2026-06-01T21:30:00Z",
            "created_by": "operator:ann",
            "retired_at": "2026-12-01T09:00:00Z",
            "withdrawn_at": "2026-12-06T10:00:00.123456Z",
            "withdrawn_by": "operator:bób",
            "withdrawal_reason": "KEK “seen” ✓",
        },
    ]
}
ROTATED = {"key_id": "20261201-0a1b2c3d", "kid": f"{JWKS}#20261201-0a1b2c3d", "retired": ["20260601-11112222"]}
FIRST_ROTATION = {"key_id": "20261201-0a1b2c3d", "kid": f"{JWKS}#20261201-0a1b2c3d", "retired": []}
WITHDREW_THE_ACTIVE_KEY = {"withdrawn": LISTED["keys"][2], "replaced_by": "20261201-0a1b2c3d"}
WITHDREW_A_RETIRED_KEY = {"withdrawn": LISTED["keys"][2], "replaced_by": None}


def _as_sent_before(content: Any) -> bytes:
    """What the route answered when it sent its dict as it was (FastAPI's `JSONResponse.render`)."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


@dataclass
class _Keys:
    """Credential keys answering as `CredentialKeys` does, with the keys above."""

    retired: list[str] = field(default_factory=lambda: [RETIRED.key_id])
    replaced_by: PublicKey | None = ACTIVE

    async def every_key(self) -> list[PublicKey]:
        return [ACTIVE, RETIRED, WITHDRAWN]

    async def rotate(self, operator: str, expected: ActiveKeyExpected | None = None) -> Rotation:
        return Rotation(ACTIVE, self.retired)

    async def withdraw(self, key_id: str, operator: str, reason: str) -> Withdrawal:
        return Withdrawal(WITHDRAWN, self.replaced_by)


def _app(keys: _Keys) -> FastAPI:
    app = build_app("plr-projector", title="PLR", description="", lifespan=noop_lifespan)
    app.include_router(admin_router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse("operator:ops")
    signing: Any = CredentialSigning(CredentialIssuer.at("https://lrs.example"), keys)  # type: ignore[arg-type]
    app.dependency_overrides[credential_signing_of] = lambda: signing
    return app


@pytest.fixture
async def client_of() -> AsyncIterator[Any]:
    clients: list[httpx.AsyncClient] = []

    def client(keys: _Keys) -> httpx.AsyncClient:
        clients.append(httpx.AsyncClient(transport=httpx.ASGITransport(app=_app(keys)), base_url="http://plr"))
        return clients[-1]

    yield client
    for each in clients:
        await each.aclose()


WITHDRAW = f"/v1/admin/credential-keys/{WITHDRAWN.key_id}/withdraw"
ANSWERS = {
    "listed": (_Keys(), "GET", "/v1/admin/credential-keys", LISTED),
    "rotated": (_Keys(), "POST", "/v1/admin/credential-keys/rotate", ROTATED),
    "first rotation": (_Keys(retired=[]), "POST", "/v1/admin/credential-keys/rotate", FIRST_ROTATION),
    "active key withdrawn": (_Keys(), "POST", WITHDRAW, WITHDREW_THE_ACTIVE_KEY),
    "retired key withdrawn": (_Keys(replaced_by=None), "POST", WITHDRAW, WITHDREW_A_RETIRED_KEY),
}


@pytest.mark.parametrize(("keys", "method", "path", "sent_before"), ANSWERS.values(), ids=ANSWERS.keys())
async def test_each_credential_key_answer_is_sent_as_before(
    keys: _Keys, method: str, path: str, sent_before: dict[str, Any], client_of: Any
) -> None:
    body = {"json": {"reason": "suspected leak"}} if path == WITHDRAW else {}
    answer = await client_of(keys).request(method, path, **body)

    assert answer.status_code == 200, answer.text
    assert answer.content == _as_sent_before(sent_before)


def _schema_named(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    named: dict[str, Any] = document["components"]["schemas"][schema["$ref"].rpartition("/")[2]]
    return named


@pytest.mark.parametrize(("keys", "method", "path", "sent_before"), ANSWERS.values(), ids=ANSWERS.keys())
def test_the_openapi_document_names_every_key_each_answer_sends_in_its_order(
    keys: _Keys, method: str, path: str, sent_before: dict[str, Any]
) -> None:
    document = _app(keys).openapi()
    route = path if path != WITHDRAW else "/v1/admin/credential-keys/{key_id}/withdraw"
    schema = document["paths"][route][method.lower()]["responses"]["200"]["content"]["application/json"]["schema"]
    assert "$ref" in schema, f"{method} {route} documents no answer model: {schema}"
    answer = _schema_named(document, schema)

    assert list(answer["properties"]) == list(sent_before)
    assert answer["required"] == list(sent_before)  # each key is sent, if only as null
    for name, nested in answer["properties"].items():
        if isinstance(sent_before[name], dict) or name == "keys":
            key = _schema_named(document, nested.get("items", nested))
            sent_key = sent_before[name] if name != "keys" else sent_before[name][0]
            assert list(key["properties"]) == key["required"] == list(sent_key)


async def test_an_answer_that_lost_a_key_is_refused_not_sent(client_of: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    listed = credential_routes._key_listed

    def without_published(issuer: CredentialIssuer, key: PublicKey) -> dict[str, Any]:
        return {name: value for name, value in listed(issuer, key).items() if name != "published"}

    monkeypatch.setattr(credential_routes, "_key_listed", without_published)
    answer = await client_of(_Keys()).get("/v1/admin/credential-keys")

    assert answer.status_code == 500  # the model refused it: never a withdrawn key listed as if it verified
