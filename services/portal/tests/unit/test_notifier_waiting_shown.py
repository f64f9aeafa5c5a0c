"""The incident walk, finding 1, on the operators' pages. During a relay outage the notifier's consumer retries an
earlier email and every later one waits behind it; its `/readyz` said so ("retrying for 24s: …"), but the /ops
Services table showed only "ready" (the status code alone was kept), and a decided batch's page said "the notifier
has not handled this batch's outcome yet", true but not why. Now the table shows what a service's `/readyz` says
beyond plain "ok", and the batch page says what the notifier's `emails` check says it waits for."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal
from services.portal.tests.unit.test_batch_decided_said import BATCH_ID
from services.portal.tests.unit.test_batch_desk_questions import SUPPORT, batch_answers, row, shown
from services.portal.tests.unit.test_projector_dashboard import PROJECTOR_STATUS

from portal.accounts import Role

RETRYING = "ok: retrying for 24s: RetryLater: the mail relay: SMTPConnectError; retry in 16.0s"
WAITING = (
    "ok: the notifier is waiting for the mail relay (SMTPConnectError, for 24 s): emails queue behind it and go once"
    " it answers"
)


def notifier_ready(portal: StubbedPortal, **checks: str) -> None:
    answer: dict[str, Any] = {"ready": True, "checks": {"postgres": "ok", "kafka": "ok", **checks}}
    portal.on("GET", "notifier/readyz", lambda _: httpx.Response(200, json=answer))


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def test_a_decided_batch_with_no_email_yet_says_the_notifier_waits_for_the_mail_relay(portal: StubbedPortal) -> None:
    batch_answers(portal, shown(), httpx.Response(200, json=[]))
    notifier_ready(portal, **{"consumer notifier": RETRYING, "emails": WAITING})
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)

    page = client.get(f"/ops/batches/{BATCH_ID}")

    assert page.status_code == 200
    assert row(page.text, 'data-batch-email="0"') == (
        "No email yet: the notifier is waiting for the mail relay (SMTPConnectError, for 24 s): emails queue behind it"
        " and go once it answers."
    )
    assert len(portal.sent_to("GET", "notifier/readyz")) == 1
    assert not [request for request in portal.sent if request.url.path == "/readyz" and request.url.host != "notifier"]


def test_a_notifier_not_retrying_leaves_the_words_as_they_were_and_a_batch_not_decided_does_not_ask(
    portal: StubbedPortal,
) -> None:
    client, _ = portal.signed_in(Role.OPERATOR, SUPPORT)
    notifier_ready(portal, **{"consumer notifier": "ok", "emails": "ok"})
    batch_answers(portal, shown(), httpx.Response(200, json=[]))
    idle = client.get(f"/ops/batches/{BATCH_ID}")
    asked = len(portal.sent_to("GET", "notifier/readyz"))
    notifier_ready(portal, emails=WAITING)
    batch_answers(portal, shown("validating"), httpx.Response(200, json=[]))
    not_decided = client.get(f"/ops/batches/{BATCH_ID}")

    assert (
        row(idle.text, 'data-batch-email="0"') == "No email yet: the notifier has not handled this batch's outcome yet."
    )
    assert row(not_decided.text, 'data-batch-email="0"') == (
        "No email yet: the batch's email is sent once its outcome is decided."
    )
    assert (asked, len(portal.sent_to("GET", "notifier/readyz"))) == (1, 1)


def services_row(html: str, service: str) -> str:
    return " ".join(html.split(f'data-service="{service}"', 1)[1].split("</tr>", 1)[0].split())


def test_the_services_table_shows_what_a_ready_service_says_beyond_ok(portal: StubbedPortal) -> None:
    portal.on("GET", "plr-projector/v1/admin/projector", lambda _: httpx.Response(200, json=PROJECTOR_STATUS))
    notifier_ready(portal, **{"consumer notifier": RETRYING, "emails": WAITING})
    portal.on(
        "GET",
        "ingest/readyz",
        lambda _: httpx.Response(200, json={"ready": True, "checks": {"postgres": "ok", "kafka": "ok"}}),
    )
    portal.on(
        "GET",
        "challenges/readyz",
        lambda _: httpx.Response(
            503, json={"ready": False, "checks": {"postgres": "unavailable: ConnectionRefusedError", "kafka": "ok"}}
        ),
    )
    client, _ = portal.signed_in(Role.OPERATOR, frozenset({"dead-letters"}))

    page = client.get("/ops")

    assert page.status_code == 200
    notifier = services_row(page.text, "notifier")
    assert ">ready</strong>" in notifier
    assert (
        "consumer notifier: retrying for 24s: RetryLater: the mail relay: SMTPConnectError; retry in 16.0s" in notifier
    )
    assert "emails: the notifier is waiting for the mail relay (SMTPConnectError, for 24 s)" in notifier
    assert "postgres" not in notifier  # a plain "ok" is not repeated
    ingest = services_row(page.text, "ingest")
    assert "govuk-tag--green" in ingest and "data-readiness-said" not in ingest
    challenges = services_row(page.text, "challenges")
    assert ">not ready</strong>" in challenges and "postgres: unavailable: ConnectionRefusedError" in challenges
