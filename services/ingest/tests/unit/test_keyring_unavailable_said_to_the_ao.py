"""An AO whose batch meets the learner key store unavailable is answered as every service answers it
(`lrs_platform.http.keyring_problem`), told to send the same file again, under its Idempotency-Key only when its
request sent one: never the operator's fix (a setting's name, "restart"), which is logged instead; and told to wait
(`Retry-After`) only when waiting can mend it, not for a wrapping key the service was not given."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import httpx
import structlog
from fastapi import FastAPI

from ingest.api import install
from lrs_platform.keyring import KeyringUnavailable, WrappingKeyNotGiven


def _app_raising(error: Exception) -> FastAPI:
    app = FastAPI()
    install(app)

    @app.post("/v1/raises")
    async def raises() -> None:
        raise error

    return app


async def _submitted(
    error: Exception, headers: dict[str, str]
) -> tuple[httpx.Response, list[MutableMapping[str, Any]]]:
    transport = httpx.ASGITransport(app=_app_raising(error), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        with structlog.testing.capture_logs() as logs:
            response = await client.post("/v1/raises", headers=headers)
    return response, logs


def _unreachable() -> KeyringUnavailable:
    """As the keyring raises it when PostgreSQL refuses the connection."""
    error = KeyringUnavailable("the learner key store cannot be reached")
    error.__cause__ = ConnectionRefusedError(111, "Connect call failed")
    return error


async def test_the_ao_is_told_to_send_the_file_again_and_the_operators_fix_is_logged() -> None:
    response, logs = await _submitted(WrappingKeyNotGiven([1]), {})

    assert response.status_code == 503
    problem = response.json()
    assert problem["code"] == "KEYRING_UNAVAILABLE"
    assert problem["detail"].endswith("and send the same file again once it is mended.")
    assert "waiting alone will not mend it" in problem["detail"]
    assert "retry-after" not in response.headers
    assert "LRS_KEYRING" not in response.text and "restart" not in response.text
    (line,) = [entry for entry in logs if entry["event"] == "keyring_unavailable"]
    assert line["error"] == "WrappingKeyNotGiven"
    assert "LRS_KEYRING_WRAPPING_KEYS" in str(line["reason"])


async def test_a_key_store_out_of_reach_is_waited_for() -> None:
    response, _ = await _submitted(_unreachable(), {})

    assert (response.status_code, response.headers["retry-after"]) == (503, "5")
    assert response.json()["detail"] == (
        "The learners' keys cannot be used just now, so nothing was read or changed. Send the same file again later."
    )


async def test_the_idempotency_key_is_named_only_when_the_ao_sent_one() -> None:
    response, _ = await _submitted(_unreachable(), {"Idempotency-Key": "batch-2026-12-06"})

    assert response.json()["detail"].endswith("Send the same file, under the same Idempotency-Key, again later.")
