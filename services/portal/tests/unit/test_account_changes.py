"""Decision 0126: every change to a portal account or an AO key made in the portal or with `lrs users` is
kept with who made it, and operators with the accounts duty read it, newest first."""

from __future__ import annotations

import asyncio

import pytest
from services.portal.tests.unit.stubbed_portal import OperatorKey, StubbedPortal, form, stubbed_portal

from lrs_platform.identity import Principal
from portal.accounts import Role
from portal.web import account_pages

BEARER = {"Authorization": "Bearer lrs_k_s"}


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def test_each_change_in_the_portal_is_kept_with_who_made_it(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    me = f"operator:{session.account.username}"
    portal.account("oncall", Role.OPERATOR, frozenset({"rebuild"}))
    portal.accounts.changed.clear()

    client.post(
        "/ops/accounts",
        data=form(session, username="nia", display_name="Nia", role="ao", ao_id="RN5133", email="", duties=""),
    )
    client.post("/ops/accounts/oncall/duties", data={**form(session, duties="only"), "scopes": ["keys"]})
    client.post("/ops/accounts/nia/reset-password", data=form(session, confirmed="yes"))
    client.post("/ops/accounts/nia/disable", data=form(session, confirmed="yes", reason="Left the AO"))
    client.post("/ops/accounts/nia/disable", data=form(session, confirmed="yes", reason="again"))  # nothing changes
    client.post("/ops/keys", data=form(session, key_ao_id="RN5133", label="results system"))
    key_id = next(key for key, principal in portal.keys.live.items() if principal == Principal.parse("ao:RN5133"))
    client.post(f"/ops/keys/{key_id}/revoke", data=form(session, confirmed="yes"))
    page = client.get("/ops/accounts")

    kept = [
        (change.changed_by, change.subject, change.change.value, change.detail) for change in portal.accounts.changed
    ]
    assert kept == [
        (me, "nia", "created", "AO user of RN5133"),
        (me, "oncall", "duties_changed", "keys"),
        (me, "nia", "password_reset", ""),
        (me, "nia", "disabled", "Left the AO"),
        (me, "ao:RN5133", "ao_key_issued", f"key {key_id}"),
        (me, "ao:RN5133", "ao_key_revoked", f"key {key_id}"),
    ]
    shown = page.text[page.text.index('data-table="account-changes"') :]
    assert "disabled: Left the AO" in shown
    assert (
        shown.index("API key revoked") < shown.index("duties changed: keys") < shown.index("created: AO user of RN5133")
    )


def test_the_changes_are_read_a_page_at_a_time_newest_first(
    portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(account_pages, "CHANGES_PAGE", 3)
    client, _ = portal.signed_in(Role.OPERATOR, frozenset({"accounts"}))
    portal.accounts.changed.clear()
    for number in range(7):
        asyncio.run(portal.auth.create_account(f"staff.{number}", "Staff", Role.AO, "RN5133", None, by="operator:root"))

    first = client.get("/ops/accounts/changes")
    second = client.get("/ops/accounts/changes?after=5")
    made_up = client.get("/ops/accounts/changes?after=not-a-position")

    created = [line for line in first.text.splitlines() if 'data-change="created"' in line]
    assert len(created) == 3 and "?after=5" in first.text
    assert "staff.6" in first.text and "staff.4" in first.text and "staff.3" not in first.text
    assert "staff.4" not in second.text and "staff.3" in second.text and "staff.1" in second.text
    assert (made_up.status_code, made_up.headers["location"]) == (303, "/ops/accounts/changes")


def test_only_the_accounts_duty_reads_the_changes(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR, frozenset({"rebuild"}))

    assert client.get("/ops/accounts/changes").status_code == 403


def test_the_admin_api_keeps_the_key_as_who_and_lists_the_changes(portal: StubbedPortal) -> None:
    portal.app.state.credentials = OperatorKey("operator:desk")
    client = portal.client()
    for number in range(3):
        body = {"username": f"staff.{number}", "display_name": "Staff", "role": "ao", "ao_id": "RN5133"}
        assert client.post("/v1/admin/users", json=body, headers=BEARER).status_code == 201
    assert client.post("/v1/admin/users/staff.0/disable", headers=BEARER).status_code == 200

    newest = client.get("/v1/admin/users/changes", params={"limit": 2}, headers=BEARER).json()
    older = client.get("/v1/admin/users/changes", params={"before": newest["next"]}, headers=BEARER).json()
    portal.app.state.credentials = OperatorKey("operator:oncall", frozenset({"rebuild"}))
    refused = client.get("/v1/admin/users/changes", headers=BEARER)

    assert [(change["subject"], change["change"]) for change in newest["changes"]] == [
        ("staff.0", "disabled"),
        ("staff.2", "created"),
    ]
    assert {change["changed_by"] for change in newest["changes"] + older["changes"]} == {"operator:desk (API key)"}
    assert [change["subject"] for change in older["changes"]] == ["staff.1", "staff.0"] and older["next"] is None
    assert (refused.status_code, refused.json()["code"]) == (403, "OPERATOR_SCOPE_MISSING")
