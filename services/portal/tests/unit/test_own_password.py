"""Decision 0127: a person changes their own password, given the one they have now; a password an operator
was shown is flagged on every page until they do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal

from portal.accounts import Account, Role, SignInState
from portal.auth import SignedIn

NEW = "correct horse battery staple"


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def _change(client: TestClient, session: SignedIn, current: str, new: str = NEW, again: str | None = None) -> Response:
    values = {"current_password": current, "new_password": new, "new_password_again": new if again is None else again}
    answer: Response = client.post("/account/password", data=form(session, **values))
    return answer


def test_a_given_password_is_flagged_until_the_person_chooses_their_own(portal: StubbedPortal) -> None:
    _, password = portal.account("nia.given", Role.AO)
    signed_in = asyncio.run(portal.auth.sign_in("nia.given", password)).session
    assert signed_in is not None
    client = portal.client()
    client.cookies.set(portal.cookies.session_cookie, signed_in.token)

    flagged = client.get("/account/password")
    before = client.get("/contact")
    changed = _change(client, signed_in, password)
    after = client.get("/")

    assert 'data-banner="password-given"' in before.text and "operator who made or reset" in flagged.text
    assert (changed.status_code, changed.headers["location"]) == (303, "/sign-in?password_changed=1")
    assert after.status_code == 303 and after.headers["location"].startswith("/sign-in")  # every session ended
    again = asyncio.run(portal.auth.sign_in("nia.given", NEW)).session
    assert again is not None and not again.account.password_given
    assert asyncio.run(portal.auth.sign_in("nia.given", password)).session is None
    assert [(c.changed_by, c.change.value) for c in portal.accounts.changed][-1] == (
        "nia.given (ao:RN9093)",
        "password_changed",
    )


@pytest.mark.parametrize(
    ("current", "new", "again", "said"),
    [
        ("", NEW, NEW, "Enter the password you have now"),
        ("wrong password here", NEW, NEW, "That is not your password now"),
        (None, NEW, "something else entirely", "not the same both times"),
        (None, "short", "short", "at least 12 characters"),
        (None, None, None, "other than the one you have now"),
        (None, "nul\x00in the middle", "nul\x00in the middle", "cannot hold"),
    ],
)
def test_what_is_refused_says_why_and_changes_nothing(
    portal: StubbedPortal, current: str | None, new: str | None, again: str | None, said: str
) -> None:
    _, password = portal.account("lee.refused", Role.AO)
    session = asyncio.run(portal.auth.sign_in("lee.refused", password)).session
    assert session is not None
    client = portal.client()
    client.cookies.set(portal.cookies.session_cookie, session.token)

    refused = _change(
        client,
        session,
        password if current is None else current,
        password if new is None else new,
        password if again is None else again,
    )

    assert refused.status_code == 400 and said in refused.text.replace("&#39;", "'")
    assert (
        portal.accounts.rows["lee.refused"][1] != ""
        and asyncio.run(portal.auth.sign_in("lee.refused", password)).session
    )


def test_wrong_current_passwords_lock_the_account_as_sign_ins_do(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)

    answers = [_change(client, session, f"guess number {n}") for n in range(5)]

    assert "That is not your password now" in answers[0].text
    assert "locked" in answers[-1].text
    assert portal.accounts.rows[session.account.username][0].sign_in.locked_until is not None


def test_a_reset_by_an_operator_meanwhile_wins(portal: StubbedPortal) -> None:
    _, password = portal.account("sam.raced", Role.AO)
    session = asyncio.run(portal.auth.sign_in("sam.raced", password)).session
    assert session is not None
    reset_hash = "reset by an operator"
    stored = portal.accounts.rows["sam.raced"]
    original = portal.accounts.count_attempt

    async def reset_meanwhile(username: str, count: Callable[[Account], SignInState]) -> Any:
        found = await original(username, count)
        portal.accounts.rows["sam.raced"] = (stored[0], reset_hash)  # after the check read the old hash
        return found

    portal.accounts.count_attempt = reset_meanwhile  # type: ignore[method-assign]
    outcome = asyncio.run(portal.auth.change_own_password("sam.raced", password, NEW))

    assert outcome.value == "changed_meanwhile"
    assert portal.accounts.rows["sam.raced"][1] == reset_hash


def test_a_locked_account_changes_nothing_even_given_the_right_password(portal: StubbedPortal) -> None:
    _, password = portal.account("kim.locked", Role.AO)
    for attempt in range(5):
        asyncio.run(portal.auth.sign_in("kim.locked", f"wrong guess {attempt}"))

    outcome = asyncio.run(portal.auth.change_own_password("kim.locked", password, NEW))

    assert outcome.value == "locked"
    assert portal.accounts.rows["kim.locked"][0].sign_in.locked_until is not None


def test_a_disabled_account_answers_every_password_alike_and_changes_nothing(portal: StubbedPortal) -> None:
    """A request under way when the account was disabled cannot tell a right guess from a wrong one."""
    _, password = portal.account("ray.disabled", Role.AO)
    asyncio.run(portal.auth.disable_account("ray.disabled", by="operator:tests"))
    stored_hash = portal.accounts.rows["ray.disabled"][1]

    right = asyncio.run(portal.auth.change_own_password("ray.disabled", password, NEW))
    wrong = asyncio.run(portal.auth.change_own_password("ray.disabled", "a wrong guess here", NEW))

    assert right == wrong and right.value == "wrong_password"
    assert portal.accounts.rows["ray.disabled"][1] == stored_hash
