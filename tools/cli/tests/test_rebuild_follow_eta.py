"""`lrs projector rebuild start --follow` shows the projector's rate and ETA as it follows (its help promises
"progress and ETA"), worded as `rebuild status` words them; while the keys and indexes are built (indexing) both say
the ETA is unknown rather than "100%, ETA 0m00s"."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from lrs_cli.main import main
from lrs_cli.projector_commands import rebuild_line

LOADING = {
    "state": "running",
    "phase": "loading",
    "rebuild_id": 8,
    "progress": 0.41,
    "projected_events": 136_000,
    "target_events": 333_531,
    "events_per_second": 31_000.0,
    "eta_seconds": 19.0,
    "events_past_target": 0,
    "workers": [{"worker": 0, "state": "running"}, {"worker": 1, "state": "running"}],
    "last_error": None,
}
INDEXING = {
    **LOADING,
    "phase": "indexing",
    "progress": 1.0,
    "projected_events": 333_531,
    "eta_seconds": None,
    "workers": [{"worker": 0, "state": "done"}, {"worker": 1, "state": "done"}],
}
CAUGHT_UP = {**INDEXING, "state": "caught_up", "phase": "following", "eta_seconds": 0.0, "events_per_second": 20_413.0}


def serve(monkeypatch: pytest.MonkeyPatch, answers: Iterator[dict[str, Any]]) -> list[str]:
    """The projector answering in turn; the progress descriptions the follow showed."""

    def projector(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200 if request.method == "GET" else 202, json=next(answers))

    real_client = httpx.Client

    def fake_client(*args: Any, **kwargs: Any) -> httpx.Client:
        return real_client(*args, **{**kwargs, "transport": httpx.MockTransport(projector)})

    shown: list[str] = []

    @contextmanager
    def progress(description: str, total: float | None = None, **_: Any) -> Iterator[Any]:
        def update(**changes: Any) -> None:
            shown.append(changes["description"])

        yield update

    monkeypatch.setattr(httpx, "Client", fake_client)
    monkeypatch.setattr("lrs_cli.projector_commands.time.sleep", lambda _: None)
    monkeypatch.setattr("lrs_cli.projector_commands.progress", progress)
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    return shown


def test_the_follow_shows_the_rate_and_eta_and_says_when_the_eta_is_unknown(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = serve(monkeypatch, iter([LOADING, INDEXING, CAUGHT_UP]))

    assert main(["projector", "rebuild", "start", "--follow"]) == 0

    assert shown == [
        "rebuild 8 loading: at 31,000/s, ETA 0m19s",
        "rebuild 8 indexing: building keys and indexes, ETA unknown",
    ]
    assert capsys.readouterr().out.strip().endswith("at 20,413/s, ETA 0m00s")


def test_an_indexing_rebuilds_line_says_the_eta_is_unknown_even_where_the_projector_says_0() -> None:
    line = rebuild_line({**INDEXING, "eta_seconds": 0.0})  # an older projector's answer
    assert line == (
        "rebuild 8 [running: indexing, 2 workers] 100.0% 333,531/333,531 log positions loaded;"
        " building keys and indexes, ETA unknown"
    )
    assert "0m00s" not in line


def test_a_loading_rebuilds_line_is_as_before() -> None:
    assert rebuild_line(LOADING).endswith("136,000/333,531 log positions at 31,000/s, ETA 0m19s")
