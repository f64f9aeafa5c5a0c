"""Every service answers a request that met the learner key store unusable (`KeyringUnavailable`) the same way, once,
in `build_app` (code review, finding 3): 503 `KEYRING_UNAVAILABLE` in words meant for any caller, the keyring's reason
(settings, wrapping key ids) in the log only, and `Retry-After` only when waiting alone can mend it: the store out of
reach, not created yet or older than the service (validation creates and upgrades it), not keys that do not fit it."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
import structlog
from cryptography.exceptions import InvalidTag

from lrs_platform import keyring
from lrs_platform.http import build_app, keyring_passes_by_itself, noop_lifespan
from lrs_platform.keyring import KeyringUnavailable, WrappingKeyNotGiven


def _as_the_store_fails(cause: Exception) -> KeyringUnavailable:
    """What the keyring raises when PostgreSQL fails it with `cause`."""
    with pytest.raises(KeyringUnavailable) as raised, keyring._store_errors():
        raise cause
    return raised.value


def _as_a_key_does_not_open() -> KeyringUnavailable:
    try:
        raise InvalidTag()
    except InvalidTag as error:
        try:
            raise KeyringUnavailable("a learner key does not open with this LRS_KEYRING_KEY") from error
        except KeyringUnavailable as unavailable:
            return unavailable


PASSING = {
    "unreachable": _as_the_store_fails(ConnectionRefusedError(111, "Connect call failed")),
    "connection lost": _as_the_store_fails(asyncpg.ConnectionDoesNotExistError("connection was closed")),
    "released to the pool": _as_the_store_fails(asyncpg.InterfaceError("released back to the pool")),
    "not created yet": _as_the_store_fails(asyncpg.UndefinedTableError('relation "learner_keys.keys"')),
    "older than the service": _as_the_store_fails(asyncpg.UndefinedColumnError('column "wrapped_by"')),
}
CONFIGURATION = {
    "wrapping key not given": WrappingKeyNotGiven([3]),
    "made with another key": KeyringUnavailable(
        "this LRS_KEYRING_KEY is not the one the learner key store was made with"
    ),
    "key does not open": _as_a_key_does_not_open(),
}


async def _answer_to(error: Exception) -> tuple[httpx.Response, list[dict[str, object]]]:
    app = build_app("any", title="Any", description="", lifespan=noop_lifespan)

    @app.get("/v1/things/{thing}")
    async def things(thing: str) -> None:
        raise error

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://any") as client:
        with structlog.testing.capture_logs() as logs:
            answer = await client.get("/v1/things/9000000043")
    return answer, [dict(line) for line in logs]


@pytest.mark.parametrize("error", PASSING.values(), ids=PASSING.keys())
async def test_a_store_that_failed_is_waited_for(error: KeyringUnavailable) -> None:
    assert keyring_passes_by_itself(error)
    answer, _ = await _answer_to(error)

    assert (answer.status_code, answer.headers["retry-after"]) == (503, "5")
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert (problem["code"], problem["title"]) == ("KEYRING_UNAVAILABLE", "The learner key store is unavailable")
    assert problem["detail"] == (
        "The learners' keys cannot be used just now, so nothing was read or changed. Send the request again later."
    )


@pytest.mark.parametrize("error", CONFIGURATION.values(), ids=CONFIGURATION.keys())
async def test_keys_that_do_not_fit_the_store_are_not_waited_for(error: KeyringUnavailable) -> None:
    assert not keyring_passes_by_itself(error)
    answer, _ = await _answer_to(error)

    assert answer.status_code == 503 and "retry-after" not in answer.headers
    problem = answer.json()
    assert problem["code"] == "KEYRING_UNAVAILABLE"
    assert "waiting alone will not mend it" in problem["detail"]
    assert "Tell the LRS service desk, quoting this answer's X-Request-Id" in problem["detail"]


@pytest.mark.parametrize("error", [*PASSING.values(), *CONFIGURATION.values()], ids=[*PASSING, *CONFIGURATION])
async def test_the_reason_is_logged_with_the_route_not_answered(error: KeyringUnavailable) -> None:
    answer, logs = await _answer_to(error)

    assert str(error) not in answer.text
    assert "LRS_KEYRING" not in answer.text and "wrapping" not in answer.text
    assert answer.headers["x-request-id"]
    (line,) = [line for line in logs if line["event"] == "keyring_unavailable"]
    assert (line["reason"], line["error"]) == (str(error), type(error).__name__)
    assert line["route"] == "/v1/things/{thing}", "the route's template: a path may hold a ULN"
    assert "9000000043" not in str(line)
