"""A password form sent twice (a double-click: the browser shows the answer to the second) is answered as the first
was when the first set the very password the second gives: "changed" / "set", not "not changed" / "this link does
not work". A different change meanwhile, or a used link given another password, is answered as before."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from services.portal.tests.unit.stubbed_portal import RESET_LINKS, StubbedPortal, form, stubbed_portal

import portal.auth as auth_module
from portal.accounts import Account, AccountChange, LockoutPolicy, PasswordChange, Role, SignInState
from portal.auth import Authentication
from portal.csrf import FIELD
from portal.sessions import SessionPolicy
from portal.store import EndedKeys

NEW = "correct horse battery staple"
OTHER = "another horse, another staple"
EMAIL = "nia@ao.example"
LINK = re.compile(re.escape(RESET_LINKS.public_url) + r"/account/reset/([A-Za-z0-9_-]+)")


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal(sends_reset_links=True)


# --- "Change your password" -------------------------------------------------------------------------------


def _first_click_lands_after_the_check(portal: StubbedPortal, name: str, password: str, first_new: str) -> None:
    """The next change's check reads the account before the first click's change (to `first_new`) commits: the
    second request carries the hash from before the change."""
    original = portal.accounts.count_attempt

    async def first_click_meanwhile(username: str, count: Callable[[Account], SignInState]) -> Any:
        found = await original(username, count)
        portal.accounts.count_attempt = original  # type: ignore[method-assign]
        assert await portal.auth.change_own_password(name, password, first_new) is PasswordChange.CHANGED
        return found

    portal.accounts.count_attempt = first_click_meanwhile  # type: ignore[method-assign]


def _signed_in_client(portal: StubbedPortal, username: str) -> tuple[TestClient, Any, str]:
    _, password = portal.account(username, Role.AO)
    session = asyncio.run(portal.auth.sign_in(username, password)).session
    assert session is not None
    client = portal.client()
    client.cookies.set(portal.cookies.session_cookie, session.token)
    return client, session, password


def test_a_change_sent_twice_says_changed_both_times(portal: StubbedPortal) -> None:
    client, session, password = _signed_in_client(portal, "nia.twice")
    _first_click_lands_after_the_check(portal, "nia.twice", password, NEW)

    second = client.post(
        "/account/password",
        data=form(session, current_password=password, new_password=NEW, new_password_again=NEW),
    )

    assert (second.status_code, second.headers["location"]) == (303, "/sign-in?password_changed=1")
    assert asyncio.run(portal.auth.sign_in("nia.twice", NEW)).session is not None
    assert asyncio.run(portal.auth.sign_in("nia.twice", password)).session is None
    changes = [c.change for c in portal.accounts.changed if c.subject == "nia.twice"]
    assert changes.count(AccountChange.PASSWORD_CHANGED) == 1  # changed once, said twice


def test_a_different_change_meanwhile_still_says_not_changed(portal: StubbedPortal) -> None:
    client, session, password = _signed_in_client(portal, "lee.raced")
    _first_click_lands_after_the_check(portal, "lee.raced", password, OTHER)

    second = client.post(
        "/account/password",
        data=form(session, current_password=password, new_password=NEW, new_password_again=NEW),
    )

    assert (second.status_code, second.headers["location"]) == (303, "/sign-in?password_not_changed=1")
    assert asyncio.run(portal.auth.sign_in("lee.raced", OTHER)).session is not None
    assert asyncio.run(portal.auth.sign_in("lee.raced", NEW)).session is None


def test_an_account_disabled_after_the_first_change_is_not_said_changed(portal: StubbedPortal) -> None:
    """A disabled account answers as before, whatever the password given."""
    _, password = portal.account("sam.disabled", Role.AO)
    original = portal.accounts.count_attempt

    async def changed_then_disabled(username: str, count: Callable[[Account], SignInState]) -> Any:
        found = await original(username, count)
        portal.accounts.count_attempt = original  # type: ignore[method-assign]
        assert await portal.auth.change_own_password("sam.disabled", password, NEW) is PasswordChange.CHANGED
        await portal.auth.disable_account("sam.disabled", by="operator:tests")
        return found

    portal.accounts.count_attempt = changed_then_disabled  # type: ignore[method-assign]

    outcome = asyncio.run(portal.auth.change_own_password("sam.disabled", password, NEW))

    assert outcome is PasswordChange.CHANGED_MEANWHILE


# --- the forgotten-password link's form ------------------------------------------------------------------------


def _form_token(page: Response) -> str:
    found = re.search(rf'name="{FIELD}" value="([^"]+)"', page.text)
    assert found, "the page has no form token"
    return found.group(1)


def _link_for(portal: StubbedPortal, username: str) -> str:
    portal.account(username, email=EMAIL)
    client = portal.client()
    asked = client.post(
        "/account/forgotten-password",
        data={FIELD: _form_token(client.get("/account/forgotten-password")), "username": username},
    )
    assert asked.status_code == 303
    found = LINK.search(portal.mailer.sent[-1].get_content())
    assert found, "the email holds no link"
    return found.group(1)


def _double_click(portal: StubbedPortal, token: str, first: str, second: str) -> tuple[Response, Response]:
    """The reset form sent twice from one browser: the second with the cookies the browser held when it sent the
    first (its answer, which clears the form's cookie, not yet come)."""
    client = portal.client()
    form_token = _form_token(client.get(f"/account/reset/{token}"))
    cookies = dict(client.cookies)

    def send(new: str) -> Response:
        client.cookies.clear()
        client.cookies.update(cookies)
        values = {FIELD: form_token, "new_password": new, "new_password_again": new}
        answer: Response = client.post(f"/account/reset/{token}", data=values)
        return answer

    return send(first), send(second)


def test_a_reset_form_sent_twice_says_set_both_times(portal: StubbedPortal) -> None:
    token = _link_for(portal, "nia.reset")

    first, second = _double_click(portal, token, NEW, NEW)

    assert (first.status_code, first.headers["location"]) == (303, "/sign-in?password_reset=1")
    assert (second.status_code, second.headers["location"]) == (303, "/sign-in?password_reset=1")
    assert asyncio.run(portal.auth.sign_in("nia.reset", NEW)).session is not None
    changes = [c.change for c in portal.accounts.changed if c.subject == "nia.reset"]
    assert changes.count(AccountChange.PASSWORD_RESET_BY_LINK) == 1


def test_a_used_link_given_another_password_still_does_not_work(portal: StubbedPortal) -> None:
    token = _link_for(portal, "lee.reset")

    first, second = _double_click(portal, token, NEW, OTHER)

    assert first.status_code == 303
    assert second.status_code == 404 and "This link does not work" in second.text
    assert asyncio.run(portal.auth.sign_in("lee.reset", NEW)).session is not None
    assert asyncio.run(portal.auth.sign_in("lee.reset", OTHER)).session is None


def test_a_used_link_tests_no_password_chosen_after_it_nor_after_a_while(
    portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The link's holder can ask only about the password chosen through it, for a short while."""
    token = _link_for(portal, "kim.later")
    assert asyncio.run(portal.auth.reset_password_by_link(token, NEW)) is not None
    assert asyncio.run(portal.auth.link_used_for(token, NEW)) is not None

    assert asyncio.run(portal.auth.change_own_password("kim.later", NEW, OTHER)) is PasswordChange.CHANGED
    chosen_after = asyncio.run(portal.auth.link_used_for(token, OTHER))

    used_a_while_ago = _link_for(portal, "kim.while")
    assert asyncio.run(portal.auth.reset_password_by_link(used_a_while_ago, NEW)) is not None
    later = time.monotonic() + auth_module.LINK_USE_REMEMBERED_SECONDS + 1
    monkeypatch.setattr(auth_module, "monotonic", lambda: later)
    after_a_while = asyncio.run(portal.auth.link_used_for(used_a_while_ago, NEW))

    assert chosen_after is None and after_a_while is None


def _first_elsewhere(
    portal: StubbedPortal, token: str, first_new: str
) -> Callable[[str, str], Coroutine[Any, Any, tuple[Account, EndedKeys] | None]]:
    """The link used by another replica's request (the first click, setting `first_new`) after this replica's
    request read the link while it worked, just before this one's use of it."""
    other_replica = Authentication(
        portal.accounts,  # type: ignore[arg-type]
        portal.sessions,  # type: ignore[arg-type]
        portal.keys,  # type: ignore[arg-type]
        LockoutPolicy(),
        SessionPolicy(timedelta(minutes=30), timedelta(hours=12)),
        register=(),
    )
    original = portal.accounts.reset_by_link

    async def first_on_the_other_replica(link_hash: str, new_hash: str) -> tuple[Account, EndedKeys] | None:
        portal.accounts.reset_by_link = original  # type: ignore[method-assign]
        assert await other_replica.reset_password_by_link(token, first_new) is not None
        return await original(link_hash, new_hash)

    return first_on_the_other_replica


def test_a_reset_sent_twice_to_two_replicas_says_set_both_times(
    portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = _link_for(portal, "ray.replicas")
    monkeypatch.setattr(portal.accounts, "reset_by_link", _first_elsewhere(portal, token, NEW))
    same = asyncio.run(portal.auth.reset_password_by_link(token, NEW))

    token = _link_for(portal, "ray.different")
    monkeypatch.setattr(portal.accounts, "reset_by_link", _first_elsewhere(portal, token, OTHER))
    different = asyncio.run(portal.auth.reset_password_by_link(token, NEW))

    assert same is not None and same.username == "ray.replicas"
    assert different is None
    assert asyncio.run(portal.auth.sign_in("ray.different", OTHER)).session is not None


# --- the person is told of a new password once ------------------------------------------------------------------

CHANGED_NOTICE = "The password of your Organisation Portal account has changed"


def _notices(portal: StubbedPortal) -> int:
    return sum(1 for message in portal.mailer.sent if message["Subject"] == CHANGED_NOTICE)


def test_a_change_sent_twice_sends_no_second_notice(portal: StubbedPortal) -> None:
    """The second request finds the change the first made (the first's answer told of it): it emails nothing."""
    _, password = portal.account("ria.twice", Role.AO, email=EMAIL)
    session = asyncio.run(portal.auth.sign_in("ria.twice", password)).session
    assert session is not None
    client = portal.client()
    client.cookies.set(portal.cookies.session_cookie, session.token)
    _first_click_lands_after_the_check(portal, "ria.twice", password, NEW)
    before = _notices(portal)

    second = client.post(
        "/account/password",
        data=form(session, current_password=password, new_password=NEW, new_password_again=NEW),
    )

    assert (second.status_code, second.headers["location"]) == (303, "/sign-in?password_changed=1")
    assert _notices(portal) == before


def test_a_reset_sent_twice_to_two_replicas_sends_one_notice(
    portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both requests read the link while it worked; the one that finds it used by the other for this very password
    says "set" and emails nothing: the other told the person."""
    token = _link_for(portal, "ray.notices")
    client = portal.client()
    form_token = _form_token(client.get(f"/account/reset/{token}"))
    monkeypatch.setattr(portal.accounts, "reset_by_link", _first_elsewhere(portal, token, NEW))
    before = _notices(portal)

    second = client.post(
        f"/account/reset/{token}", data={FIELD: form_token, "new_password": NEW, "new_password_again": NEW}
    )

    assert (second.status_code, second.headers["location"]) == (303, "/sign-in?password_reset=1")
    assert _notices(portal) == before
    assert asyncio.run(portal.auth.set_password_by_link("not-a-token", NEW)).account is None
