"""The portal's emails (a reset link, a new account's or an operator's link, an address changed) carry the hygiene
the notifier's have: `Auto-Submitted: auto-generated` (RFC 3834), so an out-of-office reply is not sent back, and a
Message-ID of the sender's domain, not the portal's host (an IP address in development, `portal.lrs.example` in
production beside a From of `lrs.example`), which some spam filters score."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

from portal.accounts import Account, AddressChange, Role
from portal.reset_links import (
    ResetLinkPolicy,
    address_changed_email,
    first_password_email,
    operator_link_email,
    reset_email,
)


def every_email(policy: ResetLinkPolicy) -> list[EmailMessage]:
    account = Account("nia", "Nia", Role.AO, "RN9093", "nia@ao.example")
    expires = datetime.now(UTC) + timedelta(minutes=30)
    link = f"{policy.public_url}/account/reset/x"
    sent = [make(account, link, expires, policy) for make in (reset_email, first_password_email, operator_link_email)]
    notice = address_changed_email(AddressChange(account, "old@ao.example", by_operator=True), expires, policy)
    assert notice is not None
    return [*sent, notice]


@pytest.mark.parametrize(
    ("public_url", "mail_from"),
    [
        ("https://portal.lrs.example", "lrs-portal@lrs.example"),
        ("http://127.0.0.1:58863", "LRS Organisation Portal <lrs-portal@lrs.example>"),
    ],
)
def test_every_portal_email_says_it_was_sent_by_a_machine_and_its_message_id_is_of_the_senders_domain(
    public_url: str, mail_from: str
) -> None:
    for message in every_email(ResetLinkPolicy(public_url, mail_from)):
        assert message["Auto-Submitted"] == "auto-generated", message["Subject"]
        assert str(message["Message-ID"]).endswith("@lrs.example>"), message["Message-ID"]


def test_a_sender_without_a_domain_gives_the_notifiers_default() -> None:
    from portal.reset_links import sender_domain

    assert sender_domain("portal") == "lrs.local"
    assert sender_domain("portal@lrs.test") == "lrs.test"
