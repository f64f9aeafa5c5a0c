"""A learner whose challenge meets the learner key store unusable is answered 503 `KEYRING_UNAVAILABLE` in words meant
for anyone (code review, finding 3): never the keyring's reason, an operator's to mend, which names a setting
(`LRS_KEYRING_KEY`, `LRS_KEYRING_WRAPPING_KEYS`) or a wrapping key's id and is logged instead; and `Retry-After` only
when waiting alone can mend it (the store unreachable), not when the service's keys do not fit the store.

The keyring is the real one, over stub stores that fail as PostgreSQL would."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection, MutableMapping
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import httpx
import pytest
import structlog

from challenges.api import router
from challenges.domain import AchievementOnRecord
from challenges.service import ChallengeService
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.keyring import Keyring, KeyringKey

LEARNER, AO = "1000000043", "RN9093"
ACHIEVEMENT_ID = uuid.UUID("66666666-7777-4888-9999-00000000001a")


class _Store:
    """`learner_keys` as the keyring reads it: its fingerprint, and one learner key wrapped with `wrapped_by`."""

    def __init__(self, *, fingerprint: bytes | None = None, wrapped_by: int = 0) -> None:
        self.fingerprint = fingerprint
        self.wrapped_by = wrapped_by

    async def fetchval(self, query: str, *arguments: Any) -> Any:
        if self.fingerprint is not None:
            return self.fingerprint  # the store was made with another keyring key
        return arguments[0] if arguments else None  # this keyring's fingerprint: recorded, then matched

    async def fetch(self, query: str, *arguments: Any) -> list[Any]:
        return [([arguments[0][0]], [b"\0" * 60], [self.wrapped_by])]

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[_Store]:
        yield self


class _Unreachable:
    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[None]:
        raise ConnectionRefusedError(111, "Connect call failed")
        yield


class _Record:
    async def learner_ulns(self, uln: str) -> frozenset[str]:
        return frozenset({uln})

    async def achievement(self, achievement_id: uuid.UUID) -> AchievementOnRecord | None:
        return AchievementOnRecord(achievement_id, LEARNER, AO, False, "60175886", date(2025, 6, 10), "Merit", "BTEC")


async def _not_held(ulns: Collection[str]) -> bool:
    return False


async def _caught_up() -> bool:
    return True


async def _raised(pool: object) -> tuple[httpx.Response, list[MutableMapping[str, Any]]]:
    keyring = Keyring(pool, KeyringKey.generate())
    app = build_app("challenges", title="Challenges", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse(f"learner:{LEARNER}")
    app.state.challenges = ChallengeService(None, _Record(), keyring, _caught_up, held=_not_held)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://challenges") as client:
        with structlog.testing.capture_logs() as logs:
            answer = await client.post(
                "/v1/challenges", json={"achievement_id": str(ACHIEVEMENT_ID), "reason": "My grade was a Distinction"}
            )
    return answer, logs


@pytest.mark.parametrize(
    ("store", "named_in_the_log"),
    [
        (_Store(fingerprint=b"\1" * 32), "this LRS_KEYRING_KEY is not the one the learner key store was made with"),
        (_Store(wrapped_by=2), "wrapping key 2, which this service was not given: add it back to LRS_KEYRING_WRAPPING"),
        (_Store(wrapped_by=0), "a learner key does not open with this LRS_KEYRING_KEY"),
    ],
    ids=["made-with-another-key", "wrapping-key-not-given", "key-does-not-open"],
)
async def test_a_learner_is_not_told_the_operators_configuration_nor_to_wait_for_it(
    store: _Store, named_in_the_log: str
) -> None:
    answer, logs = await _raised(store)

    assert answer.status_code == 503, answer.text
    problem = answer.json()
    assert (problem["code"], problem["title"]) == ("KEYRING_UNAVAILABLE", "The learner key store is unavailable")
    assert "LRS_KEYRING" not in answer.text and "wrapping" not in answer.text and "restart" not in answer.text
    assert "2" not in problem["detail"], "no wrapping key id"
    assert "retry-after" not in answer.headers
    assert "waiting alone will not mend it" in problem["detail"]
    assert "Tell the LRS service desk, quoting this answer's X-Request-Id" in problem["detail"]
    (line,) = [entry for entry in logs if entry["event"] == "keyring_unavailable"]
    assert named_in_the_log in line["reason"]
    assert (line["route"], line["passes_by_itself"]) == ("/v1/challenges", False)
    assert LEARNER not in str(line)


async def test_a_key_store_that_cannot_be_reached_is_waited_for() -> None:
    answer, logs = await _raised(_Unreachable())

    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "5"
    assert answer.json()["detail"] == (
        "The learners' keys cannot be used just now, so nothing was read or changed. Send the request again later."
    )
    (line,) = [entry for entry in logs if entry["event"] == "keyring_unavailable"]
    assert (line["reason"], line["passes_by_itself"]) == ("the learner key store cannot be reached", True)
