"""A password-setting link's address holds its token, so no answer at that address, its error pages included, lets
the browser send the address on as a Referer: the pages and files they load go through the portal's logged Ingress
(decision 0128's later notes)."""

from __future__ import annotations

import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal

from portal.csrf import FIELD


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal(sends_reset_links=True)


@pytest.mark.parametrize("form_token", ["stale-or-forged", None])
def test_a_refused_form_at_a_link_address_sends_its_address_to_no_one(
    portal: StubbedPortal, form_token: str | None
) -> None:
    values = {"new_password": "correct horse battery staple", "new_password_again": "correct horse battery staple"}
    if form_token is not None:
        values[FIELD] = form_token

    refused = portal.client().post("/account/reset/a-token-still-valid", data=values)

    assert refused.status_code >= 400
    assert refused.headers["Referrer-Policy"] == "no-referrer"


def test_other_pages_keep_the_same_origin_policy(portal: StubbedPortal) -> None:
    page = portal.client().get("/account/forgotten-password")

    assert page.headers["Referrer-Policy"] == "same-origin"
