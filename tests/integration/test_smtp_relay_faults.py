"""A relay put wrong refuses every email, none for a reason of its own: the notifier waits it out and the batch's
completion email goes once it is put right (DESIGN §5, invariant 3: it goes out at least once). A 554 greeting (our
host blocked), a 530 to MAIL FROM (AUTH required) or a 535 to AUTH (credentials rotated) were each taken for a
refusal of that email for good: its delivery failed at the first answer and was never tried again, whatever came
of the relay."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from asgi_lifespan import LifespanManager
from bench.processes import free_port
from tests.integration.test_notifier import batch_completed, envelope, produce
from tests.support.mail import Inbox, notifier_settings
from tests.support.waiting import eventually

from lrs_contracts.topics import BATCH_OUTCOMES
from notifier.bootstrap import create_app

pytestmark = pytest.mark.integration


class _Relay(Inbox):
    """A relay that can be put wrong: `blocked` answers the greeting 554 (our host blocked), `auth_required` asks
    for AUTH before MAIL FROM (aiosmtpd's own 530), `password` is the one it takes (535 to any other)."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.blocked = False
        self.auth_required = False
        self.password = "current"
        self.wrong = False  # put wrong by one of the above
        self.tries_while_wrong = 0  # conversations the relay had while wrong: each a try of the email

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password == self.password.encode()
        return AuthResult(success=ok, handled=False)

    def put_right(self) -> None:
        self.blocked, self.auth_required, self.password, self.wrong = False, False, "current", False


class _RelaySession(SMTP):
    async def _handle_client(self) -> None:
        relay = self.event_handler
        assert isinstance(relay, _Relay)
        if relay.blocked:
            await self.push("554 5.7.1 Service unavailable; client host [127.0.0.1] blocked")
            assert self.transport is not None
            self.transport.close()
            return
        await super()._handle_client()


class _RelayController(Controller):
    def __init__(self, relay: _Relay) -> None:
        super().__init__(
            relay, hostname="127.0.0.1", port=relay.port, auth_require_tls=False, authenticator=relay.authenticate
        )
        self.relay = relay

    def factory(self) -> SMTP:
        self.relay.tries_while_wrong += self.relay.wrong
        return _RelaySession(self.relay, **{**self.SMTP_kwargs, "auth_required": self.relay.auth_required})


@contextmanager
def _relay() -> Iterator[_Relay]:
    relay = _Relay(free_port())
    controller = _RelayController(relay)
    controller.start()
    try:
        yield relay
    finally:
        controller.stop()


def _blocked(relay: _Relay) -> None:
    relay.blocked = True


def _auth_required(relay: _Relay) -> None:
    relay.auth_required = True


def _credentials_rotated(relay: _Relay) -> None:
    relay.password = "rotated"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")  # a relay on loopback
@pytest.mark.parametrize(
    ("put_wrong", "credentials"),
    [(_blocked, False), (_auth_required, False), (_credentials_rotated, True)],
    ids=["554 greeting", "530 MAIL FROM", "535 AUTH"],
)
async def test_a_relay_refusing_every_email_is_waited_out_and_the_completion_email_goes_once_it_is_put_right(
    kafka_bootstrap: str, fresh_database_url: str, put_wrong: Any, credentials: bool
) -> None:
    with _relay() as relay:
        logins = {"smtp_username": "lrs", "smtp_password": "current"} if credentials else {}
        settings = await notifier_settings(
            kafka_bootstrap,
            fresh_database_url,
            relay,
            "notifier-relay-wrong",
            retry_base_seconds=0.2,
            retry_max_seconds=0.5,
            **logins,
        )
        put_wrong(relay)
        relay.wrong = True
        batch_id = uuid.uuid4()
        completed = envelope(batch_completed(batch_id, "results@ao-a.example"))
        app = create_app(settings)
        pool = await asyncpg.create_pool(fresh_database_url, min_size=1, max_size=1)
        assert pool is not None
        try:
            async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
                await produce(kafka_bootstrap, BATCH_OUTCOMES.name, str(batch_id), completed)

                async def tried_again() -> bool:
                    return relay.tries_while_wrong >= 3

                await eventually(tried_again, within=30, what="the email tried again while the relay is wrong")
                status = await pool.fetchval(
                    "SELECT status FROM notifier.deliveries WHERE event_id = $1", completed.event_id
                )
                assert status == "pending"
                assert relay.messages == []

                relay.put_right()

                async def delivered() -> list[Any]:
                    return relay.with_message_id(f"<{completed.event_id}@lrs.local>")

                [email] = await eventually(delivered, within=30, what="the completion email")
                assert email["To"] == "results@ao-a.example"

                async def sent() -> bool:
                    status = await pool.fetchval(
                        "SELECT status FROM notifier.deliveries WHERE event_id = $1", completed.event_id
                    )
                    return bool(status == "sent")

                await eventually(sent, within=10, what="the delivery recorded as sent")
        finally:
            await pool.close()
