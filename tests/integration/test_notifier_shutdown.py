"""A notifier stopped (SIGTERM: a rolling deploy) while the relay is answering an email: real Kafka, PostgreSQL
and SMTP server (aiosmtpd). The loops were cancelled at once, cutting off a send the relay already had before its
`sent` was recorded, and the restarted notifier sent the same email again: two copies to a person (a review)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import asyncpg
import pytest
from asgi_lifespan import LifespanManager
from bench.processes import free_port
from tests.integration.test_notifier import batch_completed, envelope, produce
from tests.support.mail import Inbox, notifier_settings, serving
from tests.support.waiting import eventually

from lrs_contracts.topics import BATCH_OUTCOMES
from notifier.bootstrap import create_app

pytestmark = pytest.mark.integration

SLOW = "slow@ao-a.example"


class SlowInbox(Inbox):
    """Stores each email as soon as its data is in, then answers the end of DATA for `SLOW`'s only once
    `answer` is set: a relay that scans content before it replies. Counts every copy it stored."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.answer = threading.Event()  # set from the test's loop; the server runs in a thread of its own

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        if SLOW in envelope.rcpt_tos:
            await asyncio.get_running_loop().run_in_executor(None, self.answer.wait, 60)
        return "250 OK"


@pytest.fixture
def slow_inbox() -> Iterator[SlowInbox]:
    with serving(SlowInbox(free_port())) as inbox:
        try:
            yield inbox
        finally:
            inbox.answer.set()  # the slow answer let go before the server stops


async def test_a_notifier_stopped_mid_send_lets_the_email_finish_and_its_restart_sends_no_second_copy(
    kafka_bootstrap: str, fresh_database_url: str, slow_inbox: SlowInbox
) -> None:
    settings = await notifier_settings(kafka_bootstrap, fresh_database_url, slow_inbox, "notifier-stop")
    batch_id = uuid.uuid4()
    first = envelope(batch_completed(batch_id, SLOW))
    message_id = f"<{first.event_id}@lrs.local>"
    app = create_app(settings)
    running = LifespanManager(app, startup_timeout=60, shutdown_timeout=40)
    await running.__aenter__()
    try:
        await produce(kafka_bootstrap, BATCH_OUTCOMES.name, str(batch_id), first)
        await eventually(lambda: _async(slow_inbox.with_message_id(message_id)), within=30, what="the relay has it")
    except BaseException:
        slow_inbox.answer.set()
        await running.__aexit__(None, None, None)
        raise
    # SIGTERM while the relay has the email and has not answered yet
    shutdown = asyncio.create_task(running.__aexit__(None, None, None))
    notifications = getattr(app.state, "notifications", None)
    await eventually(
        lambda: _async(shutdown.done() or bool(notifications and notifications.stopping)),
        within=30,
        what="the shutdown under way",
    )
    slow_inbox.answer.set()  # the relay answers 250
    await asyncio.wait_for(shutdown, 40)

    pool = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=1)
    assert pool is not None
    try:
        row = await pool.fetchrow(
            "SELECT status, attempts FROM notifier.deliveries WHERE event_id = $1", first.event_id
        )
        assert (row["status"], row["attempts"]) == ("sent", 1), "the email in progress was cut off, not recorded"
    finally:
        await pool.close()

    # The restart (the same consumer group): the event may be read again, never sent again. A marker behind it
    # on its partition: once the marker's email is out, the event before it was handled.
    marker = envelope(batch_completed(batch_id, "marker@ao-a.example"))
    restarted = create_app(settings)
    async with LifespanManager(restarted, startup_timeout=60, shutdown_timeout=40):
        await produce(kafka_bootstrap, BATCH_OUTCOMES.name, str(batch_id), marker)
        await eventually(
            lambda: _async(slow_inbox.with_message_id(f"<{marker.event_id}@lrs.local>")), within=30, what="marker"
        )
    [email] = slow_inbox.with_message_id(message_id)  # one copy only
    # the batch's email names its AO: its id in the subject, its id and name (the reference data's) in the body
    assert str(email["Subject"]).startswith(f"LRS batch completed: RN9001 IT-{batch_id.hex[:6]} (")
    plain = email.get_body(("plain",))
    assert plain is not None and "Awarding organisation: RN9001 1st4sport" in plain.get_content().splitlines()


async def _async(value: Any) -> Any:
    return value
