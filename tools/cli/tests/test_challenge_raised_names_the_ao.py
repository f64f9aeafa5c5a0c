"""`lrs challenges raise` names the AO the challenge went to as the register names it, with its id in brackets, and
the id alone when the learner's PLR cannot say (offline, against services that answer as the real ones do)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from lrs_cli import challenge_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main

ULN, ACHIEVEMENT_ID, CHALLENGE_ID = (
    "1000000043",
    "66666666-7777-4888-9999-000000000000",
    "0b6f1c0e-5a2d-4c8e-9f3a-7d1e2b4c6a80",
)
RAISED = {
    "challenge_id": CHALLENGE_ID,
    "achievement_id": ACHIEVEMENT_ID,
    "ao_id": "RN9008",
    "uln": ULN,
    "state": "raised",
}


class _Services:
    sandpit = False

    def __init__(self, plr: httpx.Response) -> None:
        self.plr = plr
        self.asked: list[tuple[str, str, str]] = []

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        def answer(request: httpx.Request) -> httpx.Response:
            self.asked.append((service, request.method, request.url.path))
            return httpx.Response(201, json=RAISED) if service == "challenges" else self.plr

        return httpx.Client(base_url=f"http://{service}", transport=httpx.MockTransport(answer))


def _raised(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], services: _Services) -> str:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(challenge_commands, "connection", lambda ctx: services)
    assert main(["challenges", "raise", ACHIEVEMENT_ID, "--reason", "My grade was a Merit."]) == ExitCode.OK
    return capsys.readouterr().out.strip()


def _plr(*events: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"uln": ULN, "ability_to_share": 1, "learning_events": list(events)})


def test_the_ao_is_named_as_the_register_names_it_with_its_id(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    services = _Services(
        _plr(
            {"id": "11111111-2222-4333-8444-555555555555", "source": "AO", "awarding_organisation_name": "Pearson"},
            {"id": ACHIEVEMENT_ID, "source": "AO", "awarding_organisation_name": "AQA Education"},
        )
    )

    assert _raised(monkeypatch, capsys, services) == f"challenge {CHALLENGE_ID}: raised with AQA Education (RN9008)"
    assert services.asked[1] == ("plr_projector", "GET", f"/v1/learners/{ULN}/plr")


@pytest.mark.parametrize(
    "plr", [_plr(), httpx.Response(503, json={"title": "Service Unavailable"})], ids=["not on the PLR", "PLR unread"]
)
def test_the_id_alone_when_the_plr_cannot_name_it(
    plr: httpx.Response, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _raised(monkeypatch, capsys, _Services(plr)) == f"challenge {CHALLENGE_ID}: raised with RN9008"
