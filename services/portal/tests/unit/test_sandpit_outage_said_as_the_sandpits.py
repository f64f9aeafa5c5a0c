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


@pytest.mark.parametrize(
    ("environment", "path", "service", "problem_with"),
    [
        ("sandpit", "/sandpit/batches", "The Sandpit's ingest service", "the Sandpit"),
        ("live", "/batches", "The ingest service", "the service"),  # as before
    ],
)
def test_an_ingest_away_is_logged_and_shown_as_its_environments(
    portal: StubbedPortal, environment: str, path: str, service: str, problem_with: str
) -> None:
    if environment == "live":
        portal.on("GET", "ingest/v1/batches", _away)
    client, _ = portal.signed_in()

    with structlog.testing.capture_logs() as logs:
        page = client.get(path)

    assert page.status_code == 503
    (said,) = [line for line in logs if line["event"] == "service_unavailable"]
    assert said["detail"] == f"{service} did not answer (ConnectError)."
    assert said["target_environment"] == environment
    assert f"Sorry, there is a problem with {problem_with}" in page.text
    if environment == "sandpit":
        assert "The Sandpit is not available just now; the live service is not affected." in page.text
        assert f"give them this reference: <code>{page.headers['x-request-id']}</code>" in page.text
    else:
        assert "Sandpit" not in page.text.split("<main", 1)[-1]
