"""An AO user's account and an AO's API key are made only for an awarding organisation in the register:
for any other well-formed number (a mistyped one) they would reach nothing."""

from __future__ import annotations

import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal
from services.portal.tests.unit.test_first_password_links import BEARER, OperatorKeys

from portal.accounts import Role

UNREGISTERED = "RN0000"
STAFF = {"username": "nia", "display_name": "Nia Jones", "role": "ao", "email": ""}


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def test_the_accounts_page_makes_no_account_or_key_for_an_ao_not_in_the_register(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)

    account = client.post("/ops/accounts", data=form(session, **STAFF, ao_id=UNREGISTERED))
    key = client.post("/ops/keys", data=form(session, key_ao_id=UNREGISTERED, label="results system"))
    registered = client.post("/ops/accounts", data=form(session, **STAFF, ao_id="RN9093"))

    assert account.status_code == 400 and 'id="ao_id-error"' in account.text
    assert "RN0000 is not an awarding organisation in the register: check the number." in account.text
    assert key.status_code == 400 and 'id="key_ao_id-error"' in key.text
    assert "RN0000 is not an awarding organisation in the register" in key.text
    assert registered.status_code == 303
    assert set(portal.accounts.rows) == {session.account.username, "nia"}
    assert f"ao:{UNREGISTERED}" not in {str(principal) for principal in portal.keys.live.values()}
    assert [change.change.value for change in portal.accounts.changed if change.subject == "nia"] == ["created"]


def test_the_api_refuses_an_account_for_an_ao_not_in_the_register(portal: StubbedPortal) -> None:
    portal.app.state.credentials = OperatorKeys()

    refused = portal.client().post("/v1/admin/users", json={**STAFF, "ao_id": UNREGISTERED}, headers=BEARER)

    assert refused.status_code == 422
    assert "RN0000 is not an awarding organisation in the register" in refused.json()["detail"]
    assert "nia" not in portal.accounts.rows


def test_a_number_in_lower_case_is_the_aos_own(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)

    account = client.post("/ops/accounts", data=form(session, **STAFF, ao_id="rn9093"))
    key = client.post("/ops/keys", data=form(session, key_ao_id="rn9093", label="results system"))

    assert account.status_code == 303 and key.status_code == 303
    assert portal.accounts.rows["nia"][0].ao_id == "RN9093"
    assert "ao:RN9093" in {str(principal) for principal in portal.keys.live.values()}


def test_a_key_is_not_given_the_label_that_marks_a_persons_session_key(portal: StubbedPortal) -> None:
    """A key labelled "portal session: …" by hand would be hidden from the key lists, the revocation and a rotation."""
    client, session = portal.signed_in(Role.OPERATOR)

    key = client.post("/ops/keys", data=form(session, key_ao_id="RN9093", label="portal session: nightly sync"))

    assert key.status_code == 400 and 'id="label-error"' in key.text
    assert "marks the portal&#39;s session keys" in key.text or "marks the portal's session keys" in key.text
    assert "ao:RN9093" not in {str(principal) for principal in portal.keys.live.values()}
