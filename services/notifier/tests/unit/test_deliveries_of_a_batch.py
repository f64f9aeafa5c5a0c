"""`GET /v1/deliveries?batch=ID` (`?challenge=ID`): the service desk, answering "our batch email never arrived", could
see only the emails given up (`/v1/deliveries/failed`); whether, when and where a batch's email went was in the
delivery log alone, read with the database. Each delivery is answered in words a desk reads, with the recipient's
domain, never the address."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.routing import APIRoute

from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import OPENAPI_SCOPES, Principal
from notifier.api import deliveries_router
from notifier.deliveries_said import DeskStatus, desk_status, error_said, status_said
from notifier.store import DeliveryStatus, KeptDelivery

BATCH = uuid.UUID("5a398464-6d31-4fd2-8adf-538165ed7b09")
CHALLENGE = uuid.UUID("1e8db2a9-0c4b-4d1e-9a55-3d1f0c3b7e21")
AT = datetime(2026, 12, 7, 2, 49, 11, tzinfo=UTC)


def kept(status: DeliveryStatus = DeliveryStatus.SENT, **changes: object) -> KeptDelivery:
    values: dict[str, object] = {
        "id": uuid.UUID("c7492389-0000-4000-8000-000000000001"),
        "kind": "lrs.batch.completed.v1",
        "status": status,
        "message_id": "<c7492389-0000-4000-8000-000000000001@lrs.local>",
        "ao_id": "RN9008",
        "recipient_domain": "aqa.exmaple",
        "attempts": 1,
        "last_error": None,
        "recorded_at": AT,
        "last_tried_at": AT,
        "sent_at": AT if status is DeliveryStatus.SENT else None,
    }
    return KeptDelivery(**{**values, **changes})  # type: ignore[arg-type]


class Deliveries:
    """The delivery log in memory: what `of` was asked, and what it answers."""

    def __init__(self, *kept: KeptDelivery) -> None:
        self.kept = list(kept)
        self.asked: list[tuple[str, str]] = []

    async def of(self, correlation_id: str, kind_prefix: str) -> list[KeptDelivery]:
        self.asked.append((correlation_id, kind_prefix))
        return self.kept


def _client(principal: str, deliveries: Deliveries) -> httpx.AsyncClient:
    app = build_app("notifier", title="Notifier", description="", lifespan=noop_lifespan)
    app.include_router(deliveries_router)
    app.state.deliveries = deliveries
    app.dependency_overrides[current_principal] = lambda: Principal.parse(principal)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notifier")


async def test_a_batchs_email_sent_to_a_mistyped_domain_is_answered_with_when_where_and_its_message_id() -> None:
    deliveries = Deliveries(kept())
    async with _client("operator:desk", deliveries) as client:
        answer = await client.get("/v1/deliveries", params={"batch": str(BATCH).upper()})
    assert answer.status_code == 200, answer.text
    assert deliveries.asked == [(str(BATCH), "lrs.batch.")]  # as its events' correlation id: lower case
    [sent] = answer.json()
    assert sent == {
        "id": "c7492389-0000-4000-8000-000000000001",
        "kind": "lrs.batch.completed.v1",
        "ao_id": "RN9008",
        "status": "sent",
        "status_said": sent["status_said"],
        "recipient_domain": "aqa.exmaple",
        "message_id": "<c7492389-0000-4000-8000-000000000001@lrs.local>",
        "attempts": 1,
        "recorded_at": "2026-12-07T02:49:11Z",
        "last_tried_at": "2026-12-07T02:49:11Z",
        "sent_at": "2026-12-07T02:49:11Z",
        "next_try_at": None,
        "last_error": None,
        "last_error_said": None,
    }
    assert "a mailbox at aqa.exmaple" in sent["status_said"] and "mistyped domain" in sent["status_said"]
    assert "@aqa" not in answer.text


async def test_a_challenges_notices_are_asked_by_its_id_and_none_yet_is_an_empty_list() -> None:
    deliveries = Deliveries()
    async with _client("operator:desk", deliveries) as client:
        answer = await client.get("/v1/deliveries", params={"challenge": str(CHALLENGE)})
    assert (answer.status_code, answer.json()) == (200, [])
    assert deliveries.asked == [(str(CHALLENGE), "lrs.challenge.")]


@pytest.mark.parametrize(
    "params", [{}, {"batch": str(BATCH), "challenge": str(CHALLENGE)}, {"batch": "5a398464"}], ids=str
)
async def test_one_batch_or_one_challenge_is_named_by_its_full_id(params: dict[str, str]) -> None:
    deliveries = Deliveries(kept())
    async with _client("operator:desk", deliveries) as client:
        answer = await client.get("/v1/deliveries", params=params)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert deliveries.asked == []


@pytest.mark.parametrize("caller", ["ao:RN9008", "learner:1000000043", "provider:10000001"])
async def test_only_operators_see_the_deliveries_and_are_told_so_before_the_query_is_read(caller: str) -> None:
    deliveries = Deliveries(kept())
    async with _client(caller, deliveries) as client:
        answer = await client.get("/v1/deliveries", params={"batch": "not-an-id"})
    assert answer.status_code == 403
    assert deliveries.asked == []


def test_the_route_asks_for_the_support_scope_as_the_emails_given_up_do() -> None:
    scopes = {
        route.path: (route.openapi_extra or {}).get(OPENAPI_SCOPES)
        for route in deliveries_router.routes
        if isinstance(route, APIRoute)
    }
    assert scopes == {"/v1/deliveries": ["support"], "/v1/deliveries/failed": ["support"]}


@pytest.mark.parametrize(
    ("delivery", "status", "said"),
    [
        (kept(), DeskStatus.SENT, "Sent: the LRS's mail relay took it for a mailbox at aqa.exmaple"),
        (
            kept(last_error="unconfirmed: TimeoutError; not tried again: it may not have arrived"),
            DeskStatus.SENT,
            "did not confirm it: it may not have arrived",
        ),
        (
            kept(DeliveryStatus.PENDING, set_aside=True, last_error="recipients refused: [452 4.2.2]", next_try_at=AT),
            DeskStatus.WAITING,
            "refused it for now",
        ),
        (kept(DeliveryStatus.PENDING), DeskStatus.SENDING, "waiting for the LRS's mail relay to answer"),
        (
            kept(DeliveryStatus.PENDING, kind="lrs.challenge.raised.v2", set_aside=True, held=True, attempts=0),
            DeskStatus.HELD,
            "the AO has no challenge contact",
        ),
        (
            kept(DeliveryStatus.PENDING, set_aside=True, held=True, contact_refused=True),
            DeskStatus.HELD,
            "mailbox refused it for good",
        ),
        (kept(DeliveryStatus.FAILED, last_error="recipients refused: [550 5.1.1]"), DeskStatus.GIVEN_UP, "Given up"),
        (kept(DeliveryStatus.SKIPPED, attempts=0), DeskStatus.NOT_SENT, "nobody to send it to"),
    ],
    ids=lambda value: value.value if isinstance(value, DeskStatus) else "",
)
def test_each_state_of_the_log_is_said_in_a_word_and_a_sentence(
    delivery: KeptDelivery, status: DeskStatus, said: str
) -> None:
    assert desk_status(delivery) is status
    assert said in status_said(delivery)


async def test_a_held_notice_says_when_it_was_recorded_not_a_try_it_never_had_nor_a_next_one() -> None:
    held = kept(DeliveryStatus.PENDING, set_aside=True, held=True, attempts=0, recipient_domain=None, next_try_at=None)
    async with _client("operator:desk", Deliveries(held)) as client:
        [answer] = (await client.get("/v1/deliveries", params={"batch": str(BATCH)})).json()
    assert (answer["status"], answer["last_tried_at"], answer["next_try_at"]) == ("held", None, None)
    assert answer["recorded_at"] == "2026-12-07T02:49:11Z"


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (None, None),
        ("recipients refused: [550 5.1.1]", "no such mailbox at that domain (recipients refused: [550 5.1.1])"),
        ("recipients refused: [550 5.1.2]", "does not exist or takes no mail: a mistyped domain?"),
        ("recipients refused: [452 4.2.2]", "the recipient's mailbox is full"),
        ("SMTP 552 5.3.4 at DATA", "too large"),
        ("SMTP 550 5.7.1 at DATA", "refused by a policy"),
        ("recipients refused: [450]", "refused it for now"),
        ("recipients refused: [550]", "refused the address"),
        ("SMTP 530 at MAIL FROM", "its set-up, not the AO's address"),
        ("ConnectionRefusedError", "could not be reached or did not answer (ConnectionRefusedError)"),
        ("no answer at RCPT: 300 s", "did not answer in time"),
        ("unconfirmed: TimeoutError after the whole message; tried once more in 60 s", "did not confirm it"),
        ("held: no challenge contact for RN9008", "held: no challenge contact for RN9008"),
        ("no notification email for batch 5a398464", "no notification email for batch 5a398464"),
    ],
)
def test_the_last_error_is_said_in_words_with_the_codes_as_recorded(error: str | None, said: str | None) -> None:
    if said is None:
        assert error_said(error) is None
    else:
        assert said in str(error_said(error))
