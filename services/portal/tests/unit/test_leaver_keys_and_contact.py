"""A leaver off-boarded (a walk of an AO's staff over a year): disabling an operator's account revokes the API keys
made under their name with it, and says so; narrowing their duties names the keys that still do more; disabling an
AO user says when they are their AO's challenge contact; removing an address tells nobody that links now go to a new
one, and a disabled account's old address nothing at all."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import (
    AO_ID,
    MemoryKeys,
    StubbedPortal,
    form,
    shown_after,
    stubbed_portal,
)

from lrs_contracts.environments import Environment
from lrs_platform.credential_store import StoredKey
from lrs_platform.identity import Principal, PrincipalKind
from portal.accounts import Account, AddressChange, Role
from portal.reset_links import address_changed_email
from portal.web.account_pages import keys_said

BEARER = {"Authorization": "Bearer lrs_k_s"}
EVERY = frozenset[str]()


class KeysAsStored:
    """The identity store as the portal's admin API and key names read it: every bearer key is operator:desk's (no
    scopes); keys are looked up in the stubbed portal's own key store, sessions' included."""

    environment = Environment.LIVE

    def __init__(self, keys: MemoryKeys) -> None:
        self._keys = keys

    async def authenticate(self, token: str) -> Principal:
        return Principal.parse("operator:desk")

    async def revoked_listed(self, key_id: str, kind: PrincipalKind) -> StoredKey | None:
        if key_id not in self._keys.revoked:
            return None
        principal, revoked_at = self._keys.revoked[key_id]
        return StoredKey(key_id, principal, self._keys.labels[key_id], self._keys.created[key_id], revoked_at)

    async def listing(self, kind: PrincipalKind, *, principal: Principal, limit: int) -> list[StoredKey]:
        return [
            StoredKey(key_id, live, self._keys.labels[key_id], self._keys.created[key_id], None)
            for key_id, live in self._keys.live.items()
            if (live.kind, live.id) == (principal.kind, principal.id)
        ][:limit]


@pytest.fixture
def portal() -> StubbedPortal:
    made = stubbed_portal(sends_reset_links=True)
    made.app.state.credentials = KeysAsStored(made.keys)
    return made


def _operator_key(portal: StubbedPortal, username: str, label: str, scopes: frozenset[str] = EVERY) -> str:
    """A key made with `lrs credentials create --principal operator:<username>` (straight into the identity store)."""
    principal = Principal(PrincipalKind.OPERATOR, username, scopes)
    return asyncio.run(portal.keys.issue(principal, label)).key_id


def _second_every_duty_operator(portal: StubbedPortal) -> None:
    """Decisions 0140, 0147: a disabling or narrowing never leaves no operator with every duty."""
    portal.account("ops.lead", Role.OPERATOR)


# --- 1. an operator's own keys go with the account --------------------------------------------------------------


def test_disabling_an_operator_in_the_portal_says_beforehand_and_after_that_their_own_keys_are_revoked(
    portal: StubbedPortal,
) -> None:
    _second_every_duty_operator(portal)
    portal.account("ops2", Role.OPERATOR, frozenset({"support"}))
    laptop = _operator_key(portal, "ops2", "ops2 laptop")
    oncall = _operator_key(portal, "ops2", "ops2 on-call", frozenset({"dead-letters"}))
    someone_elses = _operator_key(portal, "oncall", "the on-call job")
    client, session = portal.signed_in(Role.OPERATOR)

    asked = client.get("/ops/accounts/ops2/disable")

    assert asked.status_code == 200, asked.text
    assert (
        f"2 API keys of operator:ops2 (ops2 laptop (key {laptop}), ops2 on-call (key {oncall})) will be revoked too"
        in asked.text
    )
    assert laptop in portal.keys.live  # not before the Yes

    done = client.post("/ops/accounts/ops2/disable", data=form(session, confirmed="yes", reason="has left"))

    shown = shown_after(client, done).text
    assert "Account ops2 disabled" in shown
    assert f"2 API keys of operator:ops2 were revoked with it: ops2 laptop (key {laptop})" in shown
    assert laptop not in portal.keys.live and oncall not in portal.keys.live
    assert someone_elses in portal.keys.live
    assert portal.keys.revoked_by[laptop] == f"{session.account.who}, disabling the portal account ops2"


def test_disabling_an_operator_with_an_operator_key_revokes_their_own_keys_and_answers_which(
    portal: StubbedPortal,
) -> None:
    _second_every_duty_operator(portal)
    portal.account("ops2", Role.OPERATOR, frozenset({"accounts", "support"}))
    laptop = _operator_key(portal, "ops2", "ops2 laptop")

    answer = portal.client().post("/v1/admin/users/ops2/disable", headers=BEARER)

    assert answer.status_code == 200, answer.text
    assert answer.json()["disabled"] is True
    assert answer.json()["keys_revoked"] == [{"key_id": laptop, "label": "ops2 laptop", "scopes": []}]
    assert answer.json()["challenge_contact"] is None
    assert laptop not in portal.keys.live
    assert portal.keys.revoked_by[laptop] == "operator:desk (API key), disabling the portal account ops2"


def test_disabling_an_ao_user_revokes_none_of_the_aos_keys(portal: StubbedPortal) -> None:
    portal.account("sam.hire", Role.AO)
    aos_key = asyncio.run(portal.keys.issue(Principal(PrincipalKind.AO, AO_ID), "exams office script")).key_id
    client, _ = portal.signed_in(Role.OPERATOR)

    asked = client.get("/ops/accounts/sam.hire/disable")
    answer = portal.client().post("/v1/admin/users/sam.hire/disable", headers=BEARER)

    assert "will be revoked too" not in asked.text
    assert answer.json()["keys_revoked"] == []
    assert aos_key in portal.keys.live


def test_narrowing_an_operators_duties_names_their_keys_that_still_do_more_and_revokes_none(
    portal: StubbedPortal,
) -> None:
    _second_every_duty_operator(portal)
    portal.account("ops2", Role.OPERATOR, frozenset({"accounts", "support"}))
    laptop = _operator_key(portal, "ops2", "ops2 laptop")  # every duty
    desk = _operator_key(portal, "ops2", "ops2 desk", frozenset({"support"}))  # within the new duties
    client, session = portal.signed_in(Role.OPERATOR)

    page = client.get("/ops/accounts/ops2/duties")
    api = portal.client().put("/v1/admin/users/ops2/scopes", json={"scopes": ["support"]}, headers=BEARER)

    assert f"ops2 laptop (key {laptop}): every duty" in page.text
    assert api.status_code == 200, api.text
    assert api.json()["keys_beyond_duties"] == [{"key_id": laptop, "label": "ops2 laptop", "scopes": []}]
    assert laptop in portal.keys.live and desk in portal.keys.live

    saved = client.post(
        "/ops/accounts/ops2/duties", data=form(session, duties="only", scopes="support", confirmed="yes")
    )
    shown = shown_after(client, saved).text
    assert f"1 API key of operator:ops2 still does more than these duties: ops2 laptop (key {laptop}): every duty" in (
        shown
    )
    assert "lrs credentials revoke --principal operator:ops2" in shown
    assert laptop in portal.keys.live


def test_keys_are_counted_in_words() -> None:
    key = StoredKey("k1", Principal(PrincipalKind.OPERATOR, "ops2"), "laptop", datetime.now(UTC), None)

    assert keys_said([key]) == "1 API key of operator:ops2"
    assert keys_said([key, key]) == "2 API keys of operator:ops2"


# --- 2. the leaver who is the AO's challenge contact ---------------------------------------------------------------


def _contact(email: str, updated_by: str = f"ao:{AO_ID}", key_id: str | None = None) -> dict[str, Any]:
    return {
        "ao_id": AO_ID,
        "given_name": "Dee",
        "family_name": "Dual",
        "telephone": "01632 960 001",
        "email": email,
        "updated_at": "2026-12-07T12:00:00Z",
        "updated_by": updated_by,
        "updated_with_key": key_id,
    }


def _contact_is(portal: StubbedPortal, contact: dict[str, Any] | None, status: int = 200) -> None:
    answer = httpx.Response(status, json=contact) if contact else httpx.Response(status, json={"title": "Not found"})
    portal.on("GET", f"notifier/v1/ao/{AO_ID}/challenge-contact", lambda request: answer)


def test_disabling_the_aos_challenge_contact_says_so_on_the_confirmation_and_in_the_answer(
    portal: StubbedPortal,
) -> None:
    _, password = portal.account("dual.a", Role.AO, email="dee@shared.example")
    signed = asyncio.run(portal.auth.sign_in("dual.a", password))
    assert signed.session is not None
    their_session_key = max(portal.keys.created, key=lambda key_id: portal.keys.created[key_id])
    _contact_is(portal, _contact("Dee@Shared.example", key_id=their_session_key))
    client, _ = portal.signed_in(Role.OPERATOR)

    asked = client.get("/ops/accounts/dual.a/disable")
    answer = portal.client().post("/v1/admin/users/dual.a/disable", headers=BEARER)

    said = (
        f"Dee@Shared.example is {AO_ID}&#39;s challenge contact (set by dual.a): ask the AO to set another on its"
        " Challenge contact page"
    )
    assert said in asked.text
    assert answer.status_code == 200, answer.text
    assert answer.json()["challenge_contact"] == {"ao_id": AO_ID, "email": "Dee@Shared.example", "set_by": "dual.a"}


def test_a_contact_set_by_the_leavers_session_is_said_whatever_its_address(portal: StubbedPortal) -> None:
    _, password = portal.account("dual.a", Role.AO, email="dee@shared.example")
    asyncio.run(portal.auth.sign_in("dual.a", password))
    their_session_key = max(portal.keys.created, key=lambda key_id: portal.keys.created[key_id])
    _contact_is(portal, _contact("exams@pearson.example", key_id=their_session_key))

    answer = portal.client().post("/v1/admin/users/dual.a/disable", headers=BEARER)

    assert answer.json()["challenge_contact"] == {
        "ao_id": AO_ID,
        "email": "exams@pearson.example",
        "set_by": "dual.a",
    }


def test_another_persons_contact_is_not_said(portal: StubbedPortal) -> None:
    portal.account("sam.hire", Role.AO, email="sam@pearson.example")
    _contact_is(portal, _contact("exams@pearson.example", updated_by="operator:ops.lead"))
    client, _ = portal.signed_in(Role.OPERATOR)

    asked = client.get("/ops/accounts/sam.hire/disable")
    answer = portal.client().post("/v1/admin/users/sam.hire/disable", headers=BEARER)

    assert "challenge contact" not in asked.text
    assert answer.json()["challenge_contact"] is None


@pytest.mark.parametrize("status", [403, 503])
def test_a_notifier_that_does_not_answer_holds_up_no_disabling(portal: StubbedPortal, status: int) -> None:
    portal.account("dual.a", Role.AO, email="dee@shared.example")
    portal.on(
        "GET",
        f"notifier/v1/ao/{AO_ID}/challenge-contact",
        lambda request: httpx.Response(status, json={"title": "No", "status": status, "detail": "no"}),
    )
    client, session = portal.signed_in(Role.OPERATOR)

    asked = client.get("/ops/accounts/dual.a/disable")
    done = client.post("/ops/accounts/dual.a/disable", data=form(session, confirmed="yes", reason="has left"))

    assert asked.status_code == 200 and "challenge contact" not in asked.text
    assert "Account dual.a disabled" in shown_after(client, done).text


# --- 3. the reason's hint -------------------------------------------------------------------------------------------


def test_the_disable_hint_asks_for_the_account_not_the_person_and_says_how_long_it_is_kept(
    portal: StubbedPortal,
) -> None:
    portal.account("sam.hire", Role.AO)
    client, _ = portal.signed_in(Role.OPERATOR)

    asked = client.get("/ops/accounts/sam.hire/disable").text

    assert "Say why in a few words, about the account, not the person" in asked
    assert "kept for as long as the record of account changes" in asked
    assert "a person who has left" not in asked


# --- 4. an address removed, or a disabled account's address changed ------------------------------------------------


def test_an_address_removed_is_told_no_links_go_anywhere_not_that_they_go_to_a_new_one() -> None:
    from services.portal.tests.unit.stubbed_portal import RESET_LINKS

    account = Account("sam.hire", "Sam Hire", Role.AO, AO_ID, None)

    notice = address_changed_email(
        AddressChange(account, "sam.hire@pearson.example", by_operator=True), datetime.now(UTC), RESET_LINKS
    )

    assert notice is not None
    body = notice.get_content()
    assert "was removed at" in body
    assert "No links to choose a password are sent to any address now" in body
    assert "new address" not in body
    assert notice["Subject"] == "The email address of your Organisation Portal account has been removed"


def test_a_disabled_accounts_old_address_is_told_nothing(portal: StubbedPortal) -> None:
    portal.account("sam.hire", Role.AO, email="sam.hire@pearson.example")
    asyncio.run(portal.auth.disable_account("sam.hire", by="operator:desk", reason="has left"))
    client, session = portal.signed_in(Role.OPERATOR)

    api = portal.client().put("/v1/admin/users/sam.hire/email", json={"email": None}, headers=BEARER)
    portal.account("lee.left", Role.AO, email="lee@pearson.example")
    asyncio.run(portal.auth.disable_account("lee.left", by="operator:desk", reason="has left"))
    page = client.post("/ops/accounts/lee.left/email", data=form(session, email=""))

    assert api.status_code == 200, api.text
    assert "is told of the change" not in shown_after(client, page).text
    assert portal.mailer.sent == []


def test_an_enabled_accounts_address_removed_is_still_told(portal: StubbedPortal) -> None:
    portal.account("nia", Role.AO, email="nia@ao.example")

    portal.client().put("/v1/admin/users/nia/email", json={"email": None}, headers=BEARER)

    (notice,) = portal.mailer.sent
    assert notice["To"] == "nia@ao.example"
    assert "No links to choose a password are sent to any address now" in notice.get_content()
