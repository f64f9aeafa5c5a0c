"""A body sent to a JSON route with another Content-Type (or none) is told 415 UNSUPPORTED_MEDIA_TYPE, saying to
send it as JSON: not FastAPI's "Input should be a valid dictionary" about bytes it never read as JSON. Whether
FastAPI reads the body into a model or the route reads it itself, and only after the route's dependencies have
run, so that a caller without a key is still told 401 first."""

from __future__ import annotations

from typing import Annotated

import httpx
import pytest
from fastapi import Depends, Request
from pydantic import BaseModel

from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.problems import ProblemError, invalid_request

JSON_NOTE = b'{"text": "hello"}'


class Note(BaseModel):
    text: str


async def _key(request: Request) -> str:
    if "authorization" not in request.headers:
        raise ProblemError(401, "Unauthenticated", "No API key.")
    return request.headers["authorization"]


Key = Annotated[str, Depends(_key)]


def _client(*, key: bool = True) -> httpx.AsyncClient:
    app = build_app("json", title="JSON", description="", lifespan=noop_lifespan)

    @app.post("/v1/notes")
    async def add_note(note: Note, _key: Key) -> dict[str, int]:
        return {"length": len(note.text)}

    @app.post(
        "/v1/read-notes",
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {}}}}},
    )
    async def read_note(request: Request, _key: Key) -> dict[str, int]:
        note = Note.model_validate_json(await request.body())
        return {"length": len(note.text)}

    @app.post(
        "/v1/files",
        openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}},
    )
    async def take_file(request: Request) -> dict[str, int]:
        return {"length": len(await request.body())}

    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://json", headers={"Authorization": "Bearer k"} if key else {}
    )


@pytest.mark.parametrize("path", ["/v1/notes", "/v1/read-notes"])
@pytest.mark.parametrize(
    ("content_type", "body"),
    [("text/plain", JSON_NOTE), ("application/x-www-form-urlencoded", b"text=hello"), (None, JSON_NOTE)],
    ids=["text-plain", "form", "no-content-type"],
)
async def test_a_body_not_labelled_json_is_415_saying_to_send_json(
    path: str, content_type: str | None, body: bytes
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    async with _client() as client:
        answer = await client.post(path, content=body, headers=headers)
    assert answer.status_code == 415, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert problem["type"] == "/problems/UNSUPPORTED_MEDIA_TYPE"
    assert "Content-Type: application/json" in problem["detail"]
    assert "dictionary" not in problem["detail"]


@pytest.mark.parametrize("path", ["/v1/notes", "/v1/read-notes"])
async def test_json_labelled_json_is_read_and_a_caller_without_a_key_is_told_401_first(path: str) -> None:
    async with _client() as client:
        read = await client.post(path, content=JSON_NOTE, headers={"Content-Type": "application/json; charset=utf-8"})
        vendor = await client.post(path, content=JSON_NOTE, headers={"Content-Type": "application/merge-patch+json"})
    async with _client(key=False) as client:
        anonymous = await client.post(path, content=JSON_NOTE, headers={"Content-Type": "text/plain"})
    assert (read.status_code, read.json()) == (200, {"length": 5})
    assert vendor.status_code == 200
    assert anonymous.status_code == 401, anonymous.text


@pytest.mark.parametrize("unreadable", [b'{"text": ', b'{"text": "\xff"}'], ids=["cut-short", "not-utf-8"])
async def test_a_body_that_is_not_json_at_all_is_described_only_to_a_caller_the_route_takes(unreadable: bytes) -> None:
    """FastAPI parses a JSON body before it solves the route's dependencies; the key is still checked first."""
    labelled = {"Content-Type": "application/json"}
    async with _client(key=False) as client:
        anonymous = await client.post("/v1/notes", content=unreadable, headers=labelled)
    async with _client() as client:
        keyed = await client.post("/v1/notes", content=unreadable, headers=labelled)
    assert (anonymous.status_code, anonymous.json()["detail"]) == (401, "No API key."), anonymous.text
    assert (keyed.status_code, keyed.json()["code"]) == (422, "MALFORMED_REQUEST"), keyed.text


async def test_a_route_taking_another_media_type_is_not_refused() -> None:
    async with _client() as client:
        csv = await client.post("/v1/files", content=b"a,b\n", headers={"Content-Type": "text/csv"})
        unlabelled = await client.post("/v1/files", content=b"a,b\n")
    assert [csv.status_code, unlabelled.status_code] == [200, 200]


def test_the_portals_api_words_an_unread_body_as_415_too() -> None:
    """The portal answers its API's validation errors with `invalid_request` itself."""
    issues = [{"type": "model_attributes_type", "loc": ("body",), "msg": "Input should be…", "input": JSON_NOTE}]
    problem = invalid_request(issues)
    assert (problem.status, problem.code) == (415, "UNSUPPORTED_MEDIA_TYPE")
    parsed = [{"type": "missing", "loc": ("body", "text"), "msg": "Field required", "input": {}}]
    assert invalid_request(parsed).status == 422
