"""`lrs learners personal-data ULN --output FILE` (decision 0191): one JSON document gathered from validation, the PLR
service and challenges as the operator, every page of the learner's challenges under every ULN of theirs, written 0600;
a source that refuses the key writes nothing."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from lrs_cli import personal_data_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main

MASTER, MERGED = "1000000043", "1000000051"
LEARNER = {
    "uln": MERGED,
    "ulns": [MASTER, MERGED],
    "erased": False,
    "registered_details": [{"uln": MASTER, "given_name": "Quenivere"}, {"uln": MERGED, "given_name": "Quenivere"}],
}
PLR = {"uln": MASTER, "ulns": [MASTER, MERGED], "learning_events": [{"id": "a"}, {"id": "b"}]}


def _challenge(number: int) -> dict[str, Any]:
    return {"challenge_id": f"c{number}", "raised_at": f"2026-11-0{number}T10:00:00Z", "reason": "my grade"}


class Services:
    """Validation, the PLR service and challenges as the operator's key reaches them."""

    sandpit = False

    def __init__(self, refusing: str | None = None) -> None:
        self.refusing = refusing
        self.sent: list[httpx.Request] = []

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url=f"http://{service}", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        if request.url.host == self.refusing:
            return httpx.Response(
                403, json={"title": "Forbidden", "status": 403, "code": "OPERATOR_SCOPE_MISSING", "detail": "no"}
            )
        if request.url.host == "validation":
            assert request.url.path == f"/v1/admin/learners/{MERGED}/personal-data"
            return httpx.Response(200, json=LEARNER)
        if request.url.host == "plr_projector":
            assert request.url.path == f"/v1/learners/{MERGED}/plr"
            assert dict(request.url.params) == {"include_history": "true", "include_withdrawn": "true"}
            return httpx.Response(200, json=PLR)
        assert request.url.path == "/v1/challenges"
        assert request.url.params.get_list("uln") == [MASTER, MERGED]
        if request.url.params.get("after") is None:
            return httpx.Response(200, json={"items": [_challenge(3), _challenge(2)], "next": "page-2"})
        assert request.url.params["after"] == "page-2"
        return httpx.Response(200, json={"items": [_challenge(1)], "next": None})


def _export(monkeypatch: pytest.MonkeyPatch, services: Services, output: str) -> int:
    monkeypatch.setattr(personal_data_commands, "connection", lambda ctx: services)
    return main(["learners", "personal-data", MERGED, "--output", output])


def test_the_learners_data_is_gathered_into_one_private_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "sar.json"

    code = _export(monkeypatch, Services(), str(target))

    assert code == ExitCode.OK
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    document = json.loads(target.read_text())
    assert set(document) == {"learner", "plr", "challenges", "generated_at", "sources", "not_included"}
    assert (document["learner"], document["plr"]) == (LEARNER, PLR)
    assert [challenge["challenge_id"] for challenge in document["challenges"]] == ["c3", "c2", "c1"]  # both pages
    # the services by name, never their internal addresses (the file goes to the learner)
    assert document["sources"] == {
        "learner": {"service": "validation"},
        "plr": {"service": "plr-projector"},
        "challenges": {"service": "challenges"},
    }
    assert "http" not in json.dumps(document["sources"])
    # the details a correction replaced are on the learner log, and the file says so
    assert any("earlier version of the registered details" in item for item in document["not_included"])
    assert any("7 days" in item and "lrs.batch.submitted.v1" in item for item in document["not_included"])
    assert any("Logs hold no personal data" in item for item in document["not_included"])
    said = capsys.readouterr().out
    assert said.strip() == (
        f"wrote the personal data held about learner {MERGED} and 1 ULN merged with it to {target}: registered details,"
        " 2 achievements on the PLR, 3 challenges"
    )
    assert "Quenivere" not in said


def test_standard_output_takes_the_document_and_the_summary_goes_to_stderr(
    monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    code = _export(monkeypatch, Services(), "-")

    assert code == ExitCode.OK
    out, err = capsysbinary.readouterr()
    assert json.loads(out)["learner"] == LEARNER
    assert b"wrote the personal data held about learner" in err


@pytest.mark.parametrize("refusing", ["validation", "plr_projector", "challenges"])
def test_a_source_refusing_the_key_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, refusing: str
) -> None:
    target = tmp_path / "sar.json"

    code = _export(monkeypatch, Services(refusing), str(target))

    assert code == ExitCode.KEY_REFUSED
    assert not target.exists()
    said = capsys.readouterr().err
    assert "OPERATOR_SCOPE_MISSING" in said and "Nothing was written" in said and "erasure and support" in said
