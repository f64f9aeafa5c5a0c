"""An AO whose batch meets the learner key store unavailable is told to send the same file again later, in words
meant for it: never the operator's fix (a setting's name, "restart"), which is logged instead, and the
Idempotency-Key only when its request sent one."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import httpx
import structlog
from fastapi import FastAPI

from ingest.api import install
from lrs_platform.keyring import WrappingKeyNotGiven


def _app_raising(error: Exception) -> FastAPI:
    app = FastAPI()
    install(app)

    @app.post("/v1/raises")
    async def raises() -> None:
        raise error

    return app


async def _submitted(headers: dict[str, str]) -> tuple[httpx.Response, list[MutableMapping[str, Any]]]:
    transport = httpx.ASGITransport(app=_app_raising(WrappingKeyNotGiven([1])), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        with structlog.testing.capture_logs() as logs:
            response = await client.post("/v1/raises", headers=headers)
    return response, logs


async def test_the_ao_is_told_to_send_the_file_again_and_the_operators_fix_is_logged() -> None:
    response, logs = await _submitted({})

    assert response.status_code == 503
    problem = response.json()
    assert problem["code"] == "KEYRING_UNAVAILABLE"
    assert problem["detail"] == (
        "The LRS cannot accept batches just now, so nothing of this one was accepted: send the same file again later."
    )
    assert "LRS_KEYRING" not in response.text and "restart" not in response.text
    (line,) = [entry for entry in logs if entry["event"] == "submission_refused_keyring_unavailable"]
    assert line["error"] == "WrappingKeyNotGiven"
    assert "LRS_KEYRING_WRAPPING_KEYS" in str(line["reason"])


async def test_the_idempotency_key_is_named_only_when_the_ao_sent_one() -> None:
    response, _ = await _submitted({"Idempotency-Key": "batch-2026-12-06"})

    assert response.json()["detail"].endswith("send the same file again later, with the same Idempotency-Key.")
