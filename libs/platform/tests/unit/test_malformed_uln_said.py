"""A ULN FastAPI refuses for its form (a space, a leading zero, 9 or 11 digits, in the path, the query or a body) is
answered 422 RV001 in the words a ULN asked about is refused in (`why_no_learner_has`), as a wrong check digit is
RV002: not INVALID_REQUEST quoting the pattern's regular expression. Where it was is named; the value never is."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import Path, Query
from pydantic import BaseModel, Field, StringConstraints

from lrs_contracts.identifiers import ULN_PATTERN
from lrs_domain.rules import why_no_learner_has
from lrs_platform.http import build_app, noop_lifespan

RV001_SAID = why_no_learner_has("0")
assert RV001_SAID is not None


class Merge(BaseModel):
    master_uln: str = Field(pattern=ULN_PATTERN)
    merged_uln: str = Field(pattern=ULN_PATTERN)
    reason: str = Field(min_length=1)


class Report(BaseModel):
    uln: str = Field(pattern=ULN_PATTERN)


def _client() -> httpx.AsyncClient:
    app = build_app("uln", title="ULN", description="", lifespan=noop_lifespan)

    @app.get("/v1/learners/{uln}/plr")
    async def plr(uln: Annotated[str, Path(pattern=ULN_PATTERN)]) -> dict[str, str]:
        return {"uln": uln}

    @app.get("/v1/challenges")
    async def challenges(
        uln: Annotated[list[Annotated[str, StringConstraints(pattern=ULN_PATTERN)]] | None, Query()] = None,
        ao_id: Annotated[str | None, Query(pattern=r"^R[A-Z0-9]{5}$")] = None,
    ) -> dict[str, int]:
        return {"ulns": len(uln or [])}

    @app.post("/v1/centre/achievements")
    async def report(body: Report) -> dict[str, str]:
        return {"uln": body.uln}

    @app.post("/v1/merge")
    async def merge(body: Merge) -> dict[str, str]:
        return {"master": body.master_uln}

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://uln")


def _assert_rv001(answer: httpx.Response, where: str, value: str, detail: str | None = None) -> None:
    assert RV001_SAID is not None
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = answer.json()
    assert (problem["code"], problem["type"], problem["title"]) == ("RV001", "/problems/RV001", "Invalid ULN")
    assert problem["detail"] == (detail or f"{where}: {RV001_SAID.reason}")
    assert "pattern" not in problem["detail"]
    # a ULN is personal data: never repeated (`instance`, the path the caller asked for, holds one in the path)
    assert value.strip() not in problem["detail"]


@pytest.mark.parametrize("uln", [" 1000000043", "01000000043", "100000004", "10000000431", "1000000043 ", "abc"])
async def test_a_malformed_uln_in_the_path_is_rv001(uln: str) -> None:
    async with _client() as client:
        answer = await client.get(f"/v1/learners/{uln}/plr")
    _assert_rv001(answer, "path.uln", uln)


async def test_a_malformed_uln_in_a_query_list_is_rv001_naming_its_place() -> None:
    async with _client() as client:
        answer = await client.get("/v1/challenges", params=[("uln", "1000000043"), ("uln", "1000000051 ")])
    _assert_rv001(answer, "query.uln.1", "1000000051")


@pytest.mark.parametrize("uln", ["5000000004\n", "0500000000", "500000000"])
async def test_a_malformed_uln_in_a_body_is_rv001(uln: str) -> None:
    async with _client() as client:
        answer = await client.post("/v1/centre/achievements", json={"uln": uln})
    _assert_rv001(answer, "body.uln", uln)


async def test_every_malformed_uln_of_a_body_is_named() -> None:
    async with _client() as client:
        answer = await client.post(
            "/v1/merge", json={"master_uln": "0123456789", "merged_uln": "123456789", "reason": "twins"}
        )
    assert RV001_SAID is not None
    said = f"body.master_uln: {RV001_SAID.reason}; body.merged_uln: {RV001_SAID.reason}"
    _assert_rv001(answer, "body", "123456789", said)


async def test_with_another_error_the_answer_stays_invalid_request_and_the_uln_is_still_said_in_words() -> None:
    async with _client() as client:
        answer = await client.get("/v1/challenges", params={"uln": "0123456789", "ao_id": "bogus"})
    assert RV001_SAID is not None
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert (problem["code"], problem["title"]) == ("INVALID_REQUEST", "Invalid request")
    assert problem["detail"] == (
        f"query.uln.0: {RV001_SAID.reason}; query.ao_id: String should match pattern '^R[A-Z0-9]{{5}}$'"
    )
    assert "0123456789" not in answer.text


async def test_a_well_formed_uln_and_other_errors_are_answered_as_before() -> None:
    async with _client() as client:
        fine = await client.get("/v1/learners/1000000043/plr")
        number = await client.post("/v1/centre/achievements", json={"uln": 1000000043})
        other = await client.post(
            "/v1/merge", json={"master_uln": "1000000043", "merged_uln": "1000000051", "reason": ""}
        )
    assert fine.json() == {"uln": "1000000043"}
    assert (number.status_code, number.json()["code"]) == (422, "INVALID_REQUEST")
    assert number.json()["detail"] == "body.uln: Input should be a valid string"
    assert (other.status_code, other.json()["code"]) == (422, "INVALID_REQUEST")
    assert other.json()["detail"].startswith("body.reason: String should have at least 1 character")
