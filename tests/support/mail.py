"""A real SMTP server for tests (aiosmtpd) and the notifier wired to it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, TypeVar

from aiosmtpd.controller import Controller
from bench.processes import free_port
from tests.support.kafka import pin_group_at_end

from lrs_contracts.topics import BATCH_OUTCOMES, CHALLENGE_EVENTS
from lrs_platform.kafka import ensure_topics
from notifier.config import NotifierSettings


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[EmailMessage] = []
        self.full_mailboxes: set[str] = set()  # recipients refused for now, as a relay does a full mailbox

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address in self.full_mailboxes:
            return "452 4.2.2 Mailbox full"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def with_message_id(self, message_id: str) -> list[EmailMessage]:
        return [message for message in self.messages if message["Message-ID"] == message_id]

    def to(self, address: str) -> list[EmailMessage]:
        return [message for message in self.messages if address in str(message.get("To", ""))]


InboxT = TypeVar("InboxT", bound=Inbox)


@contextmanager
def serving(handler: InboxT) -> Iterator[InboxT]:
    """`handler` (an Inbox, or one that answers otherwise) as an SMTP server on its port while the block runs."""
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


@contextmanager
def smtp_server() -> Iterator[Inbox]:
    """An SMTP server on a free local port for as long as the block runs."""
    with serving(Inbox(free_port())) as inbox:
        yield inbox


async def notifier_settings(
    kafka_bootstrap: str, database_url: str, inbox: Inbox, group_label: str, **overrides: Any
) -> NotifierSettings:
    """A notifier of its own: a new consumer group that starts at the topics' ends, mailing to `inbox`."""
    await ensure_topics(kafka_bootstrap)
    group = f"{group_label}-{uuid.uuid4().hex[:8]}"
    await pin_group_at_end(kafka_bootstrap, group, (BATCH_OUTCOMES, CHALLENGE_EVENTS))
    return NotifierSettings(
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        DATABASE_URL=database_url,
        smtp_port=inbox.port,
        consumer_group=group,
        log_json=True,
        **overrides,
    )
