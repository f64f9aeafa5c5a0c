"""The JWKS at the door: public keys any origin may read, so a verifier in a browser can fetch them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from lrs_platform.http import build_app, noop_lifespan
from plr_projector.api import credential_router
from plr_projector.credential_keys import PublicKey
from plr_projector.credential_routes import CredentialSigning, credential_signing_of
from plr_projector.credentials import CredentialIssuer

MOMENT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class PublishedKeys:
    async def published_keys(self) -> list[PublicKey]:
        return [PublicKey("20260301-0a1b2c3d", bytes(32), MOMENT, "plr-projector (first use)", None)]


def _client() -> httpx.AsyncClient:
    app = build_app("plr-projector", title="PLR", description="", lifespan=noop_lifespan)
    app.include_router(credential_router)
    signing: Any = CredentialSigning(CredentialIssuer.at("https://lrs.example"), PublishedKeys())  # type: ignore[arg-type]
    app.dependency_overrides[credential_signing_of] = lambda: signing
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://plr")


async def test_any_origin_may_read_the_jwks_and_its_cache_time_is_kept() -> None:
    async with _client() as client:
        answer = await client.get("/.well-known/jwks.json", headers={"Origin": "https://verifier.example"})

    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in answer.headers  # public keys: no cookies, no authorisation
    assert answer.headers["cache-control"] == "public, max-age=300"
    (key,) = answer.json()["keys"]
    assert key["kid"] == "https://lrs.example/.well-known/jwks.json#20260301-0a1b2c3d"
    assert "d" not in key
