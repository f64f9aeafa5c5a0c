"""One check of an email address wherever one enters the portal (`is_plausible_email`, the batch door's): two dots in
a row, a dot first or last before the @, or more than 64 bytes before it were accepted by direct entry and the
challenge contact (and by the batch door), though an account's address refused the first (door walk, finding 6). A
relay may refuse such a recipient at RCPT, after the batch was accepted. Each page says so in its own words."""

from __future__ import annotations

import uuid

import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal

from portal.accounts import InvalidAccount, Role, checked_email

REFUSED = ["a..b@ao.example", ".ab@ao.example", "ab.@ao.example", "l" * 65 + "@ao.example"]
ENTRY = {
    "action": "Create",
    "job_type": "Final",
    "uln": "1000000043",
    "given_name": "Lily",
    "family_name": "McCarthy",
    "qualification_number": "500/0002/0",
    "award_date": "2021-06-30",
    "grade": "Distinction",
}
CONTACT = {"given_name": "Sam", "family_name": "Jones", "telephone": "01632 960 001"}
FORMAT = "Enter an email address in the correct format, like name@example.org"


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def _error_summary(html: str) -> str:
    return html.split('class="govuk-error-summary"', 1)[1] if 'class="govuk-error-summary"' in html else ""


@pytest.mark.parametrize("address", REFUSED)
def test_direct_entry_refuses_the_address_on_its_field_and_sends_nothing(portal: StubbedPortal, address: str) -> None:
    client, person = portal.signed_in()

    answer = client.post(
        "/direct-entry", data=form(person, **ENTRY, notification_email=address, entry_id=str(uuid.uuid4()))
    )

    assert answer.status_code == 400
    assert f'href="#notification_email">{FORMAT}' in _error_summary(answer.text)
    assert not portal.sent_to("POST", "ingest/v1/batches")


@pytest.mark.parametrize("address", REFUSED)
def test_the_challenge_contact_page_refuses_the_address_on_its_field_and_saves_nothing(
    portal: StubbedPortal, address: str
) -> None:
    client, person = portal.signed_in()

    answer = client.post("/contact", data=form(person, **CONTACT, email=address))

    assert answer.status_code == 400
    assert f'href="#email">{FORMAT}' in _error_summary(answer.text)
    assert not portal.sent_to("PUT", "notifier/v1/ao/RN9093/challenge-contact")


@pytest.mark.parametrize("address", REFUSED)
def test_an_accounts_address_is_refused_alike(portal: StubbedPortal, address: str) -> None:
    with pytest.raises(InvalidAccount, match="correct format") as refused:
        checked_email(address)
    assert refused.value.field == "email"
    client, operator = portal.signed_in(Role.OPERATOR)
    values = {"username": "nia.example", "display_name": "Nia", "role": "ao", "ao_id": "RN5133", "email": address}

    answer = client.post("/ops/accounts", data=form(operator, **values))

    assert answer.status_code == 400
    assert 'href="#email">Enter an email address in the correct format' in _error_summary(answer.text)
    assert "nia.example" not in portal.accounts.rows


def test_an_address_of_64_bytes_before_the_at_is_still_taken() -> None:
    assert checked_email("l" * 64 + "@ao.example") == "l" * 64 + "@ao.example"
    assert checked_email("first.last@ao.example") == "first.last@ao.example"
