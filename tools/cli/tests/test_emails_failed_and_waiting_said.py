"""`lrs emails failed` lists the emails the notifier gave up, with their AO and batch or challenge (on-call had only
the logs); `lrs challenges waiting` says when an AO's notices wait because its contact's mailbox refused them (it said
the AO had no contact, and an operator phoning it to set one was told it was set); and both it and
`lrs challenges contact` print UK time, as the rest of `lrs` does (offline, against a notifier answering as the real
one does)."""

from __future__ import annotations

import httpx
import pytest

from lrs_cli.challenge_commands import CONTACT_REFUSED, NO_CONTACT, contact_text, waiting_rows
from lrs_cli.email_commands import failed_emails, failed_row, kind_said
from lrs_cli.main import main

BATCH_ID = "0a6cbb05-5a4e-4c1e-9d55-3d1f0c3b7e21"
FAILED = [
    {
        "id": "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
        "kind": "lrs.batch.completed.v1",
        "correlation_id": BATCH_ID,
        "ao_id": "RN9093",
        "recipient_domain": "nowhere.invalid",
        "attempts": 1,
        "last_error": "recipients refused: [550 5.1.1]",
        "failed_at": "2026-07-01T08:41:10.709614Z",
    },
    {
        "id": "7a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
        "kind": "challenge_contact_changed",
        "correlation_id": None,
        "ao_id": None,
        "recipient_domain": None,
        "attempts": 25,
        "last_error": None,
        "failed_at": "2026-12-06T08:41:00Z",
    },
]


class _Notifier:
    sandpit = False

    def __init__(self) -> None:
        self.asked: list[httpx.Request] = []

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        assert service == "notifier"
        return httpx.Client(base_url="http://notifier", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request)
        assert (request.method, request.url.path) == ("GET", "/v1/deliveries/failed")
        return httpx.Response(200, json=FAILED)


def test_the_emails_given_up_are_read_from_the_notifier_and_shown_with_their_ao_batch_and_domain_in_uk_time() -> None:
    notifier = _Notifier()
    failed = failed_emails(notifier, 20)  # type: ignore[arg-type]
    assert notifier.asked[0].url.params["limit"] == "20"
    assert failed_row(failed[0]) == (
        "1 Jul 2026, 09:41",  # BST
        "batch completed",
        "RN9093",
        BATCH_ID,
        "nowhere.invalid",
        "1",
        "recipients refused: [550 5.1.1]",
    )
    # one recorded before the notifier kept whose it was: its own id, and dashes
    assert failed_row(failed[1]) == (
        "6 Dec 2026, 08:41",
        "challenge contact changed",
        "-",
        "7a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
        "-",
        "25",
        "-",
    )


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("lrs.batch.failed.v1", "batch failed"),
        ("lrs.batch.abandoned.v1", "batch abandoned"),
        ("lrs.challenge.raised.v2", "challenge raised"),
        ("challenge_contact_changed", "challenge contact changed"),
    ],
)
def test_each_kind_of_email_is_named_as_people_say_it(kind: str, said: str) -> None:
    assert kind_said(kind) == said


def test_lrs_emails_failed_is_a_command_with_a_bounded_limit(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emails", "failed", "--help"]) == 0
    shown = capsys.readouterr().out
    assert "Usage: lrs emails failed" in shown and "--limit" in shown
    assert main(["emails", "failed", "--limit", "501"]) == 2


def test_an_ao_whose_contacts_mailbox_refused_its_notices_is_said_to_need_another_address_not_a_contact() -> None:
    waiting = [
        {"ao_id": "RN9093", "notices": 1, "waiting_since": "2026-07-01T07:41:00Z", "contact_refused": True},
        {"ao_id": "RN9008", "notices": 3, "waiting_since": "2026-07-02T23:30:00Z", "contact_refused": False},
    ]
    assert waiting_rows(waiting) == [
        ("RN9093", "1", "1 Jul 2026, 08:41", CONTACT_REFUSED),
        ("RN9008", "3", "3 Jul 2026, 00:30", NO_CONTACT),  # the UK's day, not UTC's
    ]
    assert "another address" in CONTACT_REFUSED and "set one" in NO_CONTACT


def test_a_challenge_contact_says_when_it_was_set_in_uk_time() -> None:
    contact = {
        "ao_id": "RN9093",
        "given_name": "Priya",
        "family_name": "Patel",
        "telephone": "01632 960 000",
        "email": "priya.patel@pearson.example",
        "updated_at": "2026-07-01T08:42:10.709614Z",
    }
    assert contact_text(contact).endswith("telephone 01632 960 000 (set 1 Jul 2026, 09:42 (UK time))")
