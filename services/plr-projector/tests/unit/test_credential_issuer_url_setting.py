"""`PROJECTOR_CREDENTIAL_ISSUER_URL` is signed into every credential (its issuer, its key ids) and set once, before the
first: a typo (no scheme, a trailing space) is refused as the projector starts, naming the variable, rather than found
in credentials the LRS's own check then calls forged (config walk, finding 2). Plain http only on this machine, as
`make up` sets it (`http://127.0.0.1:<port>`). Checked as every service URL is (`service_url_setting`): a port out of
range is refused too, and the line names the variable once (a review of session 61's work, finding 6)."""

from __future__ import annotations

import os

import pytest

from lrs_platform.settings import load_settings
from plr_projector.config import ProjectorSettings

KEY = "DBLUf7VXYuUjyQtc7qyIoG2T5r31Mv2onqKO7OVRcKA="


@pytest.fixture(autouse=True)
def _nothing_of_a_sourced_run_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in list(os.environ):
        if variable.startswith(("PROJECTOR_", "DATABASE_URL", "LRS_", "KAFKA_")):
            monkeypatch.delenv(variable)
    monkeypatch.setenv("PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY", KEY)


@pytest.mark.parametrize(
    "value",
    [
        "api.lrs.example",
        "api.lrs.example ",
        "https://api.lrs.example ",
        "",
        "https://",
        "ftp://api.lrs.example",
        "https://api.lrs.example:99999",
        "https://api.lrs.example:0x1bb",
        "https://:8443",
    ],
)
def test_a_value_that_is_no_url_is_refused_naming_the_variable(
    value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PROJECTOR_CREDENTIAL_ISSUER_URL", value)

    with pytest.raises(SystemExit) as stopped:
        load_settings(ProjectorSettings)

    assert stopped.value.code == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        f"PROJECTOR_CREDENTIAL_ISSUER_URL={value!r}: not an absolute http(s) URL with a host, like https://api.lrs.example"
    ]
    assert KEY[-12:] not in lines[0]


@pytest.mark.parametrize("value", ["http://api.lrs.example", "http://10.0.0.7:8003"])
def test_plain_http_is_refused_off_this_machine(
    value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PROJECTOR_CREDENTIAL_ISSUER_URL", value)

    with pytest.raises(SystemExit):
        load_settings(ProjectorSettings)

    assert capsys.readouterr().err.splitlines() == [
        f"PROJECTOR_CREDENTIAL_ISSUER_URL={value!r}: must be https:// (plain http only on this machine: localhost,"
        " 127.0.0.1)"
    ]


@pytest.mark.parametrize(
    ("value", "taken"),
    [
        ("https://api.lrs.example", "https://api.lrs.example"),
        ("https://api.lrs.example/", "https://api.lrs.example"),
        ("https://api.lrs.example:8443/lrs", "https://api.lrs.example:8443/lrs"),
        ("http://127.0.0.1:43465", "http://127.0.0.1:43465"),  # make up's: $LRS_PLR_PROJECTOR_URL
        ("http://localhost:8003", "http://localhost:8003"),
    ],
)
def test_an_https_url_or_this_machines_is_taken(value: str, taken: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROJECTOR_CREDENTIAL_ISSUER_URL", value)

    assert load_settings(ProjectorSettings).credential_issuer_url == taken


def test_the_default_is_this_machines() -> None:
    assert ProjectorSettings().credential_issuer_url == "http://127.0.0.1:8003"
