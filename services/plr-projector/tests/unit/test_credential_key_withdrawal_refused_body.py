"""A credential key's withdrawal whose body is refused as it is read (not UTF-8, UTF-16, a key named twice, a lone
surrogate) is answered at once, 422, as every other route answers it: the route's check for a missing reason reads
no body a second time (it waited for the client to go away, and the operator's request hung)."""

from __future__ import annotations

import asyncio

import pytest

from .test_credential_key_withdrawal import WITHDRAW, KeysSeen, _client

JSON = {"content-type": "application/json"}

REFUSED_BODIES = [
    pytest.param('{"reason": "leak \u00a3"}'.encode("latin-1"), "MALFORMED_REQUEST", id="latin-1"),
    pytest.param('{"reason": "leak"}'.encode("utf-16"), "MALFORMED_REQUEST", id="utf-16"),
    pytest.param(b'{"reason": "a", "reason": "b"}', "MALFORMED_REQUEST", id="a-key-twice"),
    pytest.param(b'{"reason": "\\ud800"}', "INVALID_REQUEST", id="lone-surrogate"),
]


@pytest.mark.parametrize(("body", "code"), REFUSED_BODIES)
async def test_a_refused_body_is_answered_at_once(body: bytes, code: str) -> None:
    keys = KeysSeen()
    async with _client("operator:alex", keys) as client, asyncio.timeout(2):
        answer = await client.post(WITHDRAW, content=body, headers=JSON)

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == code
    assert "a reason is required" not in answer.json()["detail"]
    assert keys.asked == []


@pytest.mark.parametrize(("body", "code"), REFUSED_BODIES)
async def test_a_caller_who_may_not_withdraw_is_refused_first_at_once(body: bytes, code: str) -> None:
    keys = KeysSeen()
    async with _client("ao:RN5133", keys) as client, asyncio.timeout(2):
        answer = await client.post(WITHDRAW, content=body, headers=JSON)

    assert answer.status_code == 403, answer.text
    assert keys.asked == []
