"""The account API (`POST /v1/admin/users`, behind `lrs users create`) names the body field each fault is about
(`body.email: …`), every fault at once, as every service names a field it refuses: the CLI then says its option
(`--ao`, `--email`). An AO id sent in the wrong form is said as one, not as one missing. The form's words stay."""

from __future__ import annotations

import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal
from services.portal.tests.unit.test_first_password_links import BEARER, OperatorKeys

from portal.accounts import Role

STAFF = {"username": "codes.test", "display_name": "Codes Test", "role": "ao"}


@pytest.fixture
def portal() -> StubbedPortal:
    portal = stubbed_portal()
    portal.app.state.credentials = OperatorKeys()
    return portal


def test_every_fault_is_named_by_its_field(portal: StubbedPortal) -> None:
    refused = portal.client().post(
        "/v1/admin/users", json={**STAFF, "ao_id": "2026-02-30", "email": "2026-02-30"}, headers=BEARER
    )

    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert (problem["title"], problem["code"]) == ("Invalid account", "INVALID_REQUEST")
    assert problem["detail"] == (
        "body.ao_id: an AO id is RN followed by 1 to 8 digits, e.g. RN9093; "
        "body.email: Enter an email address in the correct format, like name@example.org"
    )
    assert "codes.test" not in portal.accounts.rows


def test_an_ao_not_in_the_register_is_named_with_the_address_at_fault(portal: StubbedPortal) -> None:
    refused = portal.client().post("/v1/admin/users", json={**STAFF, "ao_id": "RN12", "email": "nope"}, headers=BEARER)

    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert detail.startswith("body.ao_id: RN12 is not an awarding organisation in the register")
    assert "; body.email: Enter an email address in the correct format" in detail


def test_an_ao_user_sent_without_an_ao_id_is_told_it_needs_one(portal: StubbedPortal) -> None:
    refused = portal.client().post("/v1/admin/users", json=STAFF, headers=BEARER)

    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"] == "body.ao_id: An AO user needs the AO's recognition number, like RN9037"


def test_a_new_address_is_named_by_its_field(portal: StubbedPortal) -> None:
    created = portal.client().post("/v1/admin/users", json={**STAFF, "ao_id": "RN9093"}, headers=BEARER)
    assert created.status_code == 201, created.text

    refused = portal.client().put("/v1/admin/users/codes.test/email", json={"email": "nope"}, headers=BEARER)

    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"].startswith("body.email: Enter an email address in the correct format")


def test_the_forms_words_are_as_they_were(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)

    page = client.post("/ops/accounts", data=form(session, **STAFF, ao_id="2026-02-30", email=""))

    assert page.status_code == 400
    assert "An AO user needs the AO&#39;s recognition number, like RN9037." in page.text
    assert "body.ao_id" not in page.text
