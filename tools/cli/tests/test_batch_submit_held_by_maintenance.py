"""Report windows, finding 3: while maintenance holds an AO's waiting batches, ingest's queue-limit 429 carries the
hold's notice and none of the batches is decided before it ends. `lrs batch submit` then does not send the file every
30 s for 15 minutes: past its patience (or during an unplanned pause, which has no end) it says when to send it again
and exits at once, 1 as a 429 that outlasts its patience; a hold that ends within its patience is waited out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lrs_cli.client import ExitCode

from .test_batch_refused import BATCH_ID, TOO_MANY_WAITING, _BusyIngest, _submit, batch_file  # noqa: F401


def _held(until: datetime | None) -> dict[str, object]:
    notice = {
        "reason": "database upgrade",
        "until": until.isoformat().replace("+00:00", "Z") if until else None,
        "paused": until is None,
        "message": "later",
    }
    return {**TOO_MANY_WAITING, "maintenance": notice}


def _a_minute_a_look(monkeypatch: pytest.MonkeyPatch) -> None:
    """A clock a minute on at each look: a loop that waited out its 15 minutes would end, not spin."""
    clock = iter(range(0, 100_000, 60))
    monkeypatch.setattr("lrs_cli.batch_commands.time.monotonic", lambda: float(next(clock)))


def test_a_window_ending_after_the_patience_is_said_and_not_waited_for(
    batch_file: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    slept: list[float] = []
    monkeypatch.setattr("lrs_cli.batch_commands.time.sleep", slept.append)
    _a_minute_a_look(monkeypatch)
    ingest = _BusyIngest(busy=float("inf"), problem=_held(datetime(2030, 7, 1, 12, 0, tzinfo=UTC)))

    code = _submit(ingest, str(batch_file), monkeypatch=monkeypatch)

    err = " ".join(capsys.readouterr().err.split())
    assert (code, ingest.sent, slept) == (ExitCode.FAILED, 1, [])
    assert "lrs does not wait that long: nothing of results.csv was kept" in err
    assert "send it again after 1 Jul 2030, 13:00 (UK time; 12:00 UTC)" in err


def test_a_pause_is_said_and_not_waited_for(
    batch_file: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    slept: list[float] = []
    monkeypatch.setattr("lrs_cli.batch_commands.time.sleep", slept.append)
    _a_minute_a_look(monkeypatch)
    ingest = _BusyIngest(busy=float("inf"), problem=_held(None))

    code = _submit(ingest, str(batch_file), monkeypatch=monkeypatch)

    err = " ".join(capsys.readouterr().err.split())
    assert (code, ingest.sent, slept) == (ExitCode.FAILED, 1, [])
    assert "send it again once the unplanned pause is resumed" in err


def test_a_window_ending_within_the_patience_is_waited_out(
    batch_file: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    slept: list[float] = []
    monkeypatch.setattr("lrs_cli.batch_commands.time.sleep", slept.append)
    ingest = _BusyIngest(busy=1, problem=_held(datetime.now(UTC) + timedelta(minutes=5)))

    code = _submit(ingest, str(batch_file), monkeypatch=monkeypatch)

    out, err = capsys.readouterr()
    assert (code, out.strip(), ingest.sent, slept) == (0, BATCH_ID, 2, [7])
    assert "lrs sends results.csv again in 7 s" in err
