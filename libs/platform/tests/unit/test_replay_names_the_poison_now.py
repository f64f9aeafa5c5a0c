"""A retry or skip that leaves messages parked answers which parked message is its key's poison now (`poison_id`):
the one a next skip names. When a retry applied the poison and the next message of the key failed, or a skip
dropped it and the next failed, the poison is another message, with another id; the answer did not say which, and
`lrs dlq` told the operator to skip the id they had given, which was gone (404). Over the in-memory parked table
and the shared routes (`lrs_platform.parking_api`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from libs.platform.tests.unit.test_consumer_guard import NO_WAIT, Effects, MemoryParked, message

from lrs_platform.consumer import PoisonGuard
from lrs_platform.parking import DeadLetterOffice, ParkedRow, Parking
from lrs_platform.parking_api import Replayed

from .parking_clients import parking_client

CONSUMER = "ingest.batch-view"


@pytest.fixture
def parked() -> MemoryParked:
    return MemoryParked()


@pytest.fixture
def office(parked: MemoryParked) -> DeadLetterOffice:
    async def publish(*_: Any) -> None:
        return None

    return DeadLetterOffice(parked, publish)  # type: ignore[arg-type]


@pytest.fixture
async def guard(office: DeadLetterOffice) -> PoisonGuard:
    return PoisonGuard(CONSUMER, Effects(), office, NO_WAIT)


@pytest.fixture
async def client(office: DeadLetterOffice) -> AsyncIterator[httpx.AsyncClient]:
    async with parking_client(office) as made:
        yield made


async def two_poisons_of_one_key(guard: PoisonGuard, parked: MemoryParked) -> tuple[ParkedRow, ParkedRow]:
    """Key K: 1 poison, 2 poison (held behind 1), 3 applies; the rows of 1 and 2."""
    await guard.apply([message(1, b"K", b"k1-poison"), message(2, b"K", b"k2-poison"), message(3, b"K", b"k3")])
    first, second, _ = sorted(parked.rows.values(), key=lambda row: row.offset)
    return first, second


async def answered(client: httpx.AsyncClient, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = await client.post(path, json=body)
    assert answer.status_code == 200, answer.text
    Replayed.model_validate(answer.json())  # the documented answer
    [result] = answer.json()["results"]
    assert isinstance(result, dict)
    return result


async def test_a_retry_that_applies_the_poison_answers_the_id_of_the_message_that_failed_next(
    guard: PoisonGuard, parked: MemoryParked, client: httpx.AsyncClient
) -> None:
    first, second = await two_poisons_of_one_key(guard, parked)
    parked.rows[first.id] = replace(first, value=b"k1")  # stands for the fix deployed

    result = await answered(client, f"/v1/admin/dlq/{first.id}/retry")

    assert (result["applied"], result["still_parked"], result["poison_id"]) == (1, 2, second.id)
    assert second.id != first.id and first.id not in parked.rows


async def test_a_skip_answers_the_id_of_the_message_that_failed_behind_the_skipped_one(
    guard: PoisonGuard, parked: MemoryParked, client: httpx.AsyncClient
) -> None:
    first, second = await two_poisons_of_one_key(guard, parked)

    result = await answered(client, f"/v1/admin/dlq/{first.id}/skip", {"reason": "a duplicate"})

    assert (result["skipped"], result["still_parked"], result["poison_id"]) == (1, 2, second.id)
    assert parked.rows[second.id].reason == "error"


async def test_a_retry_whose_poison_fails_again_answers_its_own_id(
    guard: PoisonGuard, parked: MemoryParked, client: httpx.AsyncClient
) -> None:
    first, _ = await two_poisons_of_one_key(guard, parked)

    result = await answered(client, f"/v1/admin/dlq/{first.id}/retry")

    assert (result["applied"], result["still_parked"], result["poison_id"]) == (0, 3, first.id)


async def test_a_retry_that_applies_every_message_answers_no_poison(
    guard: PoisonGuard, parked: MemoryParked, client: httpx.AsyncClient
) -> None:
    await guard.apply([message(1, b"K", b"k1-poison"), message(2, b"K", b"k2")])
    first = min(parked.rows.values(), key=lambda row: row.offset)
    parked.rows[first.id] = replace(first, value=b"k1")

    result = await answered(client, f"/v1/admin/dlq/{first.id}/retry")

    assert (result["applied"], result["still_parked"], result["poison_id"]) == (2, 0, None)


async def test_a_skip_of_a_message_no_consumer_re_applies_answers_no_poison(
    office: DeadLetterOffice, parked: MemoryParked, client: httpx.AsyncClient
) -> None:
    """Validation's decider: a skip only acknowledges it, and leaves nothing parked."""
    office.register("validation.decider")
    await office.park(
        [Parking("validation.decider", "lrs.batch.submitted.v1", 0, 1, b"K", b"poison", 0, "error", None)],
        publish=False,
    )
    [row] = parked.rows.values()

    result = await answered(client, f"/v1/admin/dlq/{row.id}/skip", {"reason": "the AO resubmits the batch"})

    assert (result["skipped"], result["still_parked"], result["poison_id"]) == (1, 0, None)
