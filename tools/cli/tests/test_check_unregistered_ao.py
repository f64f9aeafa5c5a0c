"""`lrs batch check` of a file whose header names an AO the shipped register does not hold (a typo: `RN9093X`):
RV022 cannot be judged, and the LRS would refuse the batch for naming another AO than the key's, so the check
warns, and never says the file passes without that warning. A warning, as a record's is: the exit status stays
the projection's (0 here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lrs_cli.main import main

SAMPLES = Path(__file__).resolve().parents[3] / "samples"


def _with_ao(tmp_path: Path, fmt: str, ao_id: str) -> Path:
    changed = tmp_path / f"sample-100.{fmt}"
    changed.write_text((SAMPLES / f"sample-100.{fmt}").read_text(encoding="utf-8").replace("RN9093", ao_id, 1))
    return changed


@pytest.mark.parametrize(("fmt", "field"), [("csv", "AwardingOrganisation"), ("json", "awardingOrganisation")])
@pytest.mark.parametrize("ao_id", ["RN9093X", "RN12345678"])
def test_an_ao_not_in_the_register_is_warned_of_and_no_pass_is_said_without_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str, field: str, ao_id: str
) -> None:
    code = main(["batch", "check", str(_with_ao(tmp_path, fmt, ao_id))])

    out = capsys.readouterr().out
    assert code == 0
    assert f"WARNING: {field} {ao_id} is not in the LRS register" in out and "(RV022) was not checked" in out
    passes = next(line for line in out.splitlines() if line.startswith("PROJECTED OUTCOME: passes"))
    assert passes.endswith("but see the WARNING above")
    assert "RV022" in out.splitlines()[-1]  # the closing "Not checked offline" line names it too


def test_json_lists_rv022_as_not_checked_and_warns_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["batch", "check", str(_with_ao(tmp_path, "csv", "RN9093X")), "--json"])

    captured = capsys.readouterr()
    assert code == 0
    assert "RV022" in json.loads(captured.out)["not_checked"]
    assert "AwardingOrganisation RN9093X is not in the LRS register" in captured.err


def test_an_ao_in_the_register_gets_no_warning(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["batch", "check", str(SAMPLES / "sample-100.csv"), "--json"])

    captured = capsys.readouterr()
    assert (code, captured.err) == (0, "")
    assert "RV022" not in json.loads(captured.out)["not_checked"]
