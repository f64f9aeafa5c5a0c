"""The incident walk, finding 5: an AO's Submit while Kafka is away. Ingest stores the batch and answers 503 naming it
once Kafka has not taken it within INGEST_PUBLISH_TIMEOUT_SECONDS; the portal waits longer than that (its own
PORTAL_SUBMIT_TIMEOUT_SECONDS), sends the AO to that batch's page, which says to send the same file again, and a
failure's page (5xx) names the request's id as a reference for the LRS service desk."""

from __future__ import annotations

import uuid

import httpx
import pytest
import structlog
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, stubbed_portal
from services.portal.tests.unit.test_sending_a_file_again import _checked

from ingest.config import IngestSettings
from portal.config import PortalSettings
from portal.web import batch_pages, errors

NOT_QUEUED = str(uuid.uuid4())


def _publish_failed(instance: str) -> httpx.Response:
    """Ingest's answer when Kafka did not take the batch (`_publish_failed`); a problem of the request itself (its
    database away) names `/v1/batches` alone."""
    problem = {
        "type": "about:blank",
        "title": "The batch could not be queued",
        "status": 503,
        "detail": "Kafka did not take the batch, so nothing of it was accepted. Send it again later.",
        "instance": instance,
    }
    return httpx.Response(503, json=problem, headers={"Retry-After": "5"})


@pytest.fixture
def portal(monkeypatch: pytest.MonkeyPatch) -> StubbedPortal:
    # a logger that earlier tests used is cached with the processors of then, which capture_logs cannot replace
    monkeypatch.setattr(batch_pages, "_log", structlog.get_logger("portal.web"))
    monkeypatch.setattr(errors, "_log", structlog.get_logger("portal.web"))
    return stubbed_portal()


def test_a_batch_kafka_did_not_take_is_its_own_page_and_the_upload_is_kept(portal: StubbedPortal) -> None:
    portal.on("POST", "ingest/v1/batches", lambda _: _publish_failed(f"/v1/batches/{NOT_QUEUED}"))
    client, person, kept = _checked(portal)

    with structlog.testing.capture_logs() as logs:
        answer = client.post("/batches/submit", data=form(person, **kept))

    assert answer.status_code == 303 and answer.headers["location"] == f"/batches/{NOT_QUEUED}?not_queued=1"
    assert uuid.UUID(kept["upload_id"]) in portal.uploads.kept  # Back and Submit send the same file again
    (said,) = [line for line in logs if line["event"] == "batch_not_queued"]
    assert said["batch_id"] == NOT_QUEUED and said["detail"].startswith("Kafka did not take the batch")


def test_a_503_naming_no_batch_is_the_try_again_page_with_a_reference(portal: StubbedPortal) -> None:
    portal.on("POST", "ingest/v1/batches", lambda _: _publish_failed("/v1/batches"))
    client, person, kept = _checked(portal)

    page = client.post("/batches/submit", data=form(person, **kept))

    assert page.status_code == 503
    assert "Sorry, there is a problem with the service" in page.text
    reference = page.headers["x-request-id"]
    assert f"give them this reference: <code>{reference}</code>" in page.text
    assert portal.sent_to("POST", "ingest/v1/batches")[0].headers["x-request-id"] == reference  # in ingest's log too


def test_the_submit_waits_for_ingest_longer_than_ingest_waits_for_kafka(portal: StubbedPortal) -> None:
    waited: list[float] = []

    def accepted(request: httpx.Request) -> httpx.Response:
        waited.append(request.extensions["timeout"]["read"])
        return httpx.Response(202, json={"batch_id": NOT_QUEUED})

    portal.on("POST", "ingest/v1/batches", accepted)
    client, person, kept = _checked(portal)

    client.post("/batches/submit", data=form(person, **kept))

    publish: float = IngestSettings.model_fields["publish_timeout_seconds"].default
    assert waited == [PortalSettings.model_fields["submit_timeout_seconds"].default]
    assert waited[0] > publish  # not the client's 30 s of every other call, which equals ingest's publish timeout
    assert PortalSettings(submit_timeout_seconds=90).submit_timeout_seconds == 90


def test_ingest_silent_past_the_submit_timeout_is_logged_with_how_long_the_portal_waited(
    portal: StubbedPortal,
) -> None:
    def silent(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    portal.on("POST", "ingest/v1/batches", silent)
    client, person, kept = _checked(portal)

    with structlog.testing.capture_logs() as logs:
        page = client.post("/batches/submit", data=form(person, **kept))

    assert page.status_code == 503
    (said,) = [line for line in logs if line["event"] == "service_unavailable"]
    assert said["detail"] == "The ingest service did not answer within 55 s (ReadTimeout)."


def test_an_unexpected_failure_names_its_reference_and_a_missing_page_does_not(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in()
    challenge_id = uuid.uuid4()

    def broken(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a bug")

    portal.on("GET", f"challenges/v1/challenges/{challenge_id}", broken)

    failed = client.get(f"/challenges/{challenge_id}", headers={"X-Request-Id": "desk-ticket-7"})
    missing = client.get("/no-such-page")

    assert failed.status_code == 500 and failed.headers["x-request-id"] == "desk-ticket-7"
    assert "give them this reference: <code>desk-ticket-7</code>" in failed.text
    assert 'href="/help/contact">LRS service desk</a>' in failed.text
    assert missing.status_code == 404 and "data-reference" not in missing.text


def test_the_portals_database_away_names_its_reference(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in()

    async def database_away(*_: object, **__: object) -> None:
        raise ConnectionRefusedError(111, "Connect call failed")

    portal.auth.session_for = database_away  # type: ignore[method-assign]

    page = client.get("/batches")

    assert page.status_code == 503
    assert f"give them this reference: <code>{page.headers['x-request-id']}</code>" in page.text
