"""A client that hangs up before its request body is read (a CLI's Ctrl-C, a proxy's idle cut) is no defect: the
request is logged `client_went_away` at info, without its path, and counted under 499 (nginx's "client closed
request"), never as a 500 with `request_failed` at error, which pages an operator through the 500-rate alert
(docs/operations.md, Alerts); nothing is answered, since no one is there. Driven as uvicorn drives the app: the body's
first part, then `http.disconnect`, which Starlette's `Request.body()` raises as `ClientDisconnect`."""

from __future__ import annotations

from typing import Any

import pytest
import structlog.testing
from fastapi import Request
from prometheus_client import REGISTRY
from pydantic import BaseModel
from starlette.types import Message

from lrs_platform import http
from lrs_platform.http import build_app, noop_lifespan

SERVICE = "client-went-away"
ULN = "1000000043"


@pytest.fixture(autouse=True)
def uncached_request_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """The request log as a logger not yet used, as `test_request_log` takes it: one cached earlier in the run never
    reaches `capture_logs`."""
    monkeypatch.setattr(http, "_log", structlog.get_logger("lrs.http"))


def _counted(status: int) -> float:
    labels = {"service": SERVICE, "method": "POST", "route": "/v1/learners/{uln}/providers", "status": str(status)}
    return REGISTRY.get_sample_value("lrs_http_requests_total", labels) or 0.0


class Link(BaseModel):
    ukprn: str


@pytest.mark.parametrize("reads", ["itself", "as a model"])
async def test_a_client_that_hangs_up_before_its_body_is_read_is_counted_499_and_answered_nothing(reads: str) -> None:
    """Read by the route itself (validation's `read_body`), Starlette raises `ClientDisconnect`; read by FastAPI as
    the route's model, FastAPI answers it 400 "There was an error parsing the body": a 499 either way."""
    app = build_app(SERVICE, title="Went away", description="", lifespan=noop_lifespan)

    if reads == "itself":

        @app.post("/v1/learners/{uln}/providers")
        async def link(uln: str, request: Request) -> dict[str, str]:
            await request.body()  # as validation's `read_body` reads it, once the caller is let in
            return {"uln": uln}

    else:

        @app.post("/v1/learners/{uln}/providers")
        async def link_model(uln: str, body: Link) -> dict[str, str]:
            return {"uln": uln}

    body = b'{"ukprn":"10004567"}'
    arriving: list[Message] = [
        {"type": "http.request", "body": body, "more_body": True},  # 20 bytes of the 200 its Content-Length said
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return arriving.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"/v1/learners/{ULN}/providers",
        "raw_path": f"/v1/learners/{ULN}/providers".encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"x"), (b"content-type", b"application/json"), (b"content-length", b"200")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    failed, went_away = _counted(500), _counted(499)

    with structlog.testing.capture_logs() as logs:
        await app(scope, receive, send)

    assert sent == []  # the client is gone: nothing is answered
    assert (_counted(500), _counted(499)) == (failed, went_away + 1)
    assert [entry["event"] for entry in logs if entry["log_level"] == "error"] == []
    [gone] = [entry for entry in logs if entry["event"] == "client_went_away"]
    assert gone["log_level"] == "info"
    [request] = [entry for entry in logs if entry["event"] == "http_request"]
    assert (request["route"], request["status"]) == ("/v1/learners/{uln}/providers", 499)
    assert ULN not in repr(logs)  # the route's template, never the path
