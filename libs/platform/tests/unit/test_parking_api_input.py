"""The shared dead-letter routes refuse what PostgreSQL could not take, before asking the office anything."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from lrs_platform.database import LARGEST_BIGINT

from .parking_clients import parking_client


class RecordingOffice:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def listing(self, *args: Any) -> tuple[list[Any], int]:
        self.asked.append("listing")
        return [], 0

    async def retry(self, *args: Any) -> Any:
        self.asked.append("retry")
        raise AssertionError("never reached in these tests")

    skip = retry


@pytest.fixture
def office() -> RecordingOffice:
    return RecordingOffice()


@pytest.fixture
def client(office: RecordingOffice) -> httpx.AsyncClient:
    return parking_client(office)


@pytest.mark.parametrize("name", ["consumer", "topic", "key"])
async def test_a_filter_holding_a_control_character_is_a_422_naming_it(
    client: httpx.AsyncClient, office: RecordingOffice, name: str
) -> None:
    async with client:
        answer = await client.get("/v1/admin/dlq", params={name: "lrs.plr\x00"})
    assert answer.status_code == 422
    assert f"query.{name}" in answer.json()["detail"]
    assert "U+0000" in answer.json()["detail"]
    assert office.asked == []


@pytest.mark.parametrize("action", ["retry", "skip"])
async def test_an_id_past_the_largest_bigint_is_a_422(
    client: httpx.AsyncClient, office: RecordingOffice, action: str
) -> None:
    async with client:
        answer = await client.post(f"/v1/admin/dlq/{LARGEST_BIGINT + 1}/{action}")
    assert answer.status_code == 422
    assert office.asked == []


async def test_a_skip_reason_holding_a_control_character_is_a_422(
    client: httpx.AsyncClient, office: RecordingOffice
) -> None:
    async with client:
        answer = await client.post("/v1/admin/dlq/7/skip", json={"reason": "bad\x1b[0m"})
    assert answer.status_code == 422
    assert "body.reason" in answer.json()["detail"]
    assert office.asked == []


async def test_a_replacement_holding_nan_is_a_422_before_the_office_is_asked(
    client: httpx.AsyncClient, office: RecordingOffice
) -> None:
    async with client:
        answer = await client.post(
            "/v1/admin/dlq/7/retry",
            content=b'{"replacement": {"event_id": "x", "data": {"grade": NaN}}}',
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 422, answer.text
    assert answer.json()["title"] == "Not a corrected copy of the parked message"
    assert office.asked == []
