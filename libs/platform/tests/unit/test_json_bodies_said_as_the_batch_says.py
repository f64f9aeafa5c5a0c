"""A JSON body's bytes are judged at every service's door as ingest's batch reader judges a JSON file's, alike for a
route reading its body into a model and one reading it itself (validation's `POST /v1/learners`): a UTF-8 byte order
mark before the JSON is left out; UTF-16, UTF-32 and a byte that is not UTF-8 are named as such; and valid JSON
holding a value no route can take (a lone surrogate escape, a number of thousands of digits) is said so, naming where,
not called "not valid JSON"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, Request
from pydantic import BaseModel

from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.problems import ProblemError


class Learner(BaseModel):
    given_name: str
    credits: int | None = None
    notes: list[dict[str, str]] = []


async def _key(request: Request) -> str:
    if "authorization" not in request.headers:
        raise ProblemError(401, "Unauthenticated", "No API key.")
    return request.headers["authorization"]


def _client(*, key: bool = True) -> httpx.AsyncClient:
    app = build_app("json", title="JSON", description="", lifespan=noop_lifespan)

    @app.post("/v1/into-a-model")
    async def into_a_model(body: Learner, _key: Annotated[str, Depends(_key)]) -> dict[str, str]:
        return {"given_name": body.given_name}

    @app.post(
        "/v1/read-itself",
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {}}}}},
    )
    async def read_itself(request: Request, _key: Annotated[str, Depends(_key)]) -> dict[str, str]:
        return {"given_name": Learner.model_validate_json(await request.body()).given_name}

    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://json", headers={"Authorization": "Bearer k"} if key else {}
    )


ROUTES = ["/v1/into-a-model", "/v1/read-itself"]
JSON = {"Content-Type": "application/json"}


async def _refused(path: str, body: bytes) -> dict[str, object]:
    async with _client() as client:
        answer = await client.post(path, content=body, headers=JSON)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem: dict[str, object] = answer.json()
    assert problem["instance"] == path
    return problem


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize(
    ("body", "where", "what"),
    [
        (b'{"given_name": "Li\\ud800ly"}', "body.given_name", "holds a lone surrogate (U+D800) at character 3"),
        (b'{"given_name": "Li\\uDC00"}', "body.given_name", "holds a lone surrogate (U+DC00) at character 3"),
        (
            b'{"given_name": "Ann", "notes": [{"a": "b"}, {"by": "x\\udfff"}]}',
            "body.notes.1.by",
            "holds a lone surrogate (U+DFFF) at character 2",
        ),
        (b'{"given_name": "Ann", "k\\ud800": 1}', "body", "a key holds a lone surrogate (U+D800) at character 2"),
    ],
    ids=["high", "low", "nested", "key"],
)
async def test_a_lone_surrogate_escape_is_a_value_that_cannot_be_stored_not_invalid_json(
    path: str, body: bytes, where: str, what: str
) -> None:
    problem = await _refused(path, body)

    assert problem["code"] == "INVALID_REQUEST"
    assert problem["detail"] == f"{where}: {what}, which has no UTF-8 form"
    assert "not valid JSON" not in str(problem["detail"])


async def test_a_pair_of_surrogate_escapes_is_one_character_and_taken() -> None:
    async with _client() as client:
        for path in ROUTES:
            answer = await client.post(path, content=b'{"given_name": "Ann \\ud83d\\ude00"}', headers=JSON)
            assert answer.json() == {"given_name": "Ann \U0001f600"}, path


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize(
    ("number", "digits"),
    [(b"9" * 5_000, "5,000"), (b"-" + b"1" * 4_301, "4,301"), (b"1" + b"0" * 5_000 + b".5", "5,002")],
    ids=["whole", "negative", "fraction"],
)
async def test_a_number_of_thousands_of_digits_is_too_long(path: str, number: bytes, digits: str) -> None:
    problem = await _refused(path, b'{"given_name": "Ann", "credits": ' + number + b"}")

    assert problem["code"] == "INVALID_REQUEST"
    assert problem["detail"] == f"body.credits: a number of {digits} digits is too long"


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize(
    ("body", "said"),
    [
        ('\ufeff{"given_name": "Ann"}'.encode("utf-16-le"), "the request body is UTF-16, not UTF-8"),
        ('\ufeff{"given_name": "Ann"}'.encode("utf-16-be"), "the request body is UTF-16, not UTF-8"),
        ('{"given_name": "Ann"}'.encode("utf-16-le"), "the request body looks like UTF-16 without a byte order mark"),
        ('{"given_name": "Ann"}'.encode("utf-32"), "the request body is UTF-32, not UTF-8"),
        (b'\xef\xbb\xbf\xef\xbb\xbf{"given_name": "Ann"}', "the request body starts with a second byte order mark"),
        ('{"given_name": "Siân"}'.encode("latin-1"), "(byte 0xE2 is not UTF-8)"),
        (b'{"given_name": "Li\xed\xa0\x80ly"}', "(byte 0xED is not UTF-8)"),  # a surrogate's bytes (CESU-8)
    ],
    ids=["utf-16le-bom", "utf-16be-bom", "utf-16-no-bom", "utf-32", "two-boms", "latin-1", "surrogate-bytes"],
)
async def test_a_body_in_another_encoding_is_named_so(path: str, body: bytes, said: str) -> None:
    problem = await _refused(path, body)

    assert problem["code"] == "MALFORMED_REQUEST"
    assert said in str(problem["detail"])
    assert "send JSON in UTF-8" in str(problem["detail"]) or "save it as UTF-8 once" in str(problem["detail"])


async def test_a_utf8_byte_order_mark_before_the_json_is_left_out_as_a_batchs_is() -> None:
    async with _client() as client:
        for path in ROUTES:
            answer = await client.post(path, content=b'\xef\xbb\xbf{"given_name": "Ann"}', headers=JSON)
            assert answer.json() == {"given_name": "Ann"}, path


async def test_a_body_sent_in_pieces_is_read_whole() -> None:
    async def pieces() -> AsyncIterator[bytes]:
        yield b"\xef\xbb"
        yield b'\xbf{"given_name": '
        yield b'"Ann"}'

    async with _client() as client:
        for path in ROUTES:
            answer = await client.post(path, content=pieces(), headers=JSON)
            assert answer.json() == {"given_name": "Ann"}, path


@pytest.mark.parametrize("body", [b'{"given_name": "Li\\ud800ly"}', '{"a": 1}'.encode("utf-16")])
async def test_a_caller_the_route_refuses_is_told_that_first(body: bytes) -> None:
    async with _client(key=False) as client:
        for path in ROUTES:
            answer = await client.post(path, content=body, headers=JSON)
            assert answer.status_code == 401, (path, answer.text)
