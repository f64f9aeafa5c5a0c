"""A double-click on "Issue key" or "Create an account" (the browser sends the form twice and shows the answer to the
second): each form carries a one-time id made when the page is shown, so the key is issued once and the account
created once, and the second answer is the first's result page, not an error."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, shown_after, stubbed_portal

from lrs_platform.credential_store import IssuedKey
from lrs_platform.identity import Principal, PrincipalKind
from portal.accounts import Role
from portal.auth import utc_now
from portal.store import SentForm
from portal.web import account_pages

NEW_STAFF = {"username": "dbl.click", "display_name": "Dee Click", "role": "ao", "ao_id": "RN9093", "email": ""}


class MemorySentForms:
    """portal.store.SentForms in memory: an id is claimed once; a failed first send gives it back."""

    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, dict[str, Any]] = {}
        self.claims = 0
        self.claimed_again = asyncio.Event()  # a send found the id claimed by another, still acting

    async def claim(self, username: str, form_id: uuid.UUID, form: str) -> SentForm | None:
        self.claims += 1
        row = self.rows.get(form_id)
        if row is None:
            self.rows[form_id] = {"username": username, "form": form, "outcome": None, "sent_at": utc_now()}
            return None
        if row["outcome"] is None:
            self.claimed_again.set()
        return SentForm(row["username"], row["form"], row["outcome"])

    async def done(self, form_id: uuid.UUID, outcome: dict[str, Any]) -> None:
        self.rows[form_id]["outcome"] = outcome

    async def give_back(self, form_id: uuid.UUID) -> None:
        if form_id in self.rows and self.rows[form_id]["outcome"] is None:
            del self.rows[form_id]

    async def forget_older_than(self, moment: datetime) -> None:
        self.rows = {key: row for key, row in self.rows.items() if row["sent_at"] >= moment}


@pytest.fixture
def portal() -> StubbedPortal:
    stub = stubbed_portal()
    stub.uploads.forms = MemorySentForms()
    return stub


def sent_forms(portal: StubbedPortal) -> MemorySentForms:
    forms: MemorySentForms = portal.uploads.forms
    return forms


def form_ids(page: str) -> dict[str, str]:
    """The one-time id of each of the accounts page's forms that act once, by where the form posts."""
    found = re.findall(r'<form method="post" action="(/ops/accounts|/ops/keys)"[^>]*>(.*?)</form>', page, re.S)
    ids = {action: re.search(r'name="form_id" value="([0-9a-f-]{36})"', body) for action, body in found}
    return {action: matched.group(1) for action, matched in ids.items() if matched}


def live_keys_of(portal: StubbedPortal, ao_id: str) -> list[str]:
    return [key_id for key_id, principal in portal.keys.live.items() if principal == Principal(PrincipalKind.AO, ao_id)]


def test_the_accounts_page_gives_each_form_a_fresh_one_time_id(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in(Role.OPERATOR)

    first, again = (form_ids(client.get("/ops/accounts").text) for _ in range(2))

    assert set(first) == {"/ops/accounts", "/ops/keys"}
    assert len({*first.values(), *again.values()}) == 4


def test_issue_key_sent_twice_issues_one_key_and_its_secret_is_shown_once(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    form_id = str(uuid.uuid4())  # as the page makes one
    sent = form(session, key_ao_id="RN5133", label="double click", form_id=form_id)

    first, second = (client.post("/ops/keys", data=sent) for _ in range(2))
    shown = client.get(second.headers["location"])  # the browser shows the second answer only
    third = client.post("/ops/keys", data=sent)  # later, from the Back button
    shown_later = shown_after(client, third)

    assert len(live_keys_of(portal, "RN5133")) == 1
    assert [answer.status_code for answer in (first, second, third)] == [303, 303, 303]
    assert first.headers["location"] == second.headers["location"] == "/ops/accounts?keys_of=RN5133"
    [secret] = re.findall(r"data-secret>([^<]+)<", shown.text)  # the first's notice, unread until now
    assert "API key for ao:RN5133 (shown once)" in shown.text
    [key_id] = live_keys_of(portal, "RN5133")
    assert secret.startswith(f"lrs_{key_id}_")
    assert "data-secret" not in shown_later.text and secret not in shown_later.text
    assert f"This form was sent already: API key {key_id} (double click) was issued for ao:RN5133" in shown_later.text
    issues = [change for change in portal.accounts.changed if change.change.value == "ao_key_issued"]
    assert len(issues) == 1


def test_a_double_click_waits_for_the_first_send_and_shows_its_secret(
    portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second POST arrives while the first is still issuing: it waits for it rather than issuing again."""
    _client, session = portal.signed_in(Role.OPERATOR)
    form_id = str(uuid.uuid4())  # as the page makes one
    sent = form(session, key_ao_id="RN5133", label="double click", form_id=form_id)
    forms = sent_forms(portal)
    issue = portal.keys.issue

    async def slow_issue(principal: Principal, label: str, *, by: str, connection: None = None) -> IssuedKey:
        await forms.claimed_again.wait()  # the second click has found the form being acted on
        return await issue(principal, label, by=by, connection=connection)

    monkeypatch.setattr(portal.keys, "issue", slow_issue)

    async def double_click() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=portal.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
            browser.cookies.set(portal.cookies.session_cookie, session.token)
            answers = await asyncio.wait_for(
                asyncio.gather(*(browser.post("/ops/keys", data=sent) for _ in range(2))), timeout=10
            )
            return [*answers, await browser.get(answers[1].headers["location"])]

    first, second, shown = asyncio.run(double_click())

    assert len(live_keys_of(portal, "RN5133")) == 1
    assert (first.status_code, second.status_code) == (303, 303)
    assert first.headers["location"] == second.headers["location"]
    assert "API key for ao:RN5133 (shown once)" in shown.text and "data-secret" in shown.text


def test_a_second_send_while_the_first_is_still_acting_past_the_wait_issues_nothing(
    portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    form_id = form_ids(client.get("/ops/accounts").text)["/ops/keys"]
    asyncio.run(sent_forms(portal).claim(session.account.username, uuid.UUID(form_id), "issue_key"))  # acting
    monkeypatch.setattr(account_pages, "FORM_WAIT_SECONDS", 0.0)

    answer = client.post("/ops/keys", data=form(session, key_ao_id="RN5133", label="x", form_id=form_id))
    shown = shown_after(client, answer)

    assert live_keys_of(portal, "RN5133") == []
    assert "This form was sent already: the API key for ao:RN5133 is still being issued" in shown.text


def test_a_refused_key_form_can_be_sent_again_with_the_same_id(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    form_id = form_ids(client.get("/ops/accounts").text)["/ops/keys"]

    refused = client.post("/ops/keys", data=form(session, key_ao_id="RN0001", label="x", form_id=form_id))
    again = client.post("/ops/keys", data=form(session, key_ao_id="RN5133", label="x", form_id=form_id))

    assert refused.status_code == 400 and form_ids(refused.text)["/ops/keys"] == form_id
    assert again.status_code == 303 and len(live_keys_of(portal, "RN5133")) == 1


def test_a_form_id_that_is_not_one_is_refused(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)

    answer = client.post("/ops/keys", data=form(session, key_ao_id="RN5133", label="x", form_id="not-a-uuid"))

    assert answer.status_code == 400 and live_keys_of(portal, "RN5133") == []


def test_another_operators_form_id_is_not_theirs_to_use(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    other, other_session = portal.signed_in(Role.OPERATOR)
    form_id = form_ids(client.get("/ops/accounts").text)["/ops/keys"]
    assert client.post("/ops/keys", data=form(session, key_ao_id="RN5133", form_id=form_id)).status_code == 303

    answer = other.post("/ops/keys", data=form(other_session, key_ao_id="RN5133", form_id=form_id))

    assert answer.status_code == 400 and len(live_keys_of(portal, "RN5133")) == 1


def test_create_account_sent_twice_creates_it_once_and_the_second_answer_is_not_an_error(
    portal: StubbedPortal,
) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    form_id = str(uuid.uuid4())  # as the page makes one
    sent = form(session, **NEW_STAFF, form_id=form_id)

    first, second = (client.post("/ops/accounts", data=sent) for _ in range(2))
    shown = client.get(second.headers["location"])
    third = client.post("/ops/accounts", data=sent)
    shown_later = shown_after(client, third)

    assert [answer.status_code for answer in (first, second, third)] == [303, 303, 303]
    assert "is taken" not in shown.text and "is taken" not in shown_later.text
    assert "Password for dbl.click" in shown.text and "data-secret" in shown.text
    assert "data-secret" not in shown_later.text
    assert "This form was sent already: the account dbl.click was created then" in shown_later.text
    created = [change for change in portal.accounts.changed if change.subject == "dbl.click"]
    assert [change.change.value for change in created] == ["created"]


def test_a_taken_username_is_still_said_for_a_new_form(portal: StubbedPortal) -> None:
    client, session = portal.signed_in(Role.OPERATOR)
    portal.account("dbl.click")
    form_id = form_ids(client.get("/ops/accounts").text)["/ops/accounts"]

    answer = client.post("/ops/accounts", data=form(session, **NEW_STAFF, form_id=form_id))

    assert answer.status_code == 400 and "The username dbl.click is taken" in answer.text
    assert uuid.UUID(form_id) not in sent_forms(portal).rows  # given back: nothing was created
