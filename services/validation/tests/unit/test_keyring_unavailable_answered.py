"""Validation answers its keyring routes, when the learner key store cannot be used, as every service does
(`lrs_platform.http.keyring_problem`, code review finding 3): the keyring's reason (a setting, a wrapping key's id) is
logged, not answered, and `Retry-After` is sent only when waiting can mend it: not for a wrapping key not given, nor
for a store made with another keyring key."""

from __future__ import annotations

import json

import httpx
import pytest

from lrs_platform.authentication import current_principal
from lrs_platform.identity import Principal
from lrs_platform.keyring import KeyringUnavailable, WrappingKeyNotGiven, WrappingState
from validation.bootstrap import create_app
from validation.config import ValidationSettings


class _Keyring:
    """A keyring whose store fails each call with `error`."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def wrapping(self) -> WrappingState:
        raise self.error

    async def rewrap(self, at_most: int) -> int:
        raise self.error


async def _asked(error: Exception, method: str, path: str) -> httpx.Response:
    app = create_app(ValidationSettings())  # its log lines are JSON on stdout
    app.state.keyring = _Keyring(error)
    app.dependency_overrides[current_principal] = lambda: Principal.parse("operator:alex")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://validation") as client:
        return await client.request(method, path)


def _unreachable() -> KeyringUnavailable:
    error = KeyringUnavailable("the learner key store cannot be reached")
    error.__cause__ = ConnectionRefusedError(111, "Connect call failed")
    return error


@pytest.mark.parametrize(
    ("error", "method", "path"),
    [
        (WrappingKeyNotGiven([1]), "POST", "/v1/admin/keyring/rewrap"),
        (
            KeyringUnavailable("this LRS_KEYRING_KEY is not the one the learner key store was made with"),
            "GET",
            "/v1/admin/keyring",
        ),
    ],
    ids=["wrapping-key-not-given", "made-with-another-key"],
)
async def test_keys_that_do_not_fit_the_store_are_logged_and_not_waited_for(
    error: Exception, method: str, path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = await _asked(error, method, path)

    assert answer.status_code == 503, answer.text
    assert answer.json()["code"] == "KEYRING_UNAVAILABLE"
    assert "LRS_KEYRING" not in answer.text and "wrapping key" not in answer.text
    assert "retry-after" not in answer.headers
    assert "waiting alone will not mend it" in answer.json()["detail"]
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (line,) = [entry for entry in logged if entry["event"] == "keyring_unavailable"]
    assert (line["reason"], line["route"]) == (str(error), path)


async def test_a_store_out_of_reach_is_waited_for() -> None:
    answer = await _asked(_unreachable(), "GET", "/v1/admin/keyring")

    assert (answer.status_code, answer.headers["retry-after"]) == (503, "5")
    assert answer.json()["detail"] == (
        "The learners' keys cannot be used just now, so nothing was read or changed. Send the request again later."
    )
