"""An AO's `lrs plr show` of an erased learner it has achievements of says the learner was erased, as the portal's
learner page does and as an operator's read does: the PLR read says `learner_erased` to such an AO (parity walk,
finding 7). Validation's erasure audit, an operator's, is not asked for the day."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main

from .answering import paths_answered

ULN = "1000000043"
AO_PLR: dict[str, Any] = {
    "environment": "live",
    "uln": ULN,
    "master_uln": ULN,
    "ulns": [ULN],
    "ability_to_share": None,
    "learning_events": [],
    "withdrawn_not_shown": 0,
    "events_held_in_dead_letters": None,
    "learner_erased": True,
}
AO_ERASED = (
    "Erased: no achievement can be recorded for this ULN, so these results can no longer be changed or withdrawn"
)


def _serve(monkeypatch: pytest.MonkeyPatch, plr: dict[str, Any]) -> list[str]:
    return paths_answered(
        monkeypatch,
        {f"/v1/learners/{ULN}/plr": httpx.Response(200, json=plr)},
        otherwise=httpx.Response(403, json={"title": "Forbidden", "detail": "an AO's key"}),
    )


def test_an_aos_read_of_an_erased_learner_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = _serve(monkeypatch, AO_PLR)

    assert main(["plr", "show", ULN]) == ExitCode.OK

    out = " ".join(capsys.readouterr().out.split())  # as one line, however the console wrapped it
    assert f"{AO_ERASED} (RV004)" in out
    assert "lrs learners erasures" not in out  # an operator's command: not the AO's to run
    assert asked == [f"/v1/learners/{ULN}/plr"]  # the erasure audit is an operator's: not asked


@pytest.mark.parametrize("said", [{"learner_erased": False}, {}])
def test_an_aos_read_of_a_learner_not_said_erased_says_nothing_of_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], said: dict[str, Any]
) -> None:
    plr = {key: value for key, value in AO_PLR.items() if key != "learner_erased"} | said
    _serve(monkeypatch, plr)

    assert main(["plr", "show", ULN]) == ExitCode.OK

    assert "Erased" not in capsys.readouterr().out


def test_the_json_answer_is_the_projectors(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _serve(monkeypatch, AO_PLR)

    assert main(["plr", "show", ULN, "--json"]) == ExitCode.OK

    assert json.loads(capsys.readouterr().out)["learner_erased"] is True
