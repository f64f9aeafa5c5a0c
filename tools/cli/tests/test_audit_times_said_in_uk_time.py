"""`lrs learners erasures` and `lrs learners disclosures` say when in UK time, to the minute, as the other operator
listings do (`lrs challenges list`, `lrs maintenance list`...): they printed the services' raw instants
("2026-12-06T11:33:02.463389Z"), an hour off the UK clock all summer (operator docs review, finding 7). --json keeps
the instants for scripts."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lrs_cli import erasure_commands, personal_data_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main

SUMMER = "2027-06-06T22:30:02.463389Z"  # 23:30 BST
WINTER = "2026-12-06T11:33:02.463389Z"  # 11:33 GMT
ERASURES = [
    {
        "erasure_id": "3b9e0d7c-2f43-4e0a-9b36-5c1d2a7e0001",
        "uln": "1000000043",
        "erased_by": "operator:dpo",
        "erased_at": SUMMER,
        "reason": "asked by the learner",
    },
    {
        "erasure_id": "3b9e0d7c-2f43-4e0a-9b36-5c1d2a7e0002",
        "uln": "5449721047",
        "erased_by": "operator:desk",
        "erased_at": WINTER,
        "reason": "SAR 2026-117",
    },
]
DISCLOSURES = [
    {
        "disclosure_id": "8d1c3a52-7a3e-4a43-9d1f-3c53e1d0a001",
        "uln": "1000000043",
        "read_by": "operator:dpo",
        "read_at": SUMMER,
        "reason": "SAR 2027-004",
        "reason_erased": False,
    },
    {
        "disclosure_id": "8d1c3a52-7a3e-4a43-9d1f-3c53e1d0a002",
        "uln": "5449721047",
        "read_by": "operator:desk",
        "read_at": WINTER,
        "reason": "SAR 2026-117",
        "reason_erased": False,
    },
]


class Validation:
    """Validation as the operator's key reaches it: the two audits, one page each."""

    sandpit = False

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url=f"http://{service}", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/admin/erasures":
            return httpx.Response(200, json={"erasures": ERASURES, "next": None})
        if request.url.path == "/v1/admin/learners/personal-data/disclosures":
            return httpx.Response(200, json={"disclosures": DISCLOSURES, "next": None})
        return httpx.Response(404, json={"title": "Not Found"})


def _lrs(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    for module in (erasure_commands, personal_data_commands):
        monkeypatch.setattr(module, "connection", lambda ctx: Validation())
    return main(["learners", *args])


@pytest.mark.parametrize(
    ("command", "header"), [("erasures", "erased at (UK time)"), ("disclosures", "read at (UK time)")]
)
def test_the_audits_say_when_in_uk_time(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str, header: str
) -> None:
    assert _lrs(monkeypatch, command) == ExitCode.OK

    out = capsys.readouterr().out
    assert header in out
    summer, winter = (line for line in out.splitlines() if "1000000043" in line or "5449721047" in line)
    assert "6 Jun 2027, 23:30" in summer and "1000000043" in summer  # BST: an hour after the UTC instant
    assert "6 Dec 2026, 11:33" in winter and "5449721047" in winter  # GMT: the UTC instant's own time
    assert "T22:30" not in out and "T11:33" not in out and ".463389" not in out


@pytest.mark.parametrize(("command", "items"), [("erasures", ERASURES), ("disclosures", DISCLOSURES)])
def test_json_keeps_the_instants(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str, items: list[dict[str, Any]]
) -> None:
    assert _lrs(monkeypatch, command, "--json") == ExitCode.OK

    assert json.loads(capsys.readouterr().out) == items
