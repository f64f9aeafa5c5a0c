"""A failure nothing else handles is a page a person can read, naming nothing of the failure."""

from __future__ import annotations

import uuid

import httpx
from services.portal.tests.unit.stubbed_portal import stubbed_portal


def test_an_unexpected_failure_behind_a_page_is_a_page_saying_so() -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in()
    challenge_id = uuid.uuid4()

    def broken(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a bug holding 1000000043")

    portal.on("GET", f"challenges/v1/challenges/{challenge_id}", broken)

    page = client.get(f"/challenges/{challenge_id}")

    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert "Sorry, something went wrong" in page.text
    assert "1000000043" not in page.text and "RuntimeError" not in page.text


def test_the_portals_database_away_is_the_try_again_page_with_retry_after() -> None:
    portal = stubbed_portal()
    client, _ = portal.signed_in()

    async def database_away(*_: object, **__: object) -> None:
        raise ConnectionRefusedError(111, "Connect call failed")

    portal.auth.session_for = database_away  # type: ignore[method-assign]

    page = client.get("/batches")

    assert page.status_code == 503
    assert page.headers["retry-after"] == "5"
    assert page.headers["content-type"].startswith("text/html")
    assert "Sorry, there is a problem with the service" in page.text
    assert "ConnectionRefusedError" not in page.text
