"""A disabled account can be enabled again (a mistaken disabling has a way back), with its password as it was;
a disabled account's password is not reset (it could not sign in with it)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, shown_after, stubbed_portal
from services.portal.tests.unit.test_first_password_links import BEARER, OperatorKeys

from portal.accounts import Role, SignInOutcome


@pytest.fixture
def portal() -> StubbedPortal:
    portal = stubbed_portal()
    portal.app.state.credentials = OperatorKeys()
    return portal


def test_a_disabled_account_is_enabled_again_with_its_password_and_the_change_kept(portal: StubbedPortal) -> None:
    _, password = portal.account("kai")
    api = portal.client()

    disabled = api.post("/v1/admin/users/kai/disable", headers=BEARER)
    disabled_again = api.post("/v1/admin/users/kai/disable", headers=BEARER)
    reset = api.post("/v1/admin/users/kai/reset-password", headers=BEARER)
    enabled = api.post("/v1/admin/users/kai/enable", headers=BEARER)
    again = api.post("/v1/admin/users/kai/enable", headers=BEARER)
    signed_in = asyncio.run(portal.auth.sign_in("kai", password))

    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    assert disabled_again.status_code == 409 and "is disabled already" in disabled_again.json()["detail"]
    assert reset.status_code == 409 and "is disabled: enable it first" in reset.json()["detail"]
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["disabled"] is False
    assert again.status_code == 409 and "is not disabled" in again.json()["detail"]
    assert signed_in.outcome is SignInOutcome.SIGNED_IN
    changes = [change.change.value for change in portal.accounts.changed if change.subject == "kai"]
    assert changes == ["created", "disabled", "enabled"]


def test_only_an_unscoped_key_enables_an_operator_account(portal: StubbedPortal) -> None:
    portal.account("oncall", Role.OPERATOR)
    portal.account("root", Role.OPERATOR)  # disabling the only accounts operator is refused
    asyncio.run(portal.auth.disable_account("oncall", by="operator:tests"))
    portal.app.state.credentials = OperatorKeys(frozenset({"accounts"}))

    refused = portal.client().post("/v1/admin/users/oncall/enable", headers=BEARER)
    missing = portal.client().post("/v1/admin/users/nobody/enable", headers=BEARER)

    assert refused.status_code == 403
    assert missing.status_code == 404
    assert portal.accounts.rows["oncall"][0].disabled_at is not None


def test_the_accounts_page_enables_a_disabled_account_again(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    portal.account("kai")
    client.post("/ops/accounts/kai/disable", data=form(session, confirmed="yes", reason="On leave"))
    listed = client.get("/ops/accounts").text

    asked = client.get("/ops/accounts/kai/enable")
    enabled = client.post("/ops/accounts/kai/enable", data=form(session, confirmed="yes"))
    shown = shown_after(client, enabled)

    assert 'href="/ops/accounts/kai/enable"' in listed and "Enable again" in listed
    assert "Yes, enable kai again" in asked.text and "No, leave it disabled" in asked.text
    assert enabled.headers["location"] == "/ops/accounts"
    assert portal.accounts.rows["kai"][0].disabled_at is None
    assert "Account kai enabled again" in shown.text and 'role="alert"' in shown.text
    assert 'href="/ops/accounts/kai/enable"' not in shown.text


def test_an_operator_opening_the_home_page_is_sent_to_their_first_page(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR, frozenset({"erasure"}))

    home = client.get("/")

    assert home.status_code == 303 and home.headers["location"] == "/ops/erasures"


def test_an_erasure_of_a_uln_the_lrs_holds_nothing_about_is_said_at_the_uln(portal: StubbedPortal) -> None:
    """Decision 0132: validation answers 404; the page says why at the field, not "page not found"."""
    client, operator = portal.signed_in(Role.OPERATOR)
    portal.on("GET", "validation/v1/admin/erasures", lambda _: httpx.Response(200, json={"erasures": [], "next": None}))
    not_held = {"title": "No learner held with this ULN", "detail": "The LRS holds nothing about this ULN."}
    portal.on("POST", "validation/v1/admin/learners/5555555554/erasure", lambda _: httpx.Response(404, json=not_held))

    answer = client.post("/ops/erasures", data=form(operator, uln="5555555554", reason="asked by them"))

    assert answer.status_code == 400
    assert 'href="#uln">The LRS holds nothing about this ULN.' in answer.text
