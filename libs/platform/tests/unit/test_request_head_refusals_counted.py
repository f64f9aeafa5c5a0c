"""A request head refused before the app saw it, 408 (it did not arrive in time) or 431 (too large), is counted in
`lrs_http_requests_total` as the app's answers are, with route and method `unknown` (neither was read), so that a
dashboard or an alert sees a flood of them or an integrator whose requests never finish (runbook walk, finding 11).
Checked on a real server over a raw socket, with a deadline short enough for a test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY
from tests.support.raw_http import raw_connection
from tests.support.serving import served

from lrs_platform.http import MAX_REQUEST_HEAD_BYTES, BoundedHeadProtocol, build_app, noop_lifespan

SERVICE = "head-refusals-counted"


class _QuickDeadline(BoundedHeadProtocol):
    head_seconds = 0.5


@pytest.fixture(scope="module")
async def port() -> AsyncIterator[int]:
    app = build_app(SERVICE, title="Counted", description="", lifespan=noop_lifespan)
    async with served(app, protocol=_QuickDeadline) as base_url:
        yield int(base_url.rsplit(":", 1)[1])


def _counted(status: int) -> float:
    labels = {"service": SERVICE, "method": "unknown", "route": "unknown", "status": str(status)}
    return REGISTRY.get_sample_value("lrs_http_requests_total", labels) or 0.0


async def test_a_head_that_did_not_arrive_in_time_is_counted_408(port: int) -> None:
    before = _counted(408)

    async with raw_connection(port) as connection:
        status, _, _ = await connection.answer()

    assert status == 408
    assert _counted(408) == before + 1


async def test_a_head_too_large_is_counted_431(port: int) -> None:
    before = _counted(431)

    async with raw_connection(port) as connection:
        await connection.send(
            b"GET /healthz?q=" + b"a" * (MAX_REQUEST_HEAD_BYTES + 1) + b" HTTP/1.1\r\nHost: c\r\n\r\n"
        )
        status, _, _ = await connection.answer()

    assert status == 431
    assert _counted(431) == before + 1
