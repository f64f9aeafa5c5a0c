from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from lrs_platform.settings import load_settings
from notifier.config import NotifierSettings


def test_email_links_go_to_the_portal_of_make_up_unless_a_public_base_url_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NOTIFIER_PUBLIC_BASE_URL", raising=False)
    monkeypatch.setenv("LRS_PORTAL_URL", "http://127.0.0.1:5555/")
    assert NotifierSettings().public_base_url == "http://127.0.0.1:5555"
    monkeypatch.setenv("NOTIFIER_PUBLIC_BASE_URL", "https://portal.lrs.example")
    assert NotifierSettings().public_base_url == "https://portal.lrs.example"


@pytest.mark.parametrize("url", ["/batches", "portal.lrs.example", "https://portal .example"])
def test_a_public_base_url_that_is_not_an_absolute_http_url_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="absolute http"):
        NotifierSettings(NOTIFIER_PUBLIC_BASE_URL=url)


def test_message_ids_are_of_the_senders_domain_unless_one_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFIER_MESSAGE_ID_DOMAIN", raising=False)
    monkeypatch.setenv("NOTIFIER_MAIL_FROM", "lrs-notifications@lrs.example")
    assert NotifierSettings().message_ids_domain == "lrs.example"
    monkeypatch.setenv("NOTIFIER_MESSAGE_ID_DOMAIN", "mail.lrs.example")
    assert NotifierSettings().message_ids_domain == "mail.lrs.example"


@pytest.mark.parametrize("variable", ["NOTIFIER_PUBLIC_BASE_URL", "LRS_PORTAL_URL"])
def test_a_public_base_url_refused_is_one_line_naming_its_variable_once(
    variable: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A review of session 61's work, finding 6: the line named the variable twice."""
    for name in list(os.environ):
        if name.upper().startswith(("NOTIFIER_", "LRS_", "KAFKA_", "DATABASE_URL")):
            monkeypatch.delenv(name)
    monkeypatch.setenv(variable, "portal.lrs.example")

    with pytest.raises(SystemExit) as stopped:
        load_settings(NotifierSettings)

    assert stopped.value.code == 1
    assert capsys.readouterr().err.splitlines() == [f"{variable}='portal.lrs.example': not an absolute http(s) URL"]
