"""Report-sandpit finding 4: with the Sandpit's ingest away, the portal logged "The ingest service did not answer" with
only its own `environment: live`, and the test lead's page said nothing of which service: the service desk read it as
live ingest down. The log line now says it is the Sandpit's service and carries `target_environment="sandpit"`, and the
Sandpit's page says the live service is not affected; live's words are as they were."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
import structlog
from services.portal.tests.unit.stubbed_portal import StubbedPortal, keeping_sandpit_keys, stubbed_portal

from portal.backend import Services
from portal.config import PortalSettings
from portal.web import errors


def _away(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@pytest.fixture
def portal(monkeypatch: pytest.MonkeyPatch) -> StubbedPortal:
    # a logger that earlier tests used is cached with the processors of then, which capture_logs cannot replace
    monkeypatch.setattr(errors, "_log", structlog.get_logger("portal.web"))
    portal = stubbed_portal()
    settings = PortalSettings.model_validate(
        {"PORTAL_SANDPIT_INGEST_URL": "http://sandpit-ingest", "PORTAL_SANDPIT_PLR_PROJECTOR_URL": "http://sandpit-p"}
    )
    sandpit = Services.sandpit(settings, httpx.AsyncClient(transport=httpx.MockTransport(_away)))
    portal.app.state.portal = dataclasses.replace(portal.app.state.portal, sandpit=sandpit)
    keeping_sandpit_keys(portal, monkeypatch)
    return portal


def test_the_sandpits_ingest_away_is_logged_and_shown_as_the_sandpits(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in()

    with structlog.testing.capture_logs() as logs:
        page = client.get("/sandpit/batches")

    assert page.status_code == 503
    (said,) = [line for line in logs if line["event"] == "service_unavailable"]
    assert said["detail"] == "The Sandpit's ingest service did not answer (ConnectError)."
    assert said["target_environment"] == "sandpit"
    assert "Sorry, there is a problem with the Sandpit" in page.text
    assert "The Sandpit is not available just now; the live service is not affected." in page.text
    assert f"give them this reference: <code>{page.headers['x-request-id']}</code>" in page.text


def test_lives_ingest_away_is_said_as_before(portal: StubbedPortal) -> None:
    portal.on("GET", "ingest/v1/batches", _away)
    client, _ = portal.signed_in()

    with structlog.testing.capture_logs() as logs:
        page = client.get("/batches")

    assert page.status_code == 503
    (said,) = [line for line in logs if line["event"] == "service_unavailable"]
    assert said["detail"] == "The ingest service did not answer (ConnectError)."
    assert said["target_environment"] == "live"
    assert "Sorry, there is a problem with the service" in page.text
    assert "Sandpit" not in page.text.split("<main", 1)[-1]
