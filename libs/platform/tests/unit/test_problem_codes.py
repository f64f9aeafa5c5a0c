"""Every problem a service answers carries a code a client can act on (decision 0136): the route's own, or the one
its HTTP status says — including the answers FastAPI and Starlette make themselves, and a body that is not UTF-8."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import HTTPException
from pydantic import BaseModel

from lrs_contracts.codes import CODES_BY_STATUS, PROBLEM_CODE_EXPLANATIONS, ProblemCode
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.problems import Problem, ProblemError


class Note(BaseModel):
    text: str


def _client() -> httpx.AsyncClient:
    app = build_app("coded", title="Coded", description="", lifespan=noop_lifespan)

    @app.post("/v1/notes")
    async def note(body: Note) -> dict[str, int]:
        return {"length": len(body.text)}

    @app.get("/v1/notes/{number}")
    async def one_note(number: int) -> dict[str, int]:
        if number == 403:
            raise ProblemError(403, "Forbidden", "Not yours.")
        if number == 410:
            raise HTTPException(404, "No such note")
        if number == 22:
            raise asyncpg.DataError("invalid byte sequence for encoding UTF8: 0x00 in 'a\x00b'")
        return {"number": number}

    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://coded")


async def _problem(response: httpx.Response) -> dict[str, object]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    body: dict[str, object] = response.json()
    assert body["type"] == f"/problems/{body['code']}", body
    return body


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b'{"text": "caf\xe9"}', "byte 0xE9"),
        (b'{"text": "\xff\xfe"}', "byte 0xFF"),
        (b"\xef\xbb\xbf\x80", "byte 0x80"),
        (b'\x00{"text": "x"}!', "it"),  # its first bytes look like UTF-16
    ],
    ids=["latin-1", "invalid-bytes", "bom-then-continuation", "utf-16-like"],
)
async def test_a_body_that_is_not_utf8_is_the_documented_422_malformed_request(body: bytes, named: str) -> None:
    """As a body that is not JSON at all (`{`) is, not a 400 no route documents."""
    async with _client() as client:
        answer = await client.post("/v1/notes", content=body, headers={"content-type": "application/json"})

    problem = await _problem(answer)
    assert (answer.status_code, problem["code"], problem["title"]) == (422, "MALFORMED_REQUEST", "Invalid request")
    assert problem["detail"] == f"the request body is not valid JSON ({named} is not UTF-8): send JSON in UTF-8"
    assert problem["instance"] == "/v1/notes"


async def test_json_that_does_not_parse_is_malformed_and_json_breaking_the_schema_is_invalid() -> None:
    async with _client() as client:
        unparsed = await client.post("/v1/notes", content=b'{"text": ', headers={"content-type": "application/json"})
        missing = await client.post("/v1/notes", json={"words": "hello"})
        mistyped = await client.get("/v1/notes/seven")

    assert (unparsed.status_code, (await _problem(unparsed))["code"]) == (422, "MALFORMED_REQUEST")
    missing_problem = await _problem(missing)
    assert (missing.status_code, missing_problem["code"]) == (422, "INVALID_REQUEST")
    assert "body.text: Field required" in str(missing_problem["detail"])
    assert (await _problem(mistyped))["code"] == "INVALID_REQUEST"


async def test_answers_without_a_code_of_their_own_carry_their_status_code() -> None:
    async with _client() as client:
        unknown = await client.get("/v1/nowhere")
        wrong_method = await client.delete("/v1/notes")
        forbidden = await client.get("/v1/notes/403")

    assert (unknown.status_code, (await _problem(unknown))["code"]) == (404, "NOT_FOUND")
    assert (wrong_method.status_code, (await _problem(wrong_method))["code"]) == (405, "METHOD_NOT_ALLOWED")
    forbidden_problem = await _problem(forbidden)
    assert (forbidden.status_code, forbidden_problem["code"], forbidden_problem["detail"]) == (
        403,
        "FORBIDDEN",
        "Not yours.",
    )


async def test_an_address_no_route_answers_says_so_and_names_the_sandpits_services_for_a_sandpit_route() -> None:
    async with _client() as client:
        unknown = await client.get("/v1/nowhere")
        sandpit = await client.post("/v1/sandpit/reset", json={})
        gone = await client.get("/v1/notes/410")  # a route's own 404 is not an unknown address

    assert (await _problem(unknown))["detail"] == (
        "No route answers this address on this service: check the address against its OpenAPI (/openapi.json)."
    )
    sandpit_problem = await _problem(sandpit)
    assert sandpit.status_code == 404 and "LRS_SANDPIT_INGEST_URL" in str(sandpit_problem["detail"])
    assert (gone.status_code, (await _problem(gone)).get("detail")) == (404, None)


async def test_a_value_postgresql_cannot_store_is_named_by_its_code_and_not_repeated() -> None:
    async with _client() as client:
        refused = await client.get("/v1/notes/22")

    problem = await _problem(refused)
    assert (refused.status_code, problem["code"]) == (422, "VALUE_NOT_STORABLE")
    assert "a\x00b" not in refused.text


def test_every_status_code_is_explained_and_a_routes_own_code_wins() -> None:
    for status, code in CODES_BY_STATUS.items():
        assert code in PROBLEM_CODE_EXPLANATIONS, code
        assert Problem(status=status, title="t").code == code
    assert Problem(status=403, title="t", code=ProblemCode.PROVIDER_NOT_LINKED).code == "PROVIDER_NOT_LINKED"
    assert Problem(status=418, title="I'm a teapot").type == "about:blank"


async def test_a_body_that_is_not_json_is_said_so_in_words_with_where_it_stopped() -> None:
    """Not "body.9: JSON decode error": a person reads what is wrong and where."""
    async with _client() as client:
        answer = await client.post("/v1/notes", content=b'{"text": ', headers={"content-type": "application/json"})

    detail = str((await _problem(answer))["detail"])
    assert detail == "the request body is not valid JSON (Expecting value, at character 10): send a JSON object"
    assert "decode error" not in detail


def test_a_body_pydantic_could_not_parse_names_its_line_and_column() -> None:
    from pydantic import BaseModel, ValidationError

    from lrs_platform.problems import invalid_request

    class Note(BaseModel):
        text: str

    with pytest.raises(ValidationError) as raised:
        Note.model_validate_json(b'{"text": "a",')
    problem = invalid_request(raised.value.errors(), within=("body",))
    assert problem.code == "MALFORMED_REQUEST"
    assert problem.detail == (
        "the request body is not valid JSON (EOF while parsing a value at line 1 column 13): send a JSON object"
    )


def test_a_text_too_long_beside_none_is_counted_in_characters_not_items() -> None:
    from pydantic import BaseModel, Field, ValidationError

    from lrs_contracts.text import StorableText
    from lrs_platform.problems import invalid_request

    class Resolution(BaseModel):
        note: StorableText | None = Field(default=None, max_length=5)

    with pytest.raises(ValidationError) as raised:
        Resolution.model_validate({"note": "ninety"})
    problem = invalid_request(raised.value.errors(), within=("body",))
    assert problem.detail == "body.note: String should have at most 5 characters, not 6"
