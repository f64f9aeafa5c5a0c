"""Decision 0128: a person who has forgotten their password asks for a link by email and chooses a new one
with it; the pages say the same whether or not the account exists, and a link works once, for a while, and
only until the password changes some other way."""

from __future__ import annotations

import asyncio
import re
from collections.abc import MutableMapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
import structlog.testing
from fastapi.testclient import TestClient
from httpx import Response
from services.portal.tests.unit.stubbed_portal import (
    RESET_LINKS,
    MemoryAccounts,
    MemoryMailer,
    StubbedPortal,
    stubbed_portal,
)

from portal import bootstrap
from portal.accounts import (
    Account,
    AccountChange,
    AddressChange,
    InvalidAccount,
    Role,
    SignInOutcome,
    SignInState,
    checked_email,
)
from portal.auth import utc_now
from portal.config import PortalSettings
from portal.csrf import FIELD
from portal.password_emails import PasswordEmails
from portal.reset_links import (
    FORGOTTEN_PASSWORD_PAGE,
    ClientRequest,
    KeptRequest,
    judge_client_request,
    requesting_client,
)
from portal.sessions import token_hash
from portal.store import LinkRefusal
from portal.web.common import CHANGE_WORDS

NEW = "correct horse battery staple"
EMAIL = "nia@ao.example"
LINK = re.compile(re.escape(RESET_LINKS.public_url) + r"/account/reset/([A-Za-z0-9_-]+)")


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal(sends_reset_links=True)


def _form_token(page: Response) -> str:
    found = re.search(rf'name="{FIELD}" value="([^"]+)"', page.text)
    assert found, "the page has no form token"
    return found.group(1)


def _ask(client: TestClient, username: str) -> Response:
    token = _form_token(client.get("/account/forgotten-password"))
    answer: Response = client.post("/account/forgotten-password", data={FIELD: token, "username": username})
    return answer


def _link_token(portal: StubbedPortal) -> str:
    found = LINK.search(portal.mailer.sent[-1].get_content())
    assert found, "the email holds no link"
    return found.group(1)


def _choose(client: TestClient, token: str, new: str = NEW, again: str | None = None) -> Response:
    form_token = _form_token(client.get(f"/account/reset/{token}"))
    values = {FIELD: form_token, "new_password": new, "new_password_again": new if again is None else again}
    answer: Response = client.post(f"/account/reset/{token}", data=values)
    return answer


def test_the_sign_in_page_offers_the_way_back_in(portal: StubbedPortal) -> None:
    assert 'href="/account/forgotten-password"' in portal.client().get("/sign-in").text


def test_a_link_by_email_lets_the_person_choose_a_new_password(portal: StubbedPortal) -> None:
    account, given = portal.account("nia.lost", email=EMAIL)
    for _ in range(5):
        asyncio.run(portal.auth.sign_in("nia.lost", "wrong guess"))  # locked out, too
    signed_in_elsewhere = portal.client()
    client = portal.client()

    asked = _ask(client, "  Nia.Lost ")
    sent_page = client.get(asked.headers["location"])
    [email] = portal.mailer.sent
    token = _link_token(portal)
    form = client.get(f"/account/reset/{token}")
    chosen = _choose(client, token)

    assert (asked.status_code, asked.headers["location"]) == (303, "/account/forgotten-password?sent=1")
    assert "Check your email" in sent_page.text
    assert (email["To"], email["From"]) == (EMAIL, RESET_LINKS.mail_from)
    assert "nia.lost" in email.get_content() and "works once" in email.get_content()
    # the expiry says its day as well as its time, the day as the other emails write it (no leading zero)
    assert re.search(r"before \d\d:\d\d on [1-9]\d? [A-Z][a-z]+ \d{4} \(UK time\)", email.get_content())
    assert form.status_code == 200 and "nia.lost" in form.text
    assert (chosen.status_code, chosen.headers["location"]) == (303, "/sign-in?password_reset=1")
    assert "Your new password is set" in signed_in_elsewhere.get("/sign-in?password_reset=1").text
    result = asyncio.run(portal.auth.sign_in("nia.lost", NEW))
    assert result.outcome is SignInOutcome.SIGNED_IN and result.session is not None  # the lock-out lifted
    assert not result.session.account.password_given
    assert asyncio.run(portal.auth.sign_in("nia.lost", given)).session is None
    assert [(c.changed_by, c.change) for c in portal.accounts.changed][-2:] == [
        (FORGOTTEN_PASSWORD_PAGE, AccountChange.RESET_LINK_REQUESTED),
        (account.who, AccountChange.PASSWORD_RESET_BY_LINK),
    ]


def test_choosing_a_password_ends_every_session_of_the_account(portal: StubbedPortal) -> None:
    _, given = portal.account("nia.lost", email=EMAIL)
    session = asyncio.run(portal.auth.sign_in("nia.lost", given)).session
    assert session is not None
    _ask(portal.client(), "nia.lost")

    _choose(portal.client(), _link_token(portal))

    assert asyncio.run(portal.auth.session_for(session.token)) is None
    assert session.service_key.split("_")[1] not in portal.keys.live


@pytest.mark.parametrize("case", ["unknown", "no email", "disabled", "malformed"])
def test_the_answer_is_the_same_when_no_link_is_sent(portal: StubbedPortal, case: str) -> None:
    portal.account("with.email", email=EMAIL)
    portal.account("no.email")
    portal.account("gone", email="gone@ao.example")
    asyncio.run(portal.auth.disable_account("gone", by="operator:tests"))
    username = {"unknown": "nobody.here", "no email": "no.email", "disabled": "gone", "malformed": "Not A Name!"}[case]
    client = portal.client()

    sent = _ask(client, "with.email")
    not_sent = _ask(client, username)

    assert (not_sent.status_code, not_sent.headers["location"]) == (sent.status_code, sent.headers["location"])
    assert [message["To"] for message in portal.mailer.sent] == [EMAIL]


def test_a_link_works_once(portal: StubbedPortal) -> None:
    portal.account("nia.lost", email=EMAIL)
    _ask(portal.client(), "nia.lost")
    token = _link_token(portal)
    _choose(portal.client(), token)

    again = portal.client().get(f"/account/reset/{token}")

    assert again.status_code == 404 and "This link does not work" in again.text
    assert asyncio.run(portal.auth.reset_password_by_link(token, "another long password")) is None


def test_a_link_stops_working_when_it_runs_out(portal: StubbedPortal) -> None:
    portal.account("nia.lost", email=EMAIL)
    client = portal.client()
    _ask(client, "nia.lost")
    expiring = _link_token(portal)
    assert client.get(f"/account/reset/{expiring}").status_code == 200

    portal.accounts.reset_links[token_hash(expiring)]["expires_at"] = utc_now() - timedelta(seconds=1)

    assert client.get(f"/account/reset/{expiring}").status_code == 404
    assert asyncio.run(portal.auth.reset_password_by_link(expiring, NEW)) is None


def test_a_link_stops_working_when_the_password_changes_another_way(portal: StubbedPortal) -> None:
    portal.account("nia.lost", email=EMAIL)
    client = portal.client()
    _ask(client, "nia.lost")
    sent_before = _link_token(portal)

    asyncio.run(portal.auth.reset_password("nia.lost", by="operator:tests"))  # an operator's reset meanwhile

    assert client.get(f"/account/reset/{sent_before}").status_code == 404


def test_an_account_is_sent_only_so_many_links_an_hour(portal: StubbedPortal) -> None:
    portal.account("nia.lost", email=EMAIL)
    client = portal.client()

    answers = {_ask(client, "nia.lost").headers["location"] for _ in range(RESET_LINKS.most_per_hour + 2)}

    assert answers == {"/account/forgotten-password?sent=1"}
    assert len(portal.mailer.sent) == RESET_LINKS.most_per_hour


def test_a_new_password_follows_the_rules_and_is_typed_the_same_twice(portal: StubbedPortal) -> None:
    portal.account("nia.lost", email=EMAIL)
    _ask(portal.client(), "nia.lost")
    token = _link_token(portal)
    client = portal.client()

    short = _choose(client, token, "short")
    different = _choose(client, token, NEW, NEW + "!")
    empty = _choose(client, token, "")

    assert short.status_code == 400 and "at least 12 characters" in short.text
    assert different.status_code == 400 and "not the same both times" in different.text
    assert empty.status_code == 400 and "Enter a new password" in empty.text
    assert _choose(client, token).status_code == 303  # the link still works after refused attempts


def test_a_link_refuses_the_password_an_operator_gave_as_the_own_password_page_does(portal: StubbedPortal) -> None:
    _, given = portal.account("nia.given", email=EMAIL)
    _ask(portal.client(), "nia.given")
    token = _link_token(portal)
    client = portal.client()

    refused = _choose(client, token, given)

    assert refused.status_code == 400 and "other than the one you have now" in refused.text.replace("&#39;", "'")
    assert portal.accounts.rows["nia.given"][0].password_given
    assert _choose(client, token).status_code == 303  # the link still works, for a password of their own
    assert not portal.accounts.rows["nia.given"][0].password_given


def test_a_link_does_not_compare_a_password_the_person_chose(portal: StubbedPortal) -> None:
    """Only a given password is compared: a link is no way to test guesses at one the person chose."""
    _, given = portal.account("nia.chose", email=EMAIL)
    asyncio.run(portal.auth.change_own_password("nia.chose", given, NEW))
    _ask(portal.client(), "nia.chose")

    chosen_again = _choose(portal.client(), _link_token(portal), NEW)

    assert chosen_again.status_code == 303
    assert asyncio.run(portal.auth.sign_in("nia.chose", NEW)).session is not None


def test_the_forms_need_their_form_token(portal: StubbedPortal) -> None:
    portal.account("nia.lost", email=EMAIL)
    client = portal.client()
    asked = client.post("/account/forgotten-password", data={"username": "nia.lost"})
    _ask(client, "nia.lost")
    token = _link_token(portal)
    client.get(f"/account/reset/{token}")

    chosen = client.post(f"/account/reset/{token}", data={"new_password": NEW, "new_password_again": NEW})

    assert asked.status_code == 403 and chosen.status_code == 403
    assert len(portal.mailer.sent) == 1 and client.get(f"/account/reset/{token}").status_code == 200


def test_a_token_that_cannot_be_one_is_not_looked_up(portal: StubbedPortal) -> None:
    looked_up: list[str] = []
    holder = portal.accounts.reset_link_holder

    async def recorded(hashed: str) -> Account | None:
        looked_up.append(hashed)
        return await holder(hashed)

    portal.accounts.reset_link_holder = recorded  # type: ignore[method-assign,assignment]
    answers = [portal.client().get(f"/account/reset/{token}").status_code for token in ("x", "a" * 200, "%00" * 40)]

    assert answers == [404, 404, 404] and looked_up == []


def test_a_relay_that_is_away_changes_nothing_the_person_sees(portal: StubbedPortal) -> None:
    portal.account("nia.lost", email=EMAIL)
    portal.mailer.refusing = True

    asked = _ask(portal.client(), "nia.lost")

    assert (asked.status_code, asked.headers["location"]) == (303, "/account/forgotten-password?sent=1")
    assert portal.mailer.sent == []


def test_without_a_mail_relay_the_page_sends_people_to_an_operator() -> None:
    portal = stubbed_portal()
    client = portal.client()

    page = client.get("/account/forgotten-password")
    form_token = client.cookies.get(portal.cookies.sign_in_cookie)  # a form sent from some older page
    asked = client.post("/account/forgotten-password", data={FIELD: form_token or "", "username": "nia.lost"})

    assert page.status_code == 200 and "Ask an LRS operator" in page.text and 'name="username"' not in page.text
    assert asked.status_code == 404


def test_every_kind_of_account_change_has_words_on_the_accounts_pages(portal: StubbedPortal) -> None:
    assert set(CHANGE_WORDS) == {change.value for change in AccountChange}
    _, password = portal.account("nia.own", email=EMAIL)
    session = asyncio.run(portal.auth.sign_in("nia.own", password)).session
    assert session is not None
    asyncio.run(portal.auth.change_own_password("nia.own", password, NEW))
    _ask(portal.client(), "nia.own")
    client, _ = portal.signed_in(Role.OPERATOR)

    page = client.get("/ops/accounts")

    assert page.status_code == 200
    assert "password changed by its owner" in page.text and "forgotten-password link asked for" in page.text
    assert portal.accounts.rows["nia.own"][0].sign_in == SignInState()


# --- the address links go to: set by an operator, or by the person with their password -----------------


def _email_form(client: TestClient, path: str, **values: str) -> Response:
    page = client.get(path)
    assert page.status_code == 200, page.text
    answer: Response = client.post(path, data={FIELD: _form_token(page), **values})
    return answer


def test_an_operator_sets_an_ao_users_address_and_links_sent_before_stop_working(portal: StubbedPortal) -> None:
    portal.account("nia.lost", email=EMAIL)
    _ask(portal.client(), "nia.lost")
    sent_before = _link_token(portal)
    client, operator = portal.signed_in(Role.OPERATOR, frozenset({"accounts"}))

    refused = _email_form(client, "/ops/accounts/nia.lost/email", email="not an address")
    saved = _email_form(client, "/ops/accounts/nia.lost/email", email=" nia@new.example ")
    listed = client.get("/ops/accounts")
    _ask(portal.client(), "nia.lost")

    assert refused.status_code == 400 and "in the correct format" in refused.text
    assert (saved.status_code, saved.headers["location"]) == (303, "/ops/accounts")
    assert "nia@new.example" in listed.text
    assert portal.client().get(f"/account/reset/{sent_before}").status_code == 404
    assert portal.mailer.sent[-1]["To"] == "nia@new.example"
    assert (portal.accounts.changed[-2].changed_by, portal.accounts.changed[-2].detail) == (
        operator.account.who,
        f"from {EMAIL} to nia@new.example",
    )
    [notice] = [
        message for message in portal.mailer.sent if message["To"] == EMAIL and "has changed" in message["Subject"]
    ]
    assert "an LRS operator" in notice.get_content() and "nia@new.example" not in notice.get_content()


def test_an_operators_address_is_changed_only_by_an_operator_with_every_duty(portal: StubbedPortal) -> None:
    portal.account("ops.other", Role.OPERATOR, email="other@lrs.example")
    limited, limited_session = portal.signed_in(Role.OPERATOR, frozenset({"accounts"}))
    every, every_session = portal.signed_in(Role.OPERATOR)

    by_limited = limited.post("/ops/accounts/ops.other/email", data={FIELD: limited_session.csrf_token, "email": ""})
    own = every.get(f"/ops/accounts/{every_session.account.username}/email")
    by_every = every.post("/ops/accounts/ops.other/email", data={FIELD: every_session.csrf_token, "email": ""})

    assert by_limited.status_code == 403 and own.status_code == 403
    assert by_every.status_code == 303 and portal.accounts.rows["ops.other"][0].email is None
    assert 'href="/ops/accounts/ops.other/email"' not in limited.get("/ops/accounts").text


def test_a_person_changes_their_own_address_with_their_password(portal: StubbedPortal) -> None:
    account, password = portal.account("nia.own", email=EMAIL)
    session = asyncio.run(portal.auth.sign_in("nia.own", password)).session
    assert session is not None
    client = portal.client()
    client.cookies.set(portal.cookies.session_cookie, session.token)

    wrong = _email_form(client, "/account/email", email="<me@ao.example>", current_password="not it")
    garbled = _email_form(client, "/account/email", email="[me@ao.example", current_password=password)
    counted = portal.accounts.rows["nia.own"][0].sign_in.failed_attempts
    saved = _email_form(client, "/account/email", email="me@ao.example", current_password=password)
    shown = client.get(saved.headers["location"])

    assert wrong.status_code == 400 and "in the correct format" in wrong.text and counted == 0  # refused first
    assert garbled.status_code == 400 and "in the correct format" in garbled.text
    wrong = _email_form(client, "/account/email", email="me@ao.example", current_password="not it")
    assert wrong.status_code == 400 and "That is not your password" in wrong.text
    assert portal.accounts.rows["nia.own"][0].sign_in.failed_attempts == 1
    assert (saved.status_code, saved.headers["location"]) == (303, "/account/email?changed=1")
    assert "Your email address is now me@ao.example" in shown.text
    assert (portal.accounts.changed[-1].changed_by, portal.accounts.changed[-1].change) == (
        account.who,
        AccountChange.EMAIL_CHANGED,
    )
    [notice] = portal.mailer.sent  # to the address the account had
    assert notice["To"] == EMAIL and "someone signed in as you" in notice.get_content()


def test_the_page_answers_before_it_looks_for_the_account_or_sends_anything(portal: StubbedPortal) -> None:
    """What the page says, and when, is the same whatever the username: the work comes after the answer."""
    portal.account("nia.lost", email=EMAIL)
    client = portal.client()
    form_token = _form_token(client.get("/account/forgotten-password"))
    cookie = f"{portal.cookies.sign_in_cookie}={client.cookies.get(portal.cookies.sign_in_cookie)}"
    happened: list[str] = []
    keep = portal.accounts.keep_reset_link

    async def looked_up(*args: Any, **kwargs: Any) -> Account | LinkRefusal:
        happened.append("looked up")
        return await keep(*args, **kwargs)

    portal.accounts.keep_reset_link = looked_up  # type: ignore[method-assign]
    body = urlencode({FIELD: form_token, "username": "nia.lost"}).encode()

    async def post() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                happened.append("answered")

        headers = [(b"content-type", b"application/x-www-form-urlencoded"), (b"cookie", cookie.encode())]
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
            "path": "/account/forgotten-password", "raw_path": b"/account/forgotten-password", "query_string": b"",
            "root_path": "", "headers": headers, "client": ("127.0.0.1", 1), "server": ("portal", 80),
        }  # fmt: skip
        await portal.app(scope, receive, send)

    asyncio.run(post())

    assert happened == ["answered", "looked up"] and len(portal.mailer.sent) == 1


def test_opening_the_sign_in_page_meanwhile_leaves_an_open_reset_form_valid(portal: StubbedPortal) -> None:
    portal.account("nia.lost", email=EMAIL)
    _ask(portal.client(), "nia.lost")
    token = _link_token(portal)
    client = portal.client()
    form_token = _form_token(client.get(f"/account/reset/{token}"))

    client.get("/sign-in")  # another tab
    chosen = client.post(
        f"/account/reset/{token}", data={FIELD: form_token, "new_password": NEW, "new_password_again": NEW}
    )

    assert chosen.status_code == 303


def test_the_reset_page_sends_its_address_to_no_one(portal: StubbedPortal) -> None:
    portal.account("nia.lost", email=EMAIL)
    _ask(portal.client(), "nia.lost")
    token = _link_token(portal)

    page = portal.client().get(f"/account/reset/{token}")

    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert 'autocomplete="username"' in page.text  # password managers know whose password it is


def test_an_address_list_is_no_address_and_gets_no_link(portal: StubbedPortal) -> None:
    with pytest.raises(InvalidAccount):
        checked_email("nia@ao.example, eve@evil.example")
    account, _ = portal.account("nia.lost")
    portal.accounts.rows["nia.lost"] = (replace(account, email="nia@ao.example,eve@evil.example"), "hash")

    asked = _ask(portal.client(), "nia.lost")  # an address stored before addresses were checked

    assert asked.status_code == 303 and portal.mailer.sent == []


@pytest.mark.parametrize("address", ["siân@ao.example", "zoë.llŷr@ao.example", "nia@bücher.example"])
def test_an_address_with_letters_beyond_ascii_is_an_account_address_as_it_is_a_batchs(
    portal: StubbedPortal, address: str
) -> None:
    """Decision 0159: non-ASCII letters stay allowed (SMTPUTF8); the portal refused them in the local part."""
    assert checked_email(address) == address
    portal.account("sian.llyr", email=address)

    _ask(portal.client(), "sian.llyr")

    [email] = portal.mailer.sent
    assert email["To"] == address


def test_a_failure_of_any_kind_after_the_answer_reaches_only_the_log(portal: StubbedPortal) -> None:
    portal.account("nia.lost", email=EMAIL)

    async def broken(message: object) -> None:
        raise RuntimeError("relay said something about nia@ao.example")

    portal.mailer.send = broken  # type: ignore[method-assign]
    with structlog.testing.capture_logs() as logs:
        asked = _ask(portal.client(), "nia.lost")

    assert asked.status_code == 303
    [failed] = [entry for entry in logs if entry["event"] == "reset_link_not_sent"]
    assert failed["error"] == "RuntimeError" and EMAIL not in str(logs)


def test_the_log_says_why_no_link_went_and_names_no_one(portal: StubbedPortal) -> None:
    portal.account("nia.lost", email=EMAIL)
    portal.account("kai.noaddress")
    client = portal.client()

    with structlog.testing.capture_logs() as logs:
        for username in ("nobody.here", "kai.noaddress", *["nia.lost"] * (RESET_LINKS.most_per_hour + 1)):
            _ask(client, username)

    reasons = [entry["reason"] for entry in logs if entry["event"] == "reset_link_not_sent"]
    assert reasons == ["no_account", "no_address", "share_used"]
    assert not any(name in str(logs) for name in ("nobody.here", "kai.noaddress", "nia.lost", EMAIL))


def test_a_client_is_answered_only_so_many_requests_an_hour_whatever_the_usernames(portal: StubbedPortal) -> None:
    """Decision 0148: beyond its share a client's requests send nothing, and the page says so to no one."""
    most = RESET_LINKS.most_requests_per_client
    usernames = [f"nia.{n}" for n in range(most + 3)]
    for username in usernames:
        portal.account(username, email=f"{username}@ao.example")
    client = portal.client()

    with structlog.testing.capture_logs() as logs:
        answers = {_ask(client, username).headers["location"] for username in ["nobody.here", *usernames]}

    assert answers == {"/account/forgotten-password?sent=1"}
    assert len(portal.mailer.sent) == most - 1  # the name that is no account counted too
    assert f"more than {most} requests an hour from one network" in client.get(answers.pop()).text
    [warning] = [entry for entry in logs if entry.get("reason") == "client_share_used"]
    assert warning["log_level"] == "warning" and warning["most_per_hour"] == most
    assert not any(name in str(logs) for name in ("testclient", "nobody.here", *usernames))
    sending = portal.app.state.portal.password_emails
    assert asyncio.run(sending.send_link(usernames[-1], client="198.51.100.4"))  # another client's share


ELEVEN = datetime(2026, 12, 3, 11, 0, tzinfo=UTC)


def _at(minutes: float) -> datetime:
    """Minutes after (before, when negative) 11:00."""
    return ELEVEN + timedelta(minutes=minutes)


def test_a_clients_share_is_of_the_last_60_minutes_not_of_a_clock_hour() -> None:
    """Decision 0148: 10 requests answered just before 11:00 leave none for just after (a count by clock hour
    started again at 11:00, so a client could make 20 in two minutes); the next is answered once the first of
    them is 60 minutes old. Beyond the share, only the first in 60 minutes is said apart (to be logged)."""
    kept = [KeptRequest(_at(-1 + n / 20), answered=True) for n in range(10)]  # 10:59:00 to 10:59:27

    assert judge_client_request(kept[:9], _at(1), most=10) is ClientRequest.ANSWERED
    assert judge_client_request(kept, _at(1), most=10) is ClientRequest.FIRST_BEYOND
    refused = [*kept, KeptRequest(_at(1), answered=False)]
    assert judge_client_request(refused, _at(2), most=10) is ClientRequest.BEYOND
    assert judge_client_request(refused, _at(58.99), most=10) is ClientRequest.BEYOND
    assert judge_client_request(refused, _at(59), most=10) is ClientRequest.ANSWERED  # 10:59:00's is 60 minutes old
    logged_at_eleven_one = [KeptRequest(_at(1), answered=False), KeptRequest(_at(30), answered=True)]
    assert judge_client_request(logged_at_eleven_one, _at(60.5), most=1) is ClientRequest.BEYOND
    assert judge_client_request(logged_at_eleven_one, _at(61), most=1) is ClientRequest.FIRST_BEYOND  # logged again
    set_back = [KeptRequest(_at(5), answered=True)]  # kept by a clock since set back: it counts, not ignored
    assert judge_client_request(set_back, _at(4), most=1) is ClientRequest.FIRST_BEYOND


def test_a_client_asking_all_the_time_is_answered_its_share_in_any_60_minutes_and_logged_once_in_them() -> None:
    """A request a minute for three hours, judged and kept as the stores do: never more than the share answered
    in any 60 minutes (across every clock hour's turn), the share answered again as the hour rolls on, and one
    warning in any 60 minutes."""
    kept: list[KeptRequest] = []
    judged: dict[datetime, ClientRequest] = {}
    for minute in range(-90, 90):
        now = _at(minute)
        judged[now] = judge_client_request(kept, now, most=10)
        if judged[now] is not ClientRequest.BEYOND:
            kept.append(KeptRequest(now, judged[now] is ClientRequest.ANSWERED))

    for start in range(-150, 90):
        window = [judgement for at, judgement in judged.items() if _at(start) < at <= _at(start + 60)]
        assert window.count(ClientRequest.ANSWERED) <= 10
        assert window.count(ClientRequest.FIRST_BEYOND) <= 1
    answered = [at for at, judgement in judged.items() if judgement is ClientRequest.ANSWERED]
    assert len(answered) == 30 and answered[10] == answered[0] + timedelta(hours=1)
    assert len(kept) <= 3 * 11  # beyond the share, only the first in 60 minutes is kept


@pytest.mark.parametrize(
    ("address", "counted_as"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("testclient", "testclient"),
    ],
)
def test_a_request_counts_against_its_address_or_an_ipv6_addresss_network(address: str, counted_as: str) -> None:
    assert requesting_client(address) == counted_as


def test_requests_beyond_those_under_way_at_once_are_dropped() -> None:
    async def flood() -> tuple[list[bool], list[bool]]:
        links = _HeldLinks()
        sending = PasswordEmails(links, MemoryMailer(), RESET_LINKS, most_at_once=2)
        asked = [asyncio.create_task(sending.send_link("nia.lost", client="203.0.113.7")) for _ in range(5)]
        beyond = [await task for task in asked[2:]]  # answered while the first two are held
        links.held.set()
        return beyond, [await task for task in asked[:2]]

    assert asyncio.run(flood()) == ([False, False, False], [True, True])


class _HeldLinks:
    """Keeps every link once `held` is set: until then the requests are under way together."""

    def __init__(self) -> None:
        self.held = asyncio.Event()

    async def count_link_request(self, client: str, *, most_per_hour: int) -> ClientRequest:
        return ClientRequest.ANSWERED

    async def keep_reset_link(self, username: str, token_hash: str, expires_at: datetime, **kwargs: Any) -> Account:
        await self.held.wait()
        return Account(username, "Nia", Role.AO, "RN9093", EMAIL)

    async def forget_reset_link(self, token_hash: str) -> None:
        raise AssertionError("every link goes")

    async def send_operator_link(self, username: str, token_hash: str, expires_at: datetime, **kwargs: Any) -> Account:
        raise AssertionError("a forgotten-password request sends no operator's link")


def test_links_in_emails_go_over_https_unless_cookies_are_for_local_http() -> None:
    with pytest.raises(ValueError, match="must be https"):
        PortalSettings(public_url="http://portal.lrs.example", smtp_host="relay")
    assert PortalSettings(public_url="http://127.0.0.1:8007", smtp_host="relay", cookie_secure=False).sends_reset_links


def test_a_clients_hourly_share_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert PortalSettings().reset_link_requests_per_client_per_hour == 10
    monkeypatch.setenv("PORTAL_RESET_LINK_REQUESTS_PER_CLIENT_PER_HOUR", "25")
    settings = PortalSettings(public_url="https://portal.lrs.example", smtp_host="relay")

    sending = bootstrap._password_emails(settings, MemoryAccounts())  # type: ignore[arg-type]

    assert sending is not None and sending.policy.most_requests_per_client == 25


def test_every_email_of_the_portal_is_dated_as_rfc_5322_requires() -> None:
    """A message without Date is sorted oddly by mail clients and marked down by spam filters."""
    from email.utils import parsedate_to_datetime

    from portal.reset_links import address_changed_email, first_password_email, operator_link_email, reset_email

    account = Account("nia", "Nia", Role.AO, "RN9093", EMAIL)
    expires = datetime.now(UTC) + timedelta(minutes=30)
    link = "https://portal.test/reset?token=x"
    sent = [
        make(account, link, expires, RESET_LINKS) for make in (reset_email, first_password_email, operator_link_email)
    ]
    notice = address_changed_email(AddressChange(account, "old@ao.example", by_operator=True), expires, RESET_LINKS)
    assert notice is not None
    before = datetime.now(UTC) - timedelta(seconds=5)
    for message in [*sent, notice]:
        dated = parsedate_to_datetime(message["Date"])
        assert before <= dated <= datetime.now(UTC) + timedelta(seconds=1), message["Date"]
