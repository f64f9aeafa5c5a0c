"""Decision 0122: a key limited to `accounts` manages AO staff's accounts, but hands out no operator power
(an operator account signs in with all of it)."""

from __future__ import annotations

import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal

from lrs_contracts.environments import Environment
from lrs_platform.identity import Principal
from portal.accounts import Role

ACCOUNT = {"display_name": "Nia", "email": None}
BEARER = {"Authorization": "Bearer lrs_k_s"}


class ScopedOperatorKeys:
    environment = Environment.LIVE

    def __init__(self, scopes: frozenset[str]) -> None:
        self.scopes = scopes

    async def authenticate(self, token: str) -> Principal:
        return Principal.parse("operator:accounts-desk", self.scopes)


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def test_an_accounts_key_makes_ao_staff_accounts_but_no_operator_account(portal: StubbedPortal) -> None:
    portal.app.state.credentials = ScopedOperatorKeys(frozenset({"accounts"}))
    client = portal.client()

    staff = client.post(
        "/v1/admin/users", json={**ACCOUNT, "username": "nia", "role": "ao", "ao_id": "RN5133"}, headers=BEARER
    )
    operator = client.post("/v1/admin/users", json={**ACCOUNT, "username": "root2", "role": "operator"}, headers=BEARER)

    assert staff.status_code == 201, staff.text
    assert operator.status_code == 403
    assert operator.json()["code"] == "OPERATOR_SCOPE_MISSING"
    assert set(portal.accounts.rows) == {"nia"}


def test_an_accounts_key_resets_staff_passwords_but_not_an_operators(portal: StubbedPortal) -> None:
    portal.app.state.credentials = ScopedOperatorKeys(frozenset())  # unscoped: makes both accounts
    client = portal.client()
    for username, role in (
        ("nia", {"role": "ao", "ao_id": "RN5133"}),
        ("ops1", {"role": "operator", "every_duty": True}),
    ):
        assert (
            client.post("/v1/admin/users", json={**ACCOUNT, "username": username, **role}, headers=BEARER).status_code
            == 201
        )

    portal.app.state.credentials = ScopedOperatorKeys(frozenset({"accounts"}))
    assert client.post("/v1/admin/users/nia/reset-password", headers=BEARER).status_code == 200
    refused = client.post("/v1/admin/users/ops1/reset-password", headers=BEARER)
    assert (refused.status_code, refused.json()["code"]) == (403, "OPERATOR_SCOPE_MISSING")
    assert "password" not in refused.json()
    portal.account("ops2", Role.OPERATOR)  # not the last accounts operator, whose disabling is refused
    assert client.post("/v1/admin/users/ops1/disable", headers=BEARER).status_code == 200  # taking power away


def test_an_accounts_key_sets_staff_email_addresses_but_not_an_operators(portal: StubbedPortal) -> None:
    """Decision 0128: the address receives the links that set the account's password."""
    portal.account("nia")
    portal.account("ops1", Role.OPERATOR, email="ops1@lrs.example")
    portal.app.state.credentials = ScopedOperatorKeys(frozenset({"accounts"}))
    client = portal.client()

    staff = client.put("/v1/admin/users/nia/email", json={"email": "nia@ao.example"}, headers=BEARER)
    operator = client.put("/v1/admin/users/ops1/email", json={"email": "mine@evil.example"}, headers=BEARER)
    malformed = client.put("/v1/admin/users/nia/email", json={"email": "nia at ao"}, headers=BEARER)
    removed = client.put("/v1/admin/users/nia/email", json={"email": None}, headers=BEARER)
    unknown = client.put("/v1/admin/users/nobody/email", json={"email": None}, headers=BEARER)

    assert staff.status_code == 200 and staff.json()["email"] == "nia@ao.example"
    assert operator.status_code == 403 and operator.json()["code"] == "OPERATOR_SCOPE_MISSING"
    assert portal.accounts.rows["ops1"][0].email == "ops1@lrs.example"
    assert malformed.status_code == 422 and "correct format" in malformed.json()["detail"]
    assert removed.status_code == 200 and removed.json()["email"] is None
    assert unknown.status_code == 404
