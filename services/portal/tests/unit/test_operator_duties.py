"""Decision 0124: an operator's portal account may be limited to duties. Its sessions' keys carry them (so
the services refuse the rest), the portal shows and opens only the pages they reach, and only an operator
with every duty hands out operator power."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
import pytest
from fastapi.routing import APIRoute
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, shown_after, stubbed_portal

from lrs_contracts.environments import Environment
from lrs_platform.identity import OperatorScope, Principal
from portal.accounts import (
    InvalidAccount,
    LastAccountsOperator,
    LastEveryDutyOperator,
    Role,
    check_operator_power_stays,
    new_account,
    operators_kept,
)
from portal.auth import utc_now
from portal.web import account_pages, erasure_pages, maintenance_pages, operator_pages, support_pages

BEARER = {"Authorization": "Bearer lrs_k_s"}
NEW_OPERATOR = {"username": "oncall.two", "display_name": "Oncall Two", "role": "operator", "ao_id": "", "email": ""}


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


class OperatorKeys:
    environment = Environment.LIVE

    def __init__(self, scopes: frozenset[str] = frozenset()) -> None:
        self.scopes = scopes

    async def authenticate(self, token: str) -> Principal:
        return Principal.parse("operator:admin", self.scopes)


# --- the account itself (pure) ------------------------------------------------------------------------


def test_an_operator_may_be_limited_to_duties_and_an_ao_user_has_none() -> None:
    limited = new_account("oncall", "Oncall", Role.OPERATOR, None, None, ["dead-letters", "rebuild"])
    unlimited = new_account("root", "Root", Role.OPERATOR, None, None)
    staff = new_account("nia", "Nia", Role.AO, "RN5133", None)

    assert limited.principal == Principal.parse("operator:oncall", frozenset({"dead-letters", "rebuild"}))
    assert limited.has_duty(OperatorScope.REBUILD) and not limited.has_duty(OperatorScope.ERASURE)
    assert not limited.has_every_duty
    assert unlimited.has_duty(OperatorScope.ERASURE) and unlimited.has_every_duty
    assert not staff.has_duty(OperatorScope.SUPPORT) and not staff.has_every_duty
    with pytest.raises(InvalidAccount, match="Only operators have duties"):
        new_account("nia", "Nia", Role.AO, "RN5133", None, ["support"])
    with pytest.raises(InvalidAccount, match="unknown scope"):
        new_account("oncall", "Oncall", Role.OPERATOR, None, None, ["everything"])


def test_no_change_takes_away_the_last_enabled_operator_with_every_duty() -> None:
    root = new_account("root", "Root", Role.OPERATOR, None, None)
    desk = new_account("desk", "Desk", Role.OPERATOR, None, None, ["accounts", "support"])
    staff = new_account("nia", "Nia", Role.AO, "RN5133", None)
    disabled_root = replace(root, disabled_at=utc_now())
    others_left = [desk, staff, replace(root, username="old.root", disabled_at=utc_now())]

    with pytest.raises(LastEveryDutyOperator, match="root is the last enabled operator with every duty"):
        check_operator_power_stays(root, disabled_root, others_left)
    with pytest.raises(LastEveryDutyOperator):
        check_operator_power_stays(root, replace(root, scopes=frozenset({"accounts"})), others_left)
    check_operator_power_stays(root, disabled_root, [desk, replace(root, username="root2")])  # root2 stays
    check_operator_power_stays(desk, replace(desk, scopes=frozenset()), [staff])  # widening is never refused


def test_no_change_takes_away_the_last_enabled_operator_with_the_accounts_duty() -> None:
    """Where no enabled operator has every duty (accounts made before decision 0147), the accounts duty stays."""
    root = new_account("root", "Root", Role.OPERATOR, None, None)
    desk = new_account("desk", "Desk", Role.OPERATOR, None, None, ["accounts", "support"])
    oncall = new_account("oncall", "Oncall", Role.OPERATOR, None, None, ["rebuild"])
    staff = new_account("nia", "Nia", Role.AO, "RN5133", None)
    disabled_root = replace(root, disabled_at=utc_now())

    with pytest.raises(LastAccountsOperator, match="desk is the last enabled operator with the accounts duty"):
        check_operator_power_stays(desk, replace(desk, disabled_at=utc_now()), [oncall, staff, disabled_root])
    with pytest.raises(LastAccountsOperator):
        check_operator_power_stays(desk, replace(desk, scopes=frozenset({"support"})), [oncall, staff])
    check_operator_power_stays(desk, replace(desk, scopes=frozenset({"accounts"})), [oncall])  # kept
    check_operator_power_stays(oncall, replace(oncall, disabled_at=utc_now()), [staff])  # none before


def test_the_operators_kept_are_those_whose_disabling_would_be_refused() -> None:
    """Decision 0153: what the accounts page does not offer is what check_operator_power_stays refuses."""
    root = new_account("root", "Root", Role.OPERATOR, None, None)
    root2 = new_account("root2", "Root Two", Role.OPERATOR, None, None)
    desk = new_account("desk", "Desk", Role.OPERATOR, None, None, ["accounts", "support"])
    oncall = new_account("oncall", "Oncall", Role.OPERATOR, None, None, ["rebuild"])
    staff = new_account("nia", "Nia", Role.AO, "RN5133", None)
    disabled_root = replace(root2, username="old.root", disabled_at=utc_now())

    for accounts, kept in [
        ([root, desk, oncall, staff, disabled_root], {"root": LastEveryDutyOperator}),
        ([root, root2, desk, oncall], {}),
        ([desk, oncall, staff, disabled_root], {"desk": LastAccountsOperator}),  # none with every duty (before 0147)
        ([root], {"root": LastEveryDutyOperator}),  # the last with both powers: every duty is said
        ([oncall, staff], {}),  # nobody holds either power: nothing is guarded
    ]:
        found = operators_kept(accounts)
        assert {username: type(refusal) for username, refusal in found.items()} == kept
        for account in accounts:
            others = [other for other in accounts if other is not account]
            disabling = replace(account, disabled_at=utc_now())
            if account.username in found:
                with pytest.raises(kept[account.username], match=str(found[account.username])):
                    check_operator_power_stays(account, disabling, others)
            elif account.disabled_at is None:
                check_operator_power_stays(account, disabling, others)


def test_the_accounts_page_offers_no_disabling_of_the_last_operator_with_every_duty(portal: StubbedPortal) -> None:
    """Decision 0153: in place of a Disable button that would be refused (409), the table says why."""
    client, session = portal.signed_in(Role.OPERATOR, frozenset({"accounts"}))
    portal.account("root", Role.OPERATOR)
    portal.account("desk", Role.OPERATOR, frozenset({"accounts"}))
    why = "The last operator with every duty cannot be disabled: give another operator every duty first."

    alone = client.get("/ops/accounts", params={"role": "operator"}).text
    portal.account("root2", Role.OPERATOR)
    with_root2 = client.get("/ops/accounts", params={"role": "operator"}).text

    assert 'href="/ops/accounts/root/disable"' not in alone and 'href="/ops/accounts/desk/disable"' in alone
    assert alone.count(why) == 1
    assert alone.index(">root<") < alone.index(why) < alone.index(f">{session.account.username}<")  # root's row
    assert 'href="/ops/accounts/root/disable"' in with_root2 and 'href="/ops/accounts/root2/disable"' in with_root2
    assert why not in with_root2 and "data-kept" not in with_root2


def test_the_accounts_page_lists_the_last_operator_with_every_duty_even_on_a_page_without_the_others(
    portal: StubbedPortal,
) -> None:
    """Who is the last is judged among every enabled operator, not among the accounts the page lists."""
    client, _ = portal.signed_in(Role.OPERATOR, frozenset({"accounts"}))
    portal.account("root", Role.OPERATOR)
    portal.account("zed.root", Role.OPERATOR)

    only_root = client.get("/ops/accounts", params={"starting": "root"}).text
    portal.accounts.rows["zed.root"] = (replace(portal.accounts.rows["zed.root"][0], disabled_at=utc_now()), "hash")
    only_root_now = client.get("/ops/accounts", params={"starting": "root"}).text

    assert 'href="/ops/accounts/root/disable"' in only_root and "data-kept" not in only_root
    assert 'href="/ops/accounts/root/disable"' not in only_root_now and "data-kept" in only_root_now


def test_a_session_key_carries_the_account_duties(portal: StubbedPortal) -> None:
    _, session = portal.signed_in(Role.OPERATOR, frozenset({"erasure"}))

    (principal,) = portal.keys.live.values()
    assert principal.scopes == frozenset({"erasure"})
    assert session.account.scopes == frozenset({"erasure"})


# --- pages ---------------------------------------------------------------------------------------------


def test_the_menu_and_the_pages_are_those_of_the_duties(portal: StubbedPortal) -> None:
    portal.on("GET", "validation/v1/admin/erasures", lambda _: httpx.Response(200, json={"erasures": [], "next": None}))
    client, _ = portal.signed_in(Role.OPERATOR, frozenset({"erasure"}))

    page = client.get("/ops/erasures")
    refused = client.get("/ops/dead-letters")

    assert page.status_code == 200, page.text
    assert 'href="/ops/erasures"' in page.text
    assert 'href="/ops/dead-letters"' not in page.text and 'href="/ops/accounts"' not in page.text
    assert refused.status_code == 403
    assert "needs the “dead-letters” duty" in refused.text
    assert not portal.sent_to("GET", "validation/v1/admin/dlq")  # refused before asking any service


def test_the_start_page_is_the_first_page_the_duties_reach(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR, frozenset({"keys", "maintenance"}))
    nothing_here, _ = portal.signed_in(Role.OPERATOR, frozenset({"registry"}))

    start = client.get("/ops")
    none = nothing_here.get("/ops")

    assert (start.status_code, start.headers["location"]) == (303, "/ops/maintenance")
    assert none.status_code == 403
    assert "duties (registry) have no pages in the portal" in none.text


def test_no_maintenance_banner_is_asked_for_by_an_operator_whose_duties_do_not_reach_it(
    portal: StubbedPortal,
) -> None:
    portal.on("GET", "validation/v1/admin/keyring", lambda _: httpx.Response(200, json={}))
    client, _ = portal.signed_in(Role.OPERATOR, frozenset({"keys"}))

    client.get("/ops/keyring")

    assert not portal.sent_to("GET", "ingest/v1/maintenance")


def test_an_accounts_operator_makes_ao_staff_but_no_operator_and_resets_no_operator_password(
    portal: StubbedPortal,
) -> None:
    client, session = portal.signed_in(Role.OPERATOR, frozenset({"accounts"}))
    portal.account("root", Role.OPERATOR)

    page = client.get("/ops/accounts")
    operator = client.post("/ops/accounts", data=form(session, **NEW_OPERATOR, scopes="dead-letters"))
    staff = shown_after(
        client,
        client.post(
            "/ops/accounts",
            data=form(session, username="nia", display_name="Nia", role="ao", ao_id="RN5133", email=""),
        ),
    )
    reset = client.post("/ops/accounts/root/reset-password", data=form(session))
    duties = client.get("/ops/accounts/root/duties")

    assert 'name="role"' in page.text and 'type="hidden" name="role" value="ao"' in page.text
    assert 'name="scopes"' not in page.text and "/ops/accounts/root/duties" not in page.text
    assert operator.status_code == 400 and "Only an operator with every duty" in operator.text
    assert staff.status_code == 200 and "Password for nia" in staff.text
    assert reset.status_code == 403 and "reset an operator" in reset.text
    assert duties.status_code == 403
    assert set(portal.accounts.rows) == {session.account.username, "root", "nia"}


def test_an_operator_with_every_duty_gives_and_changes_duties_which_ends_the_sessions(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)

    created = shown_after(
        client,
        client.post(
            "/ops/accounts", data={**form(session, **NEW_OPERATOR, duties="only"), "scopes": ["rebuild", "keys"]}
        ),
    )
    oncall = portal.accounts.rows["oncall.two"][0]
    signed_in = asyncio.run(portal.auth.sign_in("oncall.two", created.text.split("data-secret>")[1].split("<")[0]))
    assert signed_in.session is not None
    form_page = client.get("/ops/accounts/oncall.two/duties")
    changed = client.post(
        "/ops/accounts/oncall.two/duties", data={**form(session, duties="only"), "scopes": ["erasure"]}
    )
    own = client.get(f"/ops/accounts/{session.account.username}/duties")

    assert created.status_code == 200, created.text
    assert oncall.scopes == frozenset({"rebuild", "keys"})
    assert form_page.status_code == 200 and 'value="rebuild" checked' in form_page.text
    assert changed.status_code == 303
    assert portal.accounts.rows["oncall.two"][0].scopes == frozenset({"erasure"})
    assert asyncio.run(portal.auth.session_for(signed_in.session.token)) is None  # signs in again with the new ones
    assert own.status_code == 403 and "your own duties" in own.text


def test_an_unknown_duty_is_refused_with_the_known_ones(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    portal.account("oncall", Role.OPERATOR, frozenset({"rebuild"}))

    refused = client.post("/ops/accounts/oncall/duties", data={**form(session, duties="only"), "scopes": ["root"]})

    assert refused.status_code == 400
    assert "unknown scope(s) root" in refused.text
    assert portal.accounts.rows["oncall"][0].scopes == frozenset({"rebuild"})


# --- the admin API behind `lrs users` ------------------------------------------------------------------


def test_the_admin_api_creates_an_operator_with_duties_and_changes_them(portal: StubbedPortal) -> None:
    portal.app.state.credentials = OperatorKeys()
    client = portal.client()

    created = client.post(
        "/v1/admin/users",
        json={"username": "dpo", "display_name": "DPO", "role": "operator", "scopes": ["erasure"]},
        headers=BEARER,
    )
    changed = client.put("/v1/admin/users/dpo/scopes", json={"scopes": ["erasure", "support"]}, headers=BEARER)
    every = client.put("/v1/admin/users/dpo/scopes", json={"every_duty": True}, headers=BEARER)

    assert created.status_code == 201 and created.json()["account"]["scopes"] == ["erasure"]
    assert changed.status_code == 200 and changed.json()["scopes"] == ["erasure", "support"]
    assert every.json()["scopes"] == [] and portal.accounts.rows["dpo"][0].has_every_duty


def test_the_admin_api_refuses_duties_to_ao_staff_unknown_duties_and_a_scoped_key(portal: StubbedPortal) -> None:
    portal.app.state.credentials = OperatorKeys()
    client = portal.client()
    portal.account("nia", Role.AO)
    portal.account("dpo", Role.OPERATOR, frozenset({"erasure"}))

    staff = client.put("/v1/admin/users/nia/scopes", json={"scopes": ["support"]}, headers=BEARER)
    unknown = client.put("/v1/admin/users/dpo/scopes", json={"scopes": ["root"]}, headers=BEARER)
    missing = client.put("/v1/admin/users/nobody/scopes", json={"every_duty": True}, headers=BEARER)
    portal.app.state.credentials = OperatorKeys(frozenset({"accounts"}))
    scoped = client.put("/v1/admin/users/dpo/scopes", json={"every_duty": True}, headers=BEARER)

    assert staff.status_code == 422 and "Only operators have duties" in staff.json()["detail"]
    assert unknown.status_code == 422
    assert missing.status_code == 404
    assert (scoped.status_code, scoped.json()["code"]) == (403, "OPERATOR_SCOPE_MISSING")
    assert portal.accounts.rows["dpo"][0].scopes == frozenset({"erasure"})


def test_an_operator_cannot_disable_their_own_account_on_the_accounts_page(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    portal.account("root", Role.OPERATOR)  # another accounts operator: the refusal is not for being the last
    me = session.account.username
    listed = client.get("/ops/accounts").text

    refused = client.post(f"/ops/accounts/{me}/disable", data=form(session))

    assert f'href="/ops/accounts/{me}/disable"' not in listed and 'href="/ops/accounts/root/disable"' in listed
    assert refused.status_code == 400
    assert "You cannot disable your own account" in refused.text and 'href="#accounts"' in refused.text
    assert portal.accounts.rows[me][0].disabled_at is None
    assert client.get("/ops/accounts").status_code == 200  # still signed in


def test_the_admin_api_keeps_an_enabled_operator_with_the_accounts_duty(portal: StubbedPortal) -> None:
    portal.app.state.credentials = OperatorKeys()
    client = portal.client()
    portal.account("desk", Role.OPERATOR, frozenset({"accounts"}))  # nobody with every duty: made before 0147
    portal.account("oncall", Role.OPERATOR, frozenset({"rebuild"}))

    narrowed = client.put("/v1/admin/users/desk/scopes", json={"scopes": ["support"]}, headers=BEARER)
    desk_disabled = client.post("/v1/admin/users/desk/disable", headers=BEARER)
    oncall_disabled = client.post("/v1/admin/users/oncall/disable", headers=BEARER)

    for refused in (narrowed, desk_disabled):
        assert (refused.status_code, refused.json()["code"]) == (409, "CONFLICT")
        assert "desk is the last enabled operator with the accounts duty" in refused.json()["detail"]
    assert oncall_disabled.status_code == 200
    desk = portal.accounts.rows["desk"][0]
    assert desk.disabled_at is None and desk.scopes == frozenset({"accounts"})
    assert [c.change.value for c in portal.accounts.changed if c.subject == "desk"] == ["created"]


def test_the_admin_api_keeps_an_enabled_operator_with_every_duty(portal: StubbedPortal) -> None:
    """Decision 0147: only an operator with every duty hands out operator power, so one always stays."""
    portal.app.state.credentials = OperatorKeys()
    client = portal.client()
    portal.account("root", Role.OPERATOR)
    portal.account("desk", Role.OPERATOR, frozenset({"accounts"}))

    root_disabled = client.post("/v1/admin/users/root/disable", headers=BEARER)
    narrowed = client.put("/v1/admin/users/root/scopes", json={"scopes": ["accounts"]}, headers=BEARER)
    portal.account("root2", Role.OPERATOR)
    root_disabled_once_root2_is_there = client.post("/v1/admin/users/root/disable", headers=BEARER)

    for refused in (root_disabled, narrowed):
        assert (refused.status_code, refused.json()["code"]) == (409, "CONFLICT")
        assert "root is the last enabled operator with every duty" in refused.json()["detail"]
    assert root_disabled_once_root2_is_there.status_code == 200
    assert [c.change.value for c in portal.accounts.changed if c.subject == "root"] == ["created", "disabled"]


def test_an_accounts_operator_cannot_disable_the_last_operator_with_every_duty(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR, frozenset({"accounts"}))
    portal.account("root", Role.OPERATOR)

    refused = client.post("/ops/accounts/root/disable", data=form(session))

    assert refused.status_code == 409 and 'href="#accounts"' in refused.text
    assert "root is the last enabled operator with every duty: give another operator every duty first" in refused.text
    assert portal.accounts.rows["root"][0].disabled_at is None


def test_no_list_left_empty_gives_an_operator_every_duty(portal: StubbedPortal) -> None:
    """Every duty is chosen as such: unticking every box, or sending no scopes, is refused."""
    client, session = portal.signed_in(Role.OPERATOR)
    portal.account("oncall", Role.OPERATOR, frozenset({"rebuild"}))
    portal.app.state.credentials = OperatorKeys()
    api = portal.client()

    unticked = client.post("/ops/accounts/oncall/duties", data=form(session, duties="only"))
    unchosen = client.post("/ops/accounts", data=form(session, **NEW_OPERATOR))
    emptied = api.put("/v1/admin/users/oncall/scopes", json={"scopes": []}, headers=BEARER)
    both = api.put("/v1/admin/users/oncall/scopes", json={"scopes": ["keys"], "every_duty": True}, headers=BEARER)
    created = api.post(
        "/v1/admin/users", json={"username": "root2", "display_name": "Root", "role": "operator"}, headers=BEARER
    )
    every = client.post("/ops/accounts/oncall/duties", data={**form(session, duties="every"), "scopes": ["keys"]})

    assert unticked.status_code == 400 and "Tick at least one duty, or choose every duty" in unticked.text
    assert unchosen.status_code == 400 and "Choose the operator&#39;s duties" in unchosen.text
    assert (emptied.status_code, both.status_code, created.status_code) == (422, 422, 422)
    assert "oncall.two" not in portal.accounts.rows and "root2" not in portal.accounts.rows
    assert every.status_code == 303 and portal.accounts.rows["oncall"][0].has_every_duty


def test_ticks_for_an_ao_user_are_refused_not_dropped(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)

    refused = client.post(
        "/ops/accounts",
        data={
            **form(session, username="nia", display_name="Nia", role="ao", ao_id="RN5133", email=""),
            "scopes": ["keys"],
        },
    )

    assert refused.status_code == 400 and "Only operators have duties" in refused.text
    assert "nia" not in portal.accounts.rows


def test_the_duties_form_is_refused_without_every_duty_or_without_its_csrf_token(portal: StubbedPortal) -> None:
    portal.account("oncall", Role.OPERATOR, frozenset({"rebuild"}))
    accounts_desk, desk = portal.signed_in(Role.OPERATOR, frozenset({"accounts"}))
    root, _ = portal.signed_in(Role.OPERATOR)

    by_desk = accounts_desk.post("/ops/accounts/oncall/duties", data=form(desk, duties="every"))
    forged = root.post("/ops/accounts/oncall/duties", data={"duties": "every"})

    assert by_desk.status_code == 403 and forged.status_code == 403
    assert portal.accounts.rows["oncall"][0].scopes == frozenset({"rebuild"})


def test_the_accounts_page_revokes_only_the_ao_keys_it_lists(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR, frozenset({"accounts"}))
    ao_key = asyncio.run(portal.keys.issue(Principal.parse("ao:RN5133"), "results system"))
    operator_key = asyncio.run(portal.keys.issue(Principal.parse("operator:root"), "root's key"))
    session_key = next(
        key_id
        for key_id, principal in portal.keys.live.items()
        if principal.kind.value == "operator" and key_id != operator_key.key_id
    )

    revoked = client.post(f"/ops/keys/{ao_key.key_id}/revoke", data=form(session, confirmed="yes"))
    refused = [
        client.post(f"/ops/keys/{key_id}/revoke", data=form(session, confirmed="yes"))
        for key_id in (operator_key.key_id, session_key)
    ]
    not_asked = [client.get(f"/ops/keys/{key_id}/revoke") for key_id in (operator_key.key_id, session_key)]

    assert revoked.status_code == 303 and ao_key.key_id not in portal.keys.live
    assert [answer.status_code for answer in refused + not_asked] == [404, 404, 404, 404]
    assert {operator_key.key_id, session_key} <= portal.keys.live.keys()


def test_revoking_an_ao_key_is_confirmed_first_and_said_after(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR, frozenset({"accounts"}))
    ao_key = asyncio.run(portal.keys.issue(Principal.parse("ao:RN5133"), "results system"))
    listed = client.get("/ops/accounts").text

    unconfirmed = client.post(f"/ops/keys/{ao_key.key_id}/revoke", data=form(session, keys_of="RN5133"))
    asked = client.get(unconfirmed.headers["location"])
    still_live = ao_key.key_id in portal.keys.live
    confirmed = client.post(f"/ops/keys/{ao_key.key_id}/revoke", data=form(session, confirmed="yes", keys_of="RN5133"))
    told = shown_after(client, confirmed)

    assert f'href="/ops/keys/{ao_key.key_id}/revoke?keys_of=RN5133"' in listed
    assert unconfirmed.status_code == 303 and still_live
    assert asked.status_code == 200 and "Revoke this API key?" in asked.text
    assert "ao:RN5133" in asked.text and "results system" in asked.text and "Yes, revoke this key" in asked.text
    assert 'name="confirmed" value="yes"' in asked.text and 'href="/ops/accounts?keys_of=RN5133"' in asked.text
    assert confirmed.headers["location"] == "/ops/accounts?keys_of=RN5133"
    assert ao_key.key_id not in portal.keys.live
    assert "data-key-revoked" in told.text and f"API key {ao_key.key_id} of ao:RN5133 revoked" in told.text
    assert "data-key-revoked" not in client.get("/ops/accounts?keys_of=RN5133").text  # said once


def _filled(path: str) -> str:
    return (
        path.replace("{service_name}", "validation")
        .replace("{handle}", "1")
        .replace("{action}", "retry")
        .replace("{username}", "someone")
        .replace("{key_id}", "abc")
        .replace("{window_id}", "5d3f1a2b-0c4e-4f6a-9b8c-7d6e5f4a3b2c")
        .replace("{batch_id}", "0b6f3c1e-8f4a-4d52-9a0e-2f9c6a1d7e35")
        .replace("{line}", "4")
        .replace("{chart}", "records")
    )


def test_no_operator_page_or_form_is_open_to_duties_it_does_not_name(portal: StubbedPortal) -> None:
    """Every /ops route, swept: an operator whose duties have no page in the portal is refused each one,
    before any service is asked."""
    client, session = portal.signed_in(Role.OPERATOR, frozenset({"registry"}))
    pages = (operator_pages, account_pages, erasure_pages, maintenance_pages, support_pages)
    routes = [
        (method, route.path)
        for router in (page.router for page in pages)
        for route in router.routes
        if isinstance(route, APIRoute) and route.path.startswith("/ops")
        for method in route.methods or ()
    ]

    answers = {
        (method, path): (
            client.get(_filled(path)) if method == "GET" else client.post(_filled(path), data=form(session))
        )
        for method, path in routes
    }

    assert len(answers) >= 20
    assert {key: answer.status_code for key, answer in answers.items() if answer.status_code != 403} == {}
    assert not [request for request in portal.sent if request.url.path != "/v1/maintenance"]
