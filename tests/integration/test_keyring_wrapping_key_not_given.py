"""A wrapping key taken out of `LRS_KEYRING_WRAPPING_KEYS` while stored learner keys are still wrapped with it
(step 4 of the rotation done too early, or a Secret edit that lost the line): on a real PostgreSQL the service
is not ready and names the key, the keyring status says which key to give back rather than advising a re-wrap
that fails the same way, and the 503 says not to wait (ops walk, finding 1), naming neither the setting nor the key,
which are logged (code review, finding 3)."""

from __future__ import annotations

import base64
import secrets

import orjson
import pytest
from starlette.requests import Request

from lrs_platform.database import create_pool
from lrs_platform.http import keyring_problem
from lrs_platform.keyring import Keyring, KeyringKey, WrappingKeyNotGiven, migrate
from validation.keyring_api import _wrapping_answer

pytestmark = pytest.mark.integration

ULNS = [f"{9_300_000_000 + number}" for number in range(120)]


async def test_a_wrapping_key_taken_out_too_early_makes_the_service_unready_and_is_asked_back(
    fresh_database_url: str,
) -> None:
    pool = await create_pool(fresh_database_url, max_size=2)
    try:
        await migrate(pool)
        root = KeyringKey.generate()
        one = base64.b64encode(secrets.token_bytes(32)).decode()
        rotated = Keyring(pool, root.with_wrapping(f"1:{one}", 1), ttl_seconds=0)
        await rotated.issue(ULNS)  # every stored key wrapped with key 1
        assert await rotated.ready()

        forgetful = Keyring(pool, root, ttl_seconds=0)  # key 1 taken out of LRS_KEYRING_WRAPPING_KEYS
        with pytest.raises(WrappingKeyNotGiven, match="wrapping key 1, which this service was not given"):
            await forgetful.ready()
        state = await forgetful.wrapping()  # counting opens nothing: the status still answers
        assert (state.keys_by_wrapping_key, state.to_rewrap, state.not_given) == ({1: 120}, 120, (1,))
        assert _wrapping_answer(state).model_dump() == {
            "wrap_with": 0,
            "keys_by_wrapping_key": {"1": 120},
            "to_rewrap": 120,
            "not_given": [1],
            "rewrapped": 0,
        }
        with pytest.raises(WrappingKeyNotGiven) as refused:
            await forgetful.rewrap(1_000)
        assert "add it back to LRS_KEYRING_WRAPPING_KEYS and restart" in str(refused.value)  # logged, not answered
        answer = keyring_problem(refused.value, _request("/v1/admin/keyring/rewrap"))
        problem = orjson.loads(answer.body)
        assert answer.status_code == 503 and problem["code"] == "KEYRING_UNAVAILABLE"
        assert "waiting alone will not mend it" in problem["detail"] and "retry-after" not in answer.headers
        assert "LRS_KEYRING" not in problem["detail"] and "wrapping key" not in problem["detail"]
        async with pool.acquire() as connection:
            assert await connection.fetchval("SELECT count(*) FROM learner_keys.keys WHERE wrapped_by = 1") == 120

        # given back (a restart), the service is ready and its status says nothing is missing
        restored = Keyring(pool, root.with_wrapping(f"1:{one}"), ttl_seconds=0)
        assert await restored.ready()
        assert (await restored.wrapping()).not_given == ()
        assert len(await restored.find(ULNS)) == len(ULNS)
    finally:
        await pool.close()


def _request(path: str) -> Request:
    return Request({"type": "http", "method": "POST", "path": path, "headers": [], "query_string": b""})
