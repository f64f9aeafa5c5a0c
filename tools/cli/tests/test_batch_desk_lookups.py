"""What the service desk asks `lrs batch`: a batch whose outcome is held in ingest's dead letters says so, and who
to ask (exit status 3, as an undecided batch); `lrs batch status` takes the 8 characters of a batch email's subject
when they name one batch (several: listed, exit status 2); `lrs batch list --since/--until` reads a UK date as the
start of that UK day, or an instant with its zone."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from lrs_cli.batch_commands import summary
from lrs_cli.client import ExitCode
from lrs_cli.main import main

from .answering import answered_by

BATCH_ID = "5a398464-1f2e-4c3d-9b8a-7f6e5d4c3b2a"
OTHER_ID = "5a398464-9999-4c3d-9b8a-7f6e5d4c3b2a"
HELD = {
    "batch_id": BATCH_ID,
    "ao_id": "RN9008",
    "status": "accepted",
    "format": "csv",
    "counts": {"total": 10},
    "received_at": "2026-12-07T02:50:00Z",
    "held_in_dead_letters": {"count": 4, "since": "2026-12-07T02:52:10Z"},
}
HELD_LINE = (
    "  its outcome is held in ingest's dead letters since 7 Dec 2026, 02:52 (UK time): an operator is dealing with it"
    f" (operators: lrs dlq list --service ingest --key {BATCH_ID})"
)


def _ingest(monkeypatch: pytest.MonkeyPatch, answer: Callable[[httpx.Request], httpx.Response]) -> list[httpx.URL]:
    asked: list[httpx.URL] = []

    def recorded(request: httpx.Request) -> httpx.Response:
        asked.append(request.url)
        return answer(request)

    answered_by(monkeypatch, recorded)
    return asked


def _page(*items: dict[str, Any], total: int | None = None) -> httpx.Response:
    return httpx.Response(
        200, json={"items": list(items), "page": 1, "page_size": 20, "total": len(items) if total is None else total}
    )


# ---------------------------------------------------------------- held in ingest's dead letters


def test_a_batch_whose_outcome_is_parked_says_so_and_is_not_final(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _ingest(monkeypatch, lambda request: httpx.Response(200, json=HELD))

    assert main(["batch", "status", BATCH_ID, "--wait", "5"]) == ExitCode.NOT_FINAL

    assert capsys.readouterr().out.splitlines() == [f"batch {BATCH_ID}: accepted - 10 records", HELD_LINE]


def test_a_batch_held_nowhere_says_nothing_of_it() -> None:
    text = summary({**HELD, "held_in_dead_letters": None}).plain
    assert "dead letters" not in text and "not decided yet: ask again with --wait SECONDS" in text


# ---------------------------------------------------------------- status by the start of the id


def test_the_start_of_an_id_that_names_one_batch_shows_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/batches":
            return _page(HELD)
        assert request.url.path == f"/v1/batches/{BATCH_ID}"
        return httpx.Response(200, json={**HELD, "status": "completed", "held_in_dead_letters": None})

    asked = _ingest(monkeypatch, answer)

    assert main(["batch", "status", "5a398464"]) == ExitCode.OK

    assert asked[0].params["id_prefix"] == "5a398464"
    assert capsys.readouterr().out.startswith(f"batch {BATCH_ID}: completed")


def test_the_start_of_an_id_that_names_several_lists_them_and_asks_for_more(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    other = {**HELD, "batch_id": OTHER_ID, "held_in_dead_letters": None}
    _ingest(monkeypatch, lambda request: _page(HELD, other))

    assert main(["batch", "status", "5a398464"]) == ExitCode.USAGE

    said = capsys.readouterr()
    assert BATCH_ID in said.out and OTHER_ID in said.out
    assert "several batches (2) start with 5a398464 (above): give more of the id" in said.err


def test_the_start_of_an_id_that_names_none_is_not_found(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _ingest(monkeypatch, lambda request: _page())

    assert main(["batch", "status", "5a398464"]) == ExitCode.FAILED

    assert (
        "HTTP 404: Not found: there is no batch whose id starts 5a398464 that your API key can see."
        in capsys.readouterr().err
    )


@pytest.mark.parametrize("given", ["5a39846", "5a398464x", "batch 5a398464"])
def test_less_than_8_characters_of_an_id_is_a_usage_error_before_ingest_is_asked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], given: str
) -> None:
    asked = _ingest(monkeypatch, lambda request: _page())

    assert main(["batch", "status", given]) == ExitCode.USAGE

    assert asked == []
    assert "its first 8 characters or more" in capsys.readouterr().err


# ---------------------------------------------------------------- list --since / --until


@pytest.mark.parametrize(
    ("since", "until", "received_from", "received_to"),
    [
        # a UK date: the start of that day in the UK (BST in June, GMT in December)
        ("2026-06-01", "2026-06-02", "2026-05-31T23:00:00Z", "2026-06-01T23:00:00Z"),
        ("7 December 2026", "8 Dec 2026", "2026-12-07T00:00:00Z", "2026-12-08T00:00:00Z"),
        ("2026-12-07T09:30Z", "2026-12-07T11:30+01:00", "2026-12-07T09:30:00Z", "2026-12-07T10:30:00Z"),
    ],
)
def test_list_asks_for_the_batches_received_between(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    since: str,
    until: str,
    received_from: str,
    received_to: str,
) -> None:
    asked = _ingest(monkeypatch, lambda request: _page(HELD))

    assert main(["batch", "list", "--since", since, "--until", until, "--json"]) == ExitCode.OK

    (url,) = asked
    assert (url.params["received_from"], url.params["received_to"]) == (received_from, received_to)
    assert [batch["batch_id"] for batch in json.loads(capsys.readouterr().out)] == [BATCH_ID]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--since", "2026-12-07T09:30"], "has no time zone"),
        (["--until", "about ten"], "is not a date such as 2026-12-07"),
        (["--since", "2026-12-08", "--until", "2026-12-07"], "is not before --until"),
    ],
)
def test_list_refuses_a_time_it_cannot_place_before_asking(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    asked = _ingest(monkeypatch, lambda request: _page())

    assert main(["batch", "list", *args]) == ExitCode.USAGE

    assert asked == []
    assert said in capsys.readouterr().err
