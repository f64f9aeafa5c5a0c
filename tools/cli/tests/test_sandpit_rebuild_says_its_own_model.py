"""Under `--sandpit`, the rebuild commands name the Sandpit's own model, never "live" (report-sandpit finding 6: an
operator reading "achievements live 57 rebuilt 0" under the SANDPIT banner during an incident can think live's PLR is
involved); and a Sandpit replay or rebuild the projector refuses because the Sandpit's PLR log has expired events
(finding 1) says the projector's words. Live's words are unchanged (test_rebuild_switch_asked_first.py)."""

from __future__ import annotations

import httpx
import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_contracts.environments import ENVIRONMENT_HEADER, Environment

from .answering import clients_answered_by

COMPARED = {
    "identical": False,
    "compared_at": "2026-12-07T19:30:00+00:00",
    "counts": {"live": {"achievements": 57}, "rebuilt": {"achievements": 0}},
    "learners_compared": 120,
    "learners_differing": 46,
    "differing_ulns_masked": [],
    "global_checksums_differing": [],
}
CAUGHT_UP = {
    "state": "caught_up",
    "phase": "following",
    "rebuild_id": 1,
    "progress": 1.0,
    "projected_events": 300,
    "target_events": 300,
    "events_per_second": 0.0,
    "eta_seconds": 0,
    "events_past_target": 0,
    "workers": [],
    "last_error": None,
    "comparison": COMPARED,
}
EXPIRED = (
    "The Sandpit's PLR log keeps 30 days (it now starts at offset 30 on partition 0): re-projecting would drop the"
    " achievements recorded before it; reset the AOs' Sandpits instead. No replay was started."
)


def sandpit_projector(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The Sandpit's projector answering the rebuild's steps, and refusing a replay as its expired log makes it."""
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.method} {request.url.path}")
        path = request.url.path
        if path == "/healthz":
            response = httpx.Response(200, json={"status": "alive", "service": "plr-projector"})
        elif path == "/v1/admin/rebuild/compare":
            response = httpx.Response(200, json=COMPARED)
        elif path == "/v1/admin/rebuild/switch":
            response = httpx.Response(
                200, json={"rebuild_id": 1, "live_schema": "plr", "retired_schema": "plr_retired_1"}
            )
        elif path == "/v1/admin/replay":
            response = httpx.Response(
                409,
                json={
                    "title": "Sandpit re-projection refused",
                    "status": 409,
                    "detail": EXPIRED,
                    "code": "SANDPIT_LOG_EXPIRED",
                },
            )
        else:
            response = httpx.Response(200, json=CAUGHT_UP)
        response.headers[ENVIRONMENT_HEADER] = Environment.SANDPIT.value
        return response

    clients_answered_by(monkeypatch, answer)
    monkeypatch.setenv("LRS_SANDPIT_API_KEY", "lrs_sbx_operator_key")
    monkeypatch.setenv("LRS_SANDPIT_PLR_PROJECTOR_URL", "https://sandpit-projector.test")
    return asked


def test_a_sandpit_comparison_says_current_not_live(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sandpit_projector(monkeypatch)

    assert main(["--sandpit", "projector", "rebuild", "compare"]) == ExitCode.OK

    out = capsys.readouterr().out
    assert "achievements" in out and " current " in out and "rebuilt" in out
    assert "live" not in out


def test_a_sandpit_switch_names_the_sandpits_model(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sandpit_projector(monkeypatch)

    assert main(["--sandpit", "projector", "rebuild", "switch", "--yes"]) == ExitCode.OK

    said = capsys.readouterr()
    assert "the last comparison of rebuild 1 with the Sandpit's current model" in said.err
    assert "switched: rebuild 1 is now the Sandpit's current schema 'plr'" in said.out
    banner, *rest = said.err.splitlines()  # the banner says nothing here reaches a live PLR
    assert banner.startswith("SANDPIT:")
    assert "live" not in said.out + "\n".join(rest)


def test_a_sandpit_replay_refused_for_its_expired_log_says_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = sandpit_projector(monkeypatch)

    assert main(["--sandpit", "projector", "replay", "--from", "2026-12-07T19:23:23Z"]) != ExitCode.OK

    err = " ".join(capsys.readouterr().err.split())
    assert f"SANDPIT_LOG_EXPIRED - Sandpit re-projection refused: t{EXPIRED[1:]}" in err
    assert "started" not in err.replace("No replay was started", "")
    assert asked[-1] == "POST /v1/admin/replay"
