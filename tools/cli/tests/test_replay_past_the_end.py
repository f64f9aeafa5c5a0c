"""`lrs projector replay --from N` past the end of every partition (runbook walk, finding 9) says that nothing was
replayed and where the partitions end, not "re-projected 0 learners (0 events)"."""

from __future__ import annotations

import httpx
import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main

from .answering import answered_by

PAST_END = {
    "replay_id": 5,
    "from": "120000",
    "state": "finished",
    "result": {"learners": 0, "events": 0, "seconds": 0.11, "past_end": {"0": 300, "1": 280}},
}


def test_a_replay_past_the_end_says_nothing_was_replayed_and_where_the_log_ends(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def projector(request: httpx.Request) -> httpx.Response:
        return httpx.Response(202, json=PAST_END)

    answered_by(monkeypatch, projector)

    assert main(["projector", "replay", "--from", "120000"]) == ExitCode.OK
    assert capsys.readouterr().out.strip() == (
        "replay 5 replayed nothing: the PLR log has nothing at or after 120000 (partition 0 ends at offset 300;"
        " partition 1 ends at offset 280): give a smaller offset or an earlier time"
    )
