"""The audit of a learner's personal data handed out (decision 0191): `lrs learners personal-data --reason` sends the
reason to validation, which audits the copy with it, and to no other service; a reason validation would refuse is a
usage error before anything is read; `lrs learners disclosures [--uln ULN]` lists the audit a page at a time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from lrs_cli import personal_data_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main

ULN = "1000000043"
LEARNER = {"uln": ULN, "ulns": [ULN], "erased": False, "registered_details": [{"uln": ULN, "given_name": "Quenivere"}]}
DISCLOSURES = [
    {
        "disclosure_id": "8d1c3a52-7a3e-4a43-9d1f-3c53e1d0a001",
        "uln": ULN,
        "read_by": "operator:dpo",
        "read_at": "2026-12-06T09:00:00Z",
        "reason": "SAR 2026-117",
        "reason_erased": False,
    },
    {
        "disclosure_id": "8d1c3a52-7a3e-4a43-9d1f-3c53e1d0a002",
        "uln": "5449721047",
        "read_by": "operator:desk",
        "read_at": "2026-12-05T09:00:00Z",
        "reason": None,
        "reason_erased": True,
    },
]


class Services:
    """Validation, the PLR service and challenges as the operator's key reaches them: what each was sent."""

    def __init__(self, *, sandpit: bool = False) -> None:
        self.sandpit = sandpit
        self.sent: list[httpx.Request] = []

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url=f"http://{service}", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        if request.url.path == "/v1/admin/learners/personal-data/disclosures":
            return httpx.Response(200, json={"disclosures": DISCLOSURES, "next": "page-2"})
        if request.url.host == "validation":
            return httpx.Response(200, json=LEARNER)
        if request.url.host == "plr_projector":
            return httpx.Response(200, json={"uln": ULN, "learning_events": []})
        return httpx.Response(200, json={"items": [], "next": None})


def _lrs(monkeypatch: pytest.MonkeyPatch, services: Services, *args: str) -> int:
    monkeypatch.setattr(personal_data_commands, "connection", lambda ctx: services)
    return main(["learners", *args])


def test_the_reason_goes_to_validation_which_audits_the_copy_and_to_no_other_service(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    services = Services()

    code = _lrs(
        monkeypatch, services, "personal-data", ULN, "--output", str(tmp_path / "sar.json"), "--reason", "SAR 2026-117"
    )

    assert code == ExitCode.OK
    [validation] = [request for request in services.sent if request.url.host == "validation"]
    assert (validation.url.path, dict(validation.url.params)) == (
        f"/v1/admin/learners/{ULN}/personal-data",
        {"reason": "SAR 2026-117"},
    )
    others = [request for request in services.sent if request.url.host != "validation"]
    assert others and not [request for request in others if "reason" in request.url.params]

    without = Services()
    assert _lrs(monkeypatch, without, "personal-data", ULN, "--output", str(tmp_path / "again.json")) == ExitCode.OK
    assert "reason" not in without.sent[0].url.params


@pytest.mark.parametrize(
    ("reason", "said"),
    [("SAR\nfrom the learner", "line break"), ("  ", "blank"), ("x" * 501, "501 characters"), ("a\u202eb", "U+202E")],
)
def test_a_reason_validation_would_refuse_is_a_usage_error_and_nothing_is_read(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, reason: str, said: str
) -> None:
    services = Services()
    target = tmp_path / "sar.json"

    code = _lrs(monkeypatch, services, "personal-data", ULN, "--output", str(target), "--reason", reason)

    assert code == ExitCode.USAGE
    assert services.sent == []
    assert not target.exists()
    error = capsys.readouterr().err
    assert "--reason" in error and said in error and "nothing was read" in error


def test_the_audit_is_listed_a_page_at_a_time_for_one_uln(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    services = Services()

    code = _lrs(monkeypatch, services, "disclosures", "--uln", ULN, "--limit", "2", "--after", "page-1")

    assert code == ExitCode.OK
    [request] = services.sent
    assert (request.url.host, request.url.path) == ("validation", "/v1/admin/learners/personal-data/disclosures")
    assert dict(request.url.params) == {"uln": ULN, "limit": "2", "after": "page-1"}
    out, err = capsys.readouterr()
    assert "SAR 2026-117" in out and "operator:desk" in out and "not kept" in out
    assert "--after page-2" in err


def test_the_audit_as_json_and_for_everyone(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    services = Services()

    code = _lrs(monkeypatch, services, "disclosures", "--json")

    assert code == ExitCode.OK
    assert dict(services.sent[0].url.params) == {"limit": "100"}
    listed: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    assert listed == DISCLOSURES


@pytest.mark.parametrize(
    ("args", "said"), [(["--uln", "1000000044"], "check digit of ULN 1000000044"), (["--limit", "0"], "--limit")]
)
def test_a_mistyped_uln_or_limit_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    services = Services()

    assert _lrs(monkeypatch, services, "disclosures", *args) == ExitCode.USAGE
    assert services.sent == []
    assert said in capsys.readouterr().err


def test_the_sandpit_keeps_no_audit(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    services = Services(sandpit=True)

    assert _lrs(monkeypatch, services, "disclosures") == ExitCode.USAGE
    assert services.sent == []
    assert "leave out --sandpit" in capsys.readouterr().err
