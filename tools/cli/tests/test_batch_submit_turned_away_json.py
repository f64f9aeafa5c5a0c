"""Report backfill, finding 6: `lrs batch submit --json` printed nothing when it gave up on a 429 or 503 (nothing of
the file kept), though its help says every refusal prints {"batch_id", "status": "refused", "refusal"}. It prints
that now, batch_id null and the refusal ingest's last problem, with the exit status as before (1 for a 429, 4 for a
503) and the reason on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lrs_cli.client import ExitCode

from .test_batch_refused import KAFKA_AWAY, TOO_MANY_WAITING, _BusyIngest, _submit, batch_file  # noqa: F401


def _a_minute_a_look(monkeypatch: pytest.MonkeyPatch) -> None:
    """A clock a minute on at each look, no sleep: submit's 15 minutes of patience run out at once."""
    clock = iter(range(0, 100_000, 60))
    monkeypatch.setattr("lrs_cli.batch_commands.time.monotonic", lambda: float(next(clock)))
    monkeypatch.setattr("lrs_cli.batch_commands.time.sleep", lambda seconds: None)


HELD_PAST_THE_PATIENCE = {
    **TOO_MANY_WAITING,
    "maintenance": {"reason": "database upgrade", "until": None, "paused": True, "message": "later"},
}


@pytest.mark.parametrize(
    ("problem", "exit_code"),
    [
        pytest.param(TOO_MANY_WAITING, ExitCode.FAILED, id="429 past the patience"),
        pytest.param(HELD_PAST_THE_PATIENCE, ExitCode.FAILED, id="429 held by a pause"),
        pytest.param(KAFKA_AWAY, ExitCode.UNREACHABLE, id="503 past the patience"),
    ],
)
def test_a_file_turned_away_prints_its_refusal_in_json(
    problem: dict[str, object],
    exit_code: ExitCode,
    batch_file: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _a_minute_a_look(monkeypatch)

    code = _submit(_BusyIngest(busy=float("inf"), problem=problem), "--json", str(batch_file), monkeypatch=monkeypatch)

    out, err = capsys.readouterr()
    assert code == exit_code
    assert json.loads(out) == {"batch_id": None, "status": "refused", "refusal": problem}
    assert "nothing of results.csv was kept" in err or "TOO_MANY_RECORDS_WAITING" in err


def test_without_json_a_file_turned_away_prints_nothing_on_stdout(
    batch_file: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _a_minute_a_look(monkeypatch)

    code = _submit(_BusyIngest(busy=float("inf")), str(batch_file), monkeypatch=monkeypatch)

    out, err = capsys.readouterr()
    assert (code, out) == (ExitCode.FAILED, "")
    assert "HTTP 429: TOO_MANY_RECORDS_WAITING" in err
