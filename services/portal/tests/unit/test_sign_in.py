"""Signing in, over the in-memory stores: which attempts have their password checked, what each answers,
and that a session is opened only with the account's current password."""

from __future__ import annotations

import re

import pytest
from services.portal.tests.unit.stubbed_portal import MemorySessions, StubbedPortal, stubbed_portal

from portal import passwords
from portal.accounts import Role, SignInOutcome, SignInState


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """The password hashes checked, in order (None: the decoy an unknown name is checked against)."""
    calls: list[str | None] = []
    verify = passwords.verify_password

    def counted(password_hash: str | None, password: str) -> bool:
        calls.append(password_hash)
        return verify(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", counted)
    return calls


async def test_the_right_password_on_the_attempt_that_reaches_the_threshold_signs_in(portal: StubbedPortal) -> None:
    _, password = await portal.auth.create_account("lee", "Lee", Role.AO, "RN9093", None, by="operator:tests")
    for _ in range(4):
        assert (await portal.auth.sign_in("lee", "wrong")).outcome is SignInOutcome.WRONG_CREDENTIALS

    result = await portal.auth.sign_in("lee", password)

    assert result.outcome is SignInOutcome.SIGNED_IN and result.session is not None
    assert portal.accounts.rows["lee"][0].sign_in == SignInState()


async def test_a_locked_accounts_password_is_not_checked(portal: StubbedPortal, checked: list[str | None]) -> None:
    _, password = await portal.auth.create_account("lee", "Lee", Role.AO, "RN9093", None, by="operator:tests")
    answers = [(await portal.auth.sign_in("lee", "wrong")).outcome for _ in range(5)]
    checked.clear()

    result = await portal.auth.sign_in("lee", password)

    assert answers == [SignInOutcome.WRONG_CREDENTIALS] * 4 + [SignInOutcome.LOCKED]
    assert result.outcome is SignInOutcome.LOCKED and result.locked_until is not None
    # the decoy only: the guess is not tested against the account's hash, yet the answer takes a check's time, as
    # an unknown name's does (answered at once, it told anyone who locked a name that it was real: a code review)
    assert checked == [None]


async def test_a_disabled_account_answers_wrong_credentials_even_when_locked(portal: StubbedPortal) -> None:
    _, password = await portal.auth.create_account("lee", "Lee", Role.AO, "RN9093", None, by="operator:tests")
    for _ in range(5):
        await portal.auth.sign_in("lee", "wrong")
    await portal.auth.disable_account("lee", by="operator:tests")

    assert (await portal.auth.sign_in("lee", password)).outcome is SignInOutcome.WRONG_CREDENTIALS


async def test_a_username_no_account_can_have_is_not_looked_up(portal: StubbedPortal) -> None:
    result = await portal.auth.sign_in("lee\x00", "whatever")  # the memory store refuses NUL as PostgreSQL does

    assert result.outcome is SignInOutcome.WRONG_CREDENTIALS


async def test_an_unknown_username_is_checked_against_the_decoy(
    portal: StubbedPortal, checked: list[str | None]
) -> None:
    assert (await portal.auth.sign_in("nobody", "whatever")).outcome is SignInOutcome.WRONG_CREDENTIALS
    assert checked == [None]


class PasswordResetMeanwhile(MemorySessions):
    """An operator resets the password after the sign-in checked it and before its session is stored."""

    def __init__(self, portal: StubbedPortal) -> None:
        super().__init__(portal.accounts)
        self.portal = portal

    async def create(self, *args: object, **kwargs: object) -> bool:
        username = args[1]
        assert isinstance(username, str)
        await self.portal.auth.reset_password(username, by="operator:tests")
        return await super().create(*args, **kwargs)  # type: ignore[arg-type]


async def test_a_sign_in_whose_password_is_reset_meanwhile_opens_no_session(portal: StubbedPortal) -> None:
    _, password = await portal.auth.create_account("lee", "Lee", Role.AO, "RN9093", None, by="operator:tests")
    sessions = PasswordResetMeanwhile(portal)
    portal.auth._sessions = sessions  # type: ignore[assignment]
    keys_before = set(portal.keys.live)

    result = await portal.auth.sign_in("lee", password)

    assert result.outcome is SignInOutcome.WRONG_CREDENTIALS and result.session is None
    assert sessions.rows == {}
    assert set(portal.keys.live) == keys_before, "the key issued for the session is revoked"


def test_the_page_says_the_same_of_a_locked_account_and_of_a_name_no_account_has(portal: StubbedPortal) -> None:
    """Saying "locked" only of accounts would tell anyone trying names which ones exist."""
    _, password = portal.account("kai")
    client = portal.client()
    client.get("/sign-in")  # the form's token, in its cookie

    def attempt(username: str, password: str) -> str:
        token = client.cookies.get(portal.cookies.sign_in_cookie)
        answer = client.post("/sign-in", data={"username": username, "password": password, "csrf_token": token})
        assert answer.status_code == 400
        said = re.search(r"govuk-error-summary__list\">\s*<li><a href=\"#username\">([^<]+)</a>", answer.text)
        assert said, answer.text
        return said.group(1)

    wrong = [attempt("kai", "not it") for _ in range(6)]
    nobody = [attempt("nobody.here", "not it") for _ in range(6)]
    locked_right_password = attempt("kai", password)

    assert portal.accounts.rows["kai"][0].sign_in.locked_until is not None  # it did lock
    assert len({*wrong, *nobody, locked_right_password}) == 1
    assert wrong[0].startswith("The username or password is not right. After 5 wrong passwords in a row")


def test_signing_in_again_in_a_browser_ends_the_session_it_held(portal: StubbedPortal) -> None:
    """Its cookie is replaced: the earlier session (and its key) must not go on working for whoever kept the cookie."""
    _, first_password = portal.account("kai")
    _, second_password = portal.account("lee")
    client = portal.client()

    def sign_in(username: str, password: str) -> str:
        client.get("/sign-in")
        token = client.cookies.get(portal.cookies.sign_in_cookie)
        answer = client.post("/sign-in", data={"username": username, "password": password, "csrf_token": token})
        assert answer.status_code == 303, answer.text
        session: str | None = client.cookies.get(portal.cookies.session_cookie)
        assert session is not None
        return session

    first = sign_in("kai", first_password)
    keys_of_the_first = set(portal.keys.live)
    second = sign_in("lee", second_password)

    earlier = portal.client()
    earlier.cookies.set(portal.cookies.session_cookie, first)
    assert earlier.get("/contact").status_code == 303  # to the sign-in page: that session ended
    assert second != first and not keys_of_the_first & set(portal.keys.live)
