"""The incident walk, findings 1 and 4. A batch decided during a relay outage waits behind the earlier email the
notifier's consumer is retrying, and `lrs emails show` of it said "the batch may not be decided yet" (a dead end: it
was); the notifier knew (its `/readyz`: "retrying for 28s: RetryLater: the mail relay: SMTPConnectError"). Now
`GET /v1/deliveries` says so on an empty answer (`X-LRS-Notifier-Waiting`), and `/readyz`'s `emails` says it for the
portal. And the notifier's delivery lines name the batch (`batch_id`) or challenge (`challenge_id`), as the projector's
do, so a structured log query by `batch_id` finds `email_sent`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from services.notifier.tests.unit.test_deliveries_of_a_batch import BATCH, CHALLENGE, Deliveries, kept
from services.notifier.tests.unit.test_emails import completed
from services.notifier.tests.unit.test_handlers import (
    KEY,
    ULN,
    FakeContacts,
    FakeDeliveryLog,
    FakeKeyring,
    FakeMailer,
    abandoned,
    notifications,
    sealed_raise,
)
from structlog.testing import capture_logs

from lrs_contracts.envelope import Contract, Envelope
from lrs_contracts.registry import encode, wrap
from lrs_contracts.topics import BATCH_OUTCOMES
from lrs_platform.authentication import current_principal
from lrs_platform.consumer import Attempts, Message, RetryPolicy
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.mail import MailError
from notifier.api import WAITING_HEADER, deliveries_router
from notifier.consumer import NotificationHandler
from notifier.deliveries_said import notifier_waiting, waiting_readiness
from notifier.emails import ChallengeContact
from notifier.handlers import RetryLater
from notifier.store import DeliveryStatus

RELAY_AWAY = (
    "The notifier is waiting for the mail relay (SMTPConnectError, for 28 s): emails queue behind it and go once it"
    " answers"
)


class RelayAway(FakeMailer):
    """A relay that never answers, and says when it was first tried."""

    def __init__(self, error: str = "SMTPConnectError") -> None:
        super().__init__()
        self.error = error
        self.tried = asyncio.Event()

    async def send(self, message: object) -> None:
        self.tried.set()
        raise MailError(self.error, permanent=False)


def outcome(payload: Contract, correlation_id: str) -> Envelope:
    return wrap(payload, source="validation", correlation_id=correlation_id)


async def retrying(mailer: RelayAway) -> tuple[Attempts, asyncio.Task[None]]:
    """The notifier's consumer (its handler on the shared retry skeleton) retrying an earlier batch's email while the
    relay is away: the task waits out its next retry (a minute) until the test cancels it."""
    earlier = completed(batch_id=uuid.uuid4())
    envelope = outcome(earlier, str(earlier.batch_id))
    handler = NotificationHandler(notifications(mailer, FakeDeliveryLog()))
    attempts = Attempts("notifier", RetryPolicy(base_seconds=60.0, max_seconds=60.0))
    poll = [Message(BATCH_OUTCOMES.name, 0, 7, b"RN5133", encode(envelope))]
    task = asyncio.create_task(attempts.until_done(lambda: handler(poll)))
    await mailer.tried.wait()
    # the failed try is recorded before the retry's wait begins: nothing in between waits
    assert attempts.retrying_since is not None, "the consumer is retrying"
    return attempts, task


async def stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _client(deliveries: Deliveries, attempts: Attempts | None) -> httpx.AsyncClient:
    app = build_app("notifier", title="Notifier", description="", lifespan=noop_lifespan)
    app.include_router(deliveries_router)
    app.state.deliveries = deliveries
    if attempts is not None:
        app.state.consumer_attempts = attempts
    app.dependency_overrides[current_principal] = lambda: Principal.parse("operator:desk")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifier")


async def test_a_batch_queued_behind_an_email_retried_for_the_relay_is_said_so_since_when_and_why() -> None:
    mailer = RelayAway()
    attempts, task = await retrying(mailer)
    try:
        assert attempts.retrying_since is not None
        attempts.retrying_since -= 28  # the outage began 28 s ago
        async with _client(Deliveries(), attempts) as client:
            answer = await client.get("/v1/deliveries", params={"batch": str(BATCH)})
            challenge = await client.get("/v1/deliveries", params={"challenge": str(CHALLENGE)})
        readiness = await waiting_readiness(attempts)
    finally:
        await stopped(task)

    assert (answer.status_code, answer.json()) == (200, [])  # the answer stays the list it was
    waiting = json.loads(answer.headers[WAITING_HEADER])
    assert waiting["said"] == RELAY_AWAY
    assert (waiting["seconds"], waiting["error"]) == (28, "SMTPConnectError")
    since = datetime.fromisoformat(waiting["since"])
    assert abs(since - (datetime.now(UTC) - timedelta(seconds=28))) < timedelta(seconds=5)
    assert waiting["since"].endswith("Z")
    assert json.loads(challenge.headers[WAITING_HEADER])["said"] == RELAY_AWAY  # a challenge's notice waits too
    assert readiness == "ok: t" + RELAY_AWAY[1:]  # /readyz's `emails`, which the portal reads


async def test_a_relay_refusing_the_lrs_is_said_with_its_codes() -> None:
    mailer = RelayAway("SMTP 530 5.7.0 at MAIL FROM")
    attempts, task = await retrying(mailer)
    try:
        waiting = notifier_waiting(attempts)
    finally:
        await stopped(task)
    assert waiting is not None
    assert waiting.error == "SMTP 530 5.7.0 at MAIL FROM"
    assert waiting.said.startswith("The notifier is waiting for the mail relay (SMTP 530 5.7.0 at MAIL FROM, for ")


async def test_nothing_is_said_when_the_notifier_is_not_retrying_or_the_batch_has_its_email() -> None:
    idle = Attempts("notifier")
    async with _client(Deliveries(), idle) as client:
        none_yet = await client.get("/v1/deliveries", params={"batch": str(BATCH)})
    assert (none_yet.json(), WAITING_HEADER in none_yet.headers) == ([], False)
    assert await waiting_readiness(idle) is None

    mailer = RelayAway()
    attempts, task = await retrying(mailer)
    try:
        async with _client(Deliveries(kept(DeliveryStatus.PENDING, sent_at=None)), attempts) as client:
            its_own = await client.get("/v1/deliveries", params={"batch": str(BATCH)})
    finally:
        await stopped(task)
    # the email being retried (or one handled already) says where it stands itself
    assert len(its_own.json()) == 1 and WAITING_HEADER not in its_own.headers


def test_another_failure_is_named_by_its_class_alone_never_its_message() -> None:
    attempts = Attempts("notifier")
    attempts.retrying_since = 0.0
    attempts.last_error = 'OperationalError: password authentication failed for user "alex.smith"'
    waiting = notifier_waiting(attempts)
    assert waiting is not None and waiting.error == "OperationalError"
    assert waiting.said.startswith("The notifier is retrying an earlier event (OperationalError, for ")
    attempts.last_error = "RetryLater: the keyring is unavailable (KeyringUnavailable); retry in 0.5s"
    keyring = notifier_waiting(attempts)
    assert keyring is not None and keyring.error == "the keyring is unavailable (KeyringUnavailable)"


# --- finding 4: the delivery lines name the batch or the challenge -------------------------------------------------


def lines(logs: list[MutableMapping[str, Any]], event: str) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == event]


async def test_a_batchs_delivery_lines_carry_its_batch_id_beside_the_correlation_id() -> None:
    batch = completed(batch_id=uuid.uuid4())
    envelope = outcome(batch, str(batch.batch_id))
    mailer = FakeMailer([MailError("SMTPConnectError", permanent=False)])
    service = notifications(mailer, FakeDeliveryLog())
    unaddressed = abandoned(None)
    with capture_logs() as logs:
        with pytest.raises(RetryLater):  # the relay away: the consumer retries it
            await service.handle(envelope, batch)
        await service.handle(envelope, batch)
        await service.handle(envelope, batch)  # redelivered
        await service.handle(outcome(unaddressed, str(unaddressed.batch_id)), unaddressed)

    for event in ("email_failed", "email_sent", "email_already_handled"):
        [line] = lines(logs, event)
        assert line["batch_id"] == str(batch.batch_id), event
        assert "challenge_id" not in line
    [failed] = lines(logs, "email_failed")
    assert failed["correlation_id"] == str(batch.batch_id)
    [not_sent] = lines(logs, "email_not_sent")
    assert (not_sent["batch_id"], not_sent["reason"]) == (str(unaddressed.batch_id), "no_notification_email")


async def test_a_challenge_notices_lines_carry_its_challenge_id() -> None:
    contact = ChallengeContact("Ada", "Lovelace", "01234 567890", "challenges@ao.example")
    service = notifications(
        FakeMailer(), FakeDeliveryLog(), FakeContacts({"RN5133": contact}), keyring=FakeKeyring({ULN: KEY})
    )
    sent, held = sealed_raise("RN5133", "wrong grade"), sealed_raise("RN7777", "not mine")
    with capture_logs() as logs:
        for raised in (sent, held):
            await service.handle(outcome(raised, str(raised.challenge_id)), raised)

    [line] = lines(logs, "email_sent")
    assert (line["challenge_id"], "batch_id" in line) == (str(sent.challenge_id), False)
    [waits] = lines(logs, "challenge_notice_held")
    assert waits["challenge_id"] == str(held.challenge_id)
    assert "wrong grade" not in str(logs) and ULN not in str(logs)
