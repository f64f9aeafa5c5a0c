"""`GET /v1/admin/dlq/{id}/value`: a parked message's bytes for an operator to mend into a corrected copy, served as
kept (JSON when it reads as JSON), never logged; 404 naming the message's place when it had no value."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import httpx
import pytest
import structlog

from lrs_contracts.codes import ProblemCode
from lrs_contracts.dead_letters import Headers
from lrs_platform.identity import OPENAPI_SCOPES, OperatorScope
from lrs_platform.parking import (
    BYTES_MEDIA_TYPE,
    DeadLetterOffice,
    NotParked,
    ParkedMessages,
    ParkedRow,
    ReplayResult,
    value_media_type,
)
from lrs_platform.parking_api import NO_VALUE, router

from .parking_clients import parking_client

ENVELOPE = b'{"event_id":"4f1c","data":{"uln":"1000000043","given_name":"Ada"}}'


def parked(value: bytes | None, consumer: str = "ingest.batch-view") -> ParkedRow:
    return ParkedRow(
        id=7,
        consumer=consumer,
        topic="lrs.batch.outcomes.v1",
        partition=5,
        offset=41,
        key=b"6d1c",
        value=value,
        timestamp_ms=0,
        reason="error",
        error="invalid",
        attempts=1,
        event_id=None,
        event_type=None,
        parked_at=datetime(2026, 12, 5, tzinfo=UTC),
    )


class OneMessage:
    def __init__(self, value: bytes | None) -> None:
        self.row = parked(value)

    async def message(self, parked_id: int) -> ParkedRow:
        if parked_id != self.row.id:
            raise NotParked(f"no parked message {parked_id}")
        return self.row

    def reapplies(self, consumer: str) -> bool:
        return True


def client(value: bytes | None, principal: str = "operator:ops", office: Any = None) -> httpx.AsyncClient:
    return parking_client(office or OneMessage(value), principal)


async def test_a_json_value_is_answered_as_kept_as_json_and_not_logged() -> None:
    async with client(ENVELOPE) as http:
        with structlog.testing.capture_logs() as logs:
            answer = await http.get("/v1/admin/dlq/7/value")

    assert answer.status_code == 200
    assert answer.content == ENVELOPE
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-store"
    assert logs and "1000000043" not in str(logs) and "Ada" not in str(logs)


async def test_a_value_that_is_no_json_is_answered_as_bytes() -> None:
    async with client(b"\x00\xff not json") as http:
        answer = await http.get("/v1/admin/dlq/7/value")

    assert (answer.status_code, answer.content) == (200, b"\x00\xff not json")
    assert answer.headers["content-type"] == "application/octet-stream"


async def test_a_message_without_a_value_is_a_404_naming_its_place() -> None:
    async with client(None) as http:
        answer = await http.get("/v1/admin/dlq/7/value")

    assert answer.status_code == 404
    assert answer.json()["title"] == NO_VALUE
    assert "lrs.batch.outcomes.v1 partition 5 offset 41" in answer.json()["detail"]


async def test_a_message_without_a_value_is_told_by_a_code_whose_page_says_what_to_do() -> None:
    """Clients (`lrs dlq show`, the portal) act on the code, not on the title, which is words for people."""
    async with client(None) as http:
        problem = (await http.get("/v1/admin/dlq/7/value")).json()
        page = await http.get(problem["type"])

    assert (problem["code"], problem["type"]) == (
        ProblemCode.PARKED_VALUE_NOT_KEPT,
        "/problems/PARKED_VALUE_NOT_KEPT",
    )
    assert page.status_code == 200
    assert "there is nothing to mend" in page.text.lower()


class OneRow:
    """The parked table of one row, as `DeadLetterOffice.message` reads it."""

    def __init__(self, row: ParkedRow) -> None:
        self.row = row

    async def get(self, parked_id: int) -> ParkedRow | None:
        return self.row if parked_id == self.row.id else None


class Replays:
    name = "ingest.batch-view"

    async def replay(self, parked: ParkedRow, *, skip_head: bool, replacement: bytes | None = None) -> ReplayResult:
        raise AssertionError("not retried here")


async def _never_sent(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
    raise AssertionError("nothing is sent here")


def office_of(row: ParkedRow) -> DeadLetterOffice:
    office = DeadLetterOffice(cast(ParkedMessages, OneRow(row)), _never_sent)
    office.register("validation.decider")  # as validation's decider registers: no replayer, skip only
    office.register("ingest.batch-view", Replays())  # as a PoisonGuard registers itself
    return office


async def test_a_tombstone_a_consumer_never_applies_again_is_only_to_be_skipped() -> None:
    """Validation's decider takes no parked message again, a tombstone no more than a corrected copy: the 404 told
    the operator to retry it "once its consumer takes such a message", which never comes (every retry is a 409)."""
    row = parked(None, consumer="validation.decider")
    async with client(None, office=office_of(row)) as http:
        answer = await http.get("/v1/admin/dlq/7/value")

    assert (answer.status_code, answer.json()["title"]) == (404, NO_VALUE)
    detail = answer.json()["detail"]
    assert "retry it once" not in detail
    assert detail.endswith(
        "there are no bytes to mend. Skip it: validation.decider cannot apply it again, not even a corrected copy (a"
        " retry answers 409)."
    )


async def test_a_tombstone_a_consumer_retries_may_be_retried_once_it_takes_such_a_message() -> None:
    async with client(None, office=office_of(parked(None))) as http:
        answer = await http.get("/v1/admin/dlq/7/value")

    assert answer.json()["detail"].endswith("Skip it, or retry it once its consumer takes such a message.")


async def test_an_id_not_parked_is_a_404_and_another_caller_than_an_operator_is_refused() -> None:
    async with client(ENVELOPE) as http:
        assert (await http.get("/v1/admin/dlq/8/value")).json()["title"] == "Nothing parked"
    async with client(ENVELOPE, principal="ao:RN5133") as http:
        refused = await http.get("/v1/admin/dlq/7/value")
    assert (refused.status_code, refused.json()["detail"]) == (403, "Dead letters are for operators.")


def test_the_value_route_takes_the_support_scope_not_the_dead_letter_one_the_listing_takes() -> None:
    scopes = {
        (route.path, tuple(route.methods)): (route.openapi_extra or {}).get(OPENAPI_SCOPES)  # type: ignore[attr-defined]
        for route in router.routes
    }
    assert scopes[("/v1/admin/dlq/{parked_id}/value", ("GET",))] == [OperatorScope.SUPPORT.value]
    assert scopes[("/v1/admin/dlq", ("GET",))] == [OperatorScope.DEAD_LETTERS.value]


@pytest.mark.parametrize(
    ("value", "media_type"),
    [(ENVELOPE, "application/json"), (b"[1, 2]", "application/json"), (b"{not json", "application/octet-stream")],
)
def test_a_value_is_json_when_it_reads_as_json(value: bytes, media_type: str) -> None:
    assert value_media_type(value) == media_type


def test_a_value_nested_deeper_than_python_reads_is_served_as_bytes() -> None:
    """A deeply nested JSON poison is one a consumer parks; reading it as JSON raised RecursionError (a 500)."""
    assert value_media_type(b"[" * 100_000) == BYTES_MEDIA_TYPE
