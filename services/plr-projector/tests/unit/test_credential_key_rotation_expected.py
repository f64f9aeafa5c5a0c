"""A rotation names the key it means to replace (`expected_active`): the route hands it to the keys, and a rotation
that finds another key active is answered 409 `Rotated meanwhile`, naming who made the active key and when. A
rotation sent without it (older clients) rotates whichever key is active, as before."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from plr_projector.api import admin_router
from plr_projector.credential_keys import ActiveKeyExpected, PublicKey, RotatedMeanwhile, Rotation
from plr_projector.credential_routes import CredentialSigning, credential_signing_of
from plr_projector.credentials import CredentialIssuer

ROTATE = "/v1/admin/credential-keys/rotate"
MADE = datetime(2026, 12, 7, 9, 10, 36, 863871, tzinfo=UTC)
NEW = PublicKey("20261207-1dfa0a80", bytes(32), MADE, "operator:bob", None)


@dataclass
class KeysSeen:
    """Credential keys that record what each rotation expected, and refuse it with `meanwhile` if set."""

    meanwhile: RotatedMeanwhile | None = None
    asked: list[tuple[str, ActiveKeyExpected | None]] = field(default_factory=list)

    async def rotate(self, operator: str, expected: ActiveKeyExpected | None = None) -> Rotation:
        self.asked.append((operator, expected))
        if self.meanwhile is not None:
            raise self.meanwhile
        return Rotation(NEW, ["20261207-d8d7e476"])


def _client(keys: KeysSeen) -> httpx.AsyncClient:
    app = build_app("plr-projector", title="PLR", description="", lifespan=noop_lifespan)
    app.include_router(admin_router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse("operator:alex")
    signing: Any = CredentialSigning(CredentialIssuer.at("https://lrs.example"), keys)  # type: ignore[arg-type]
    app.dependency_overrides[credential_signing_of] = lambda: signing
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://plr")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (None, None),  # a bare POST, as clients before `expected_active` send it: not checked
        ({}, None),
        ({"expected_active": "20261207-d8d7e476"}, ActiveKeyExpected("20261207-d8d7e476")),
        ({"expected_active": None}, ActiveKeyExpected(None)),  # the operator saw no key active
    ],
    ids=["no body", "empty body", "a key expected", "none expected"],
)
async def test_the_key_expected_is_handed_to_the_rotation(
    body: dict[str, Any] | None, expected: ActiveKeyExpected | None
) -> None:
    keys = KeysSeen()
    async with _client(keys) as client:
        answer = await client.post(ROTATE, json=body) if body is not None else await client.post(ROTATE)

    assert answer.status_code == 200, answer.text
    assert answer.json()["key_id"] == NEW.key_id
    assert keys.asked == [("operator:alex", expected)]


async def test_a_rotation_overtaken_is_a_409_naming_the_active_key_who_made_it_and_when() -> None:
    detail = (
        "Credential signing key 20261207-d8d7e476 is not the active key any more: rotated meanwhile by operator:bob"
        " at 2026-12-07T09:10:36.863871Z, the active key is 20261207-1dfa0a80. Nothing was rotated."
    )
    keys = KeysSeen(meanwhile=RotatedMeanwhile(detail, NEW))
    async with _client(keys) as client:
        answer = await client.post(ROTATE, json={"expected_active": "20261207-d8d7e476"})

    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert (problem["title"], problem["detail"]) == ("Rotated meanwhile", detail)
    assert (problem["active_key_id"], problem["rotated_by"], problem["rotated_at"]) == (
        "20261207-1dfa0a80",
        "operator:bob",
        "2026-12-07T09:10:36.863871Z",
    )


async def test_with_no_key_active_now_the_409_says_none() -> None:
    keys = KeysSeen(meanwhile=RotatedMeanwhile("no key is active now", None))
    async with _client(keys) as client:
        answer = await client.post(ROTATE, json={"expected_active": "20261207-d8d7e476"})

    assert answer.status_code == 409, answer.text
    assert not {"active_key_id", "rotated_by", "rotated_at"} & answer.json().keys()  # left out, as null members are


@pytest.mark.parametrize(
    "body",
    [{"expected": "20261207-d8d7e476"}, {"expected_active": "a\nb"}, {"expected_active": "x" * 65}],
    ids=["misspelt", "two lines", "too long"],
)
async def test_a_body_the_route_cannot_read_rotates_nothing(body: dict[str, Any]) -> None:
    keys = KeysSeen()
    async with _client(keys) as client:
        answer = await client.post(ROTATE, json=body)

    assert answer.status_code == 422, answer.text
    assert keys.asked == []
