"""A skip through the shared dead-letter routes needs a reason, as the portal's Skip form does (report parity, finding
1): none, an empty one or one of spaces and line breaks alone is a 422 in the portal's words, and nothing is
skipped. Before, `POST /v1/admin/dlq/{id}/skip` with no body or `{"reason": "   "}` skipped, and the skip's record kept
no reason."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.parking import ReplayResult
from lrs_platform.parking_api import SKIP_REASON_MISSING, router

from .parking_clients import parking_client

PORTAL_WORDS = "Say why the message is dropped: it is kept with the record of the skip"


class SkippingOffice:
    def __init__(self) -> None:
        self.skipped: list[tuple[int, str, str | None]] = []

    async def skip(
        self, parked_id: int, operator: str, reason: str | None, *, with_key: str | None = None
    ) -> ReplayResult:
        self.skipped.append((parked_id, operator, reason))
        return ReplayResult(
            "ingest.batch-view", "lrs.batch.outcomes.v1", "K", applied=0, skipped=1, still_parked=0, error=None
        )


@pytest.fixture
def office() -> SkippingOffice:
    return SkippingOffice()


@pytest.fixture
def client(office: SkippingOffice) -> httpx.AsyncClient:
    return parking_client(office)


def test_the_refusal_is_in_the_portals_words() -> None:
    assert SKIP_REASON_MISSING == PORTAL_WORDS


@pytest.mark.parametrize(
    "body",
    [None, {}, {"reason": None}, {"reason": ""}, {"reason": "   "}, {"reason": " \r\n\t "}, {"reason": "\u200b"}],
    ids=["no body", "no reason", "null", "empty", "spaces", "line breaks", "a zero-width space"],
)
async def test_a_skip_without_a_reason_is_a_422_and_skips_nothing(
    client: httpx.AsyncClient, office: SkippingOffice, body: dict[str, Any] | None
) -> None:
    async with client:
        answer = await client.post("/v1/admin/dlq/7/skip", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "INVALID_REQUEST"
    assert answer.json()["detail"] == f"body.reason: {PORTAL_WORDS}"
    assert office.skipped == []


async def test_a_skip_with_a_reason_is_made_and_keeps_it(client: httpx.AsyncClient, office: SkippingOffice) -> None:
    async with client:
        answer = await client.post("/v1/admin/dlq/7/skip", json={"reason": "NUL byte; batch resubmitted"})
    assert answer.status_code == 200, answer.text
    assert office.skipped == [(7, "operator:ops", "NUL byte; batch resubmitted")]


def test_the_openapi_document_says_the_reason_is_required() -> None:
    app = build_app("parking", title="Parking", description="", lifespan=noop_lifespan)
    app.include_router(router)
    document = app.openapi()
    skip = document["paths"]["/v1/admin/dlq/{parked_id}/skip"]["post"]
    assert skip["requestBody"]["required"] is True
    reason = document["components"]["schemas"]["SkipRequest"]["properties"]["reason"]
    assert "Required: a skip without one" in reason["description"]
