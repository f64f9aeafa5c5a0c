"""The portal's addresses of the services (`LRS_<SERVICE>_URL`, or `PORTAL_<SERVICE>_URL`) are refused as it starts
unless absolute http(s) URLs, naming the variable: one without its scheme was taken, the portal was ready, and every
page then answered 503 (config walk, finding 6)."""

from __future__ import annotations

import os

import pytest

from lrs_platform.settings import load_settings
from portal.config import PortalSettings

URLS = [
    "LRS_INGEST_URL",
    "PORTAL_INGEST_URL",
    "LRS_PLR_PROJECTOR_URL",
    "LRS_CHALLENGES_URL",
    "LRS_NOTIFIER_URL",
    "LRS_REPORTING_URL",
    "LRS_VALIDATION_URL",
    "PORTAL_PLR_READER_URL",
    "LRS_PLR_READER_URL",
    "LRS_SANDPIT_INGEST_URL",
    "PORTAL_SANDPIT_PLR_PROJECTOR_URL",
]


@pytest.fixture(autouse=True)
def _nothing_of_a_sourced_run_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in list(os.environ):
        if variable.startswith(("PORTAL_", "DATABASE_URL", "LRS_", "KAFKA_")):
            monkeypatch.delenv(variable)


@pytest.mark.parametrize("variable", URLS)
@pytest.mark.parametrize("value", ["ingest.lrs.svc:80", "not a url", "http://", "http://ingest:port", " http://ingest"])
def test_an_address_that_is_no_url_is_refused_naming_the_variable(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(SystemExit) as stopped:
        load_settings(PortalSettings)

    assert stopped.value.code == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{variable}={value!r}: not an absolute http(s) URL with a host, like http://ingest:8001"
    ]


def test_the_addresses_kubernetes_and_make_up_give_are_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LRS_INGEST_URL", "http://ingest")  # deploy/k8s/base/services/portal.yaml
    monkeypatch.setenv("LRS_PLR_READER_URL", "http://plr-reader/")
    monkeypatch.setenv("LRS_SANDPIT_INGEST_URL", "http://127.0.0.1:43465")  # .run/env
    monkeypatch.setenv("LRS_REPORTING_URL", "https://reporting.lrs.example:8443")

    settings = load_settings(PortalSettings)

    assert (settings.ingest_url, settings.plr_reader_url) == ("http://ingest", "http://plr-reader")
    assert (settings.sandpit_ingest_url, settings.reporting_url) == (
        "http://127.0.0.1:43465",
        "https://reporting.lrs.example:8443",
    )


def test_a_database_address_refused_is_named_without_its_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PORTAL_SANDPIT_DATABASE_URL", "postgresql://portal:Xk29sPq7Lm@lrs-db-rw/lrs")

    with pytest.raises(SystemExit):
        load_settings(PortalSettings)

    assert capsys.readouterr().err.splitlines() == [
        "PORTAL_SANDPIT_DATABASE_URL='postgresql://portal:***@lrs-db-rw/lrs': the Sandpit needs a database of its own"
        " (named '*sandpit*'), not 'lrs'"
    ]
