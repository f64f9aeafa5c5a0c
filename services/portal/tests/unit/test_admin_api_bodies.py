"""The admin API answers a body it cannot read as every service does (`lrs_platform.http.http_problem`): one that
is not UTF-8 is the documented 422 MALFORMED_REQUEST, said in words, not Starlette's bare 400 "There was an error
parsing the body"; one over the route's limit is REQUEST_TOO_LARGE, naming the limit."""

from __future__ import annotations

import pytest
from services.portal.tests.unit.stubbed_portal import OperatorKey, StubbedPortal, stubbed_portal

from lrs_platform.http import DEFAULT_BODY_BYTES

BEARER = {"Authorization": "Bearer lrs_k_s"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def portal() -> StubbedPortal:
    portal = stubbed_portal()
    portal.app.state.credentials = OperatorKey()
    return portal


def test_a_body_that_is_not_utf8_is_422_malformed_request(portal: StubbedPortal) -> None:
    answer = portal.client().post("/v1/admin/users", content=b'{"reason": "\xff"}', headers={**BEARER, **JSON})

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert (problem["code"], problem["title"]) == ("MALFORMED_REQUEST", "Invalid request")
    assert problem["detail"] == "the request body is not valid JSON (byte 0xFF is not UTF-8): send JSON in UTF-8"
    assert portal.accounts.rows == {}


def test_a_body_streamed_past_the_limit_is_request_too_large(portal: StubbedPortal) -> None:
    """Sent without a Content-Length, it is refused as FastAPI reads past the limit, through the handler."""
    parts = iter([b"[", b" " * DEFAULT_BODY_BYTES, b"]"])
    answer = portal.client().post("/v1/admin/users", content=parts, headers={**BEARER, **JSON})

    problem = answer.json()
    assert (answer.status_code, problem["code"]) == (413, "REQUEST_TOO_LARGE")
    assert f"({DEFAULT_BODY_BYTES:,} bytes)" in problem["detail"]


def test_a_caller_without_a_key_is_told_401_before_the_body_is_described(portal: StubbedPortal) -> None:
    answer = portal.client().post("/v1/admin/users", content=b'{"reason": "\xff"}', headers=JSON)

    assert (answer.status_code, answer.json()["code"]) == (401, "UNAUTHENTICATED"), answer.text
