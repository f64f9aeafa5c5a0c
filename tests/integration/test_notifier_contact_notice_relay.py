"""The notice to a challenge contact's old address (decision 0170) while the relay refuses every email, against
real PostgreSQL and a real SMTP server (aiosmtpd) put wrong: our host blocked (554 greeting), our credentials
rotated (535 at AUTH). Each such failure counted as one of the notice's 25 tries (a review), so about 19 hours of
it gave the notice up and forgot the old address: the address the contact left was never told. The relay's own
failures are waited out, however long, as for every other email (decision 0186)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from tests.integration.test_smtp_relay_faults import _blocked, _credentials_rotated, _relay
from tests.support.databases import migrated_connection

from lrs_platform.database import create_pool
from lrs_platform.mail import SmtpMailer
from notifier.emails import ChallengeContact
from notifier.handlers import RECIPIENT_ATTEMPTS, Notifications
from notifier.store import ContactChangeNotices, ContactStore, DeferredEmails, DeliveryLog, RejectionTallies

pytestmark = pytest.mark.integration


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")  # a relay on loopback
async def test_a_relay_refusing_every_email_past_the_refusals_last_try_leaves_the_contact_notice_to_go(
    fresh_database_url: str,
) -> None:
    async with migrated_connection(fresh_database_url, "notifier", "notifier.migrations"):
        pass
    pool = await create_pool(fresh_database_url)
    try:
        with _relay() as relay:
            keyring: Any = None  # a contact-change notice opens no learner's words
            notifier = Notifications(
                SmtpMailer("127.0.0.1", relay.port, username="lrs", password="current", timeout=10),
                DeliveryLog(pool),
                ContactStore(pool),
                RejectionTallies(pool),
                keyring,
                mail_from="lrs@lrs.local",
                public_base_url="https://portal.lrs.example",
                deferred=DeferredEmails(pool),
                contact_changes=ContactChangeNotices(pool),
            )
            ao = f"RN{uuid.uuid4().int % 10**6}"
            old, new = f"challenges@{ao.lower()}.example", f"elsewhere@{ao.lower()}.example"
            for address in (old, new):
                contact = ChallengeContact("Ada", "Lovelace", "01632 960000", address)
                await ContactStore(pool).put(ao, contact, f"ao:{ao}")

            async def tried_now() -> int:
                """One pass of the deferred loop's notices, the notice made due first (its wait not waited)."""
                await pool.execute("UPDATE notifier.contact_change_notices SET due_at = now() WHERE ao_id = $1", ao)
                return await notifier.send_contact_change_notices()

            passes = RECIPIENT_ATTEMPTS + 3
            for n in range(passes):  # the relay wrong one way, then the other, past the refusals' last try
                relay.put_right()
                (_blocked if n % 2 else _credentials_rotated)(relay)
                relay.wrong = True
                assert await tried_now() == 1, f"pass {n + 1}: the notice was given up while only the relay refused"
            assert relay.tries_while_wrong == passes and relay.messages == []
            row = await pool.fetchrow(
                "SELECT tries, sent_at, failed_at, old_email FROM notifier.contact_change_notices WHERE ao_id = $1", ao
            )
            assert (row["tries"], row["sent_at"], row["failed_at"], row["old_email"]) == (0, None, None, old)

            relay.put_right()
            assert await tried_now() == 1
            [notice] = relay.to(old)
            assert notice["Subject"] == f"LRS challenge contact changed: {ao}" and relay.to(new) == []
            row = await pool.fetchrow(
                "SELECT sent_at, failed_at, old_email FROM notifier.contact_change_notices WHERE ao_id = $1", ao
            )
            assert row["sent_at"] is not None and (row["failed_at"], row["old_email"]) == (None, None)
            assert await tried_now() == 0, "sent once"
    finally:
        await pool.close()
