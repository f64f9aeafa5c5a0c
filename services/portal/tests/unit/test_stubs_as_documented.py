"""The portal's tests answer it as the services document their answers (docs/openapi): a stub sending a key the
service renamed or dropped, or a value of another type, fails, as the portal would fail against the service."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import as_documented, undocumented

COMPARISON: dict[str, Any] = {
    "identical": False,
    "counts": {"live": {"achievements": 3}, "rebuilt": {"achievements": 2}},
    "learners_compared": 2,
    "learners_differing": 1,
    "differing_ulns_masked": ["******0043"],
    "global_checksums_differing": [],
    "compared_at": "2026-12-06T09:00:00+00:00",
}
COMPARE = httpx.Request("POST", "http://plr-projector/v1/admin/rebuild/compare")


def test_a_stubbed_answer_as_the_service_documents_it_passes() -> None:
    as_documented(COMPARE, httpx.Response(200, json=COMPARISON))
    as_documented(COMPARE, httpx.Response(200, json={"identical": True}))  # a stub sends what its test reads


def test_a_key_the_service_does_not_send_fails() -> None:
    renamed = {("differing" if key == "learners_differing" else key): value for key, value in COMPARISON.items()}
    with pytest.raises(AssertionError, match="'differing' was unexpected"):
        as_documented(COMPARE, httpx.Response(200, json=renamed))


def test_a_value_of_another_type_fails() -> None:
    with pytest.raises(AssertionError, match="learners_differing"):
        as_documented(COMPARE, httpx.Response(200, json=COMPARISON | {"learners_differing": "1"}))


def test_a_parked_message_of_every_service_is_checked_too() -> None:
    listing = httpx.Request("GET", "http://sandpit-ingest/v1/admin/dlq")
    as_documented(listing, httpx.Response(200, json={"parked": [{"id": 1, "consumer": "ingest"}], "total": 1}))
    with pytest.raises(AssertionError, match="'learner' was unexpected"):  # the projector's, not the services'
        as_documented(listing, httpx.Response(200, json={"parked": [{"learner": "9990000043"}], "total": 1}))


def test_a_route_or_status_the_service_does_not_have_fails() -> None:
    with pytest.raises(AssertionError, match="has no GET /v1/admin/rebuild/comparison"):
        as_documented(
            httpx.Request("GET", "http://plr-projector/v1/admin/rebuild/comparison"),
            httpx.Response(200, json=COMPARISON),
        )
    with pytest.raises(AssertionError, match="does not document 418"):
        as_documented(COMPARE, httpx.Response(418, json={"title": "I'm a teapot", "status": 418}))


def test_an_answer_undocumented_on_purpose_is_not_checked() -> None:
    as_documented(COMPARE, undocumented(httpx.Response(200, json={"identical": "perhaps"})))
