"""`lrs dlq list` says when a service has more parked than it lists, and how to see them."""

from __future__ import annotations

import socket

import pytest

from lrs_cli.client import Connection, ExitCode
from lrs_cli.dlq_commands import more_parked_text, still_parked_after
from lrs_cli.main import main
from lrs_cli.projector_commands import parked_events_table, projector_status_text
from lrs_contracts.environments import Environment

LIVE = Connection("lrs_k1_secret")


def test_a_listing_cut_short_says_how_many_are_parked_and_how_to_narrow_it() -> None:
    assert more_parked_text("ingest", 500, 12_345) == (
        "the first 500 of 12,345 parked in ingest: --key or --topic narrows, a larger --limit shows more"
    )
    assert more_parked_text("ingest", 3, 3) is None


def test_a_retry_that_left_messages_parked_says_so_and_what_to_do() -> None:
    failed = [{"topic": "lrs.plr.v1", "applied": 0, "still_parked": 2, "error": "data.grade: Field required"}]
    applied = [{"topic": "lrs.plr.v1", "applied": 2, "still_parked": 0}]

    assert still_parked_after(failed, LIVE, target="1000000043") == (
        "2 still parked: the retry failed again (first error above); deploy a fix and retry, or skip the poison"
        " (`lrs dlq skip 1000000043 --reason WHY`)"
    )
    assert still_parked_after(applied, LIVE, target="1000000043") is None


def test_a_skip_that_left_messages_parked_says_so_too() -> None:
    """And names no second skip: the projector's names the learner, and would drop the event first now, unseen
    (report idempotency, finding 1: the advice invited a third skip)."""
    behind = [{"topic": "lrs.plr.v1", "applied": 1, "skipped": 1, "still_parked": 2, "error": "data.grade: bad"}]

    assert still_parked_after(behind, LIVE, target="1000000043", skipped=True) == (
        "2 still parked: an event held behind the skipped one failed (first error above) and is now the learner's"
        " first parked event; nothing more was skipped. See it (`lrs dlq show 1000000043`); deploy a fix and retry"
        " (`lrs dlq retry 1000000043`). Skip it too only once you have seen it must go: a skip drops the event first"
        " when it runs"
    )


def test_a_parked_message_is_named_by_its_id_or_it_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dlq", "retry", "not-an-id", "--service", "ingest"]) == ExitCode.USAGE
    assert "name a parked message by its id (from `lrs dlq list`)" in capsys.readouterr().err


def test_the_commands_a_sandpit_dlq_names_go_to_the_sandpit(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sandpit = Connection("lrs_sbx_k1_secret", Environment.SANDPIT)
    failed = [{"topic": "lrs.plr.v1", "applied": 0, "still_parked": 2, "error": "data.grade: Field required"}]
    assert str(still_parked_after(failed, sandpit, target="1000000043")).endswith(
        "(`lrs --sandpit dlq skip 1000000043 --reason WHY`)"
    )

    monkeypatch.setenv("LRS_SANDPIT_API_KEY", "lrs_sbx_k1_secret")
    monkeypatch.setenv("LRS_SANDPIT_INGEST_URL", "http://127.0.0.1:9")  # nothing listens: it must not be reached
    assert main(["--sandpit", "dlq", "skip", "not-an-id", "--service", "ingest", "--reason", "test"]) == ExitCode.USAGE
    assert "(from `lrs --sandpit dlq list`)" in capsys.readouterr().err


def test_the_projector_status_counts_its_transactions_not_batches_an_ao_would_read_as_its_own() -> None:
    status = {
        "events_handled": 291,
        "batches": 12,
        "lag": {"lrs.plr.events.v1": {"events": 0, "seconds": 0.0}},
        "dead_letters": {"error": 1, "blocked": 2},
        "rebuild": {"state": "idle"},
    }

    assert projector_status_text(status).splitlines() == [
        "events handled since this projector started: 291 in 12 transactions",
        "  lrs.plr.events.v1            lag          0 events       0.0 s",
        "dead letters: 1 poison, 2 waiting behind them",
        "no rebuild running",
    ]


def test_a_keyless_event_s_long_name_keeps_the_projector_s_columns_aligned() -> None:
    row = {"topic": "lrs.plr.events.v1", "partition": 0, "reason": "error", "attempts": 1, "error": "invalid: x"}
    keyless = {**row, "learner": "keyless:lrs.plr.events.v1:0:1201", "offset": 1201}
    keyed = {**row, "learner": "1000000043", "offset": 1388}

    header, *lines = parked_events_table([keyless, keyed]).splitlines()

    assert {line.index("lrs.plr.events.v1 ") for line in lines} == {header.index("topic")}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize("as_json", [False, True])
def test_listing_every_service_when_none_answers_is_not_all_clear(
    as_json: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = f"http://127.0.0.1:{_closed_port()}"
    for service in ("INGEST", "VALIDATION", "PLR_PROJECTOR", "NOTIFIER", "REPORTING", "CHALLENGES"):
        monkeypatch.setenv(f"LRS_{service}_URL", closed)
    monkeypatch.setenv("LRS_API_KEY", "lrs_k1_secret")

    code = main(["dlq", "list", "--service", "all", *(["--json"] if as_json else [])])

    captured = capsys.readouterr()
    assert code == ExitCode.UNREACHABLE
    assert captured.out.count("cannot reach") == 6
    assert "not every service answered" in captured.err


@pytest.mark.parametrize("as_json", [False, True])
def test_listing_every_service_of_the_sandpit_asks_the_four_it_runs(
    as_json: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It has no reporting or challenges service: their absence is no outage, and the exit status says so."""
    closed = f"http://127.0.0.1:{_closed_port()}"
    for service in ("INGEST", "VALIDATION", "PLR_PROJECTOR", "NOTIFIER"):
        monkeypatch.setenv(f"LRS_SANDPIT_{service}_URL", closed)
    monkeypatch.setenv("LRS_SANDPIT_API_KEY", "lrs_sbx_k1_secret")

    code = main(["--sandpit", "dlq", "list", "--service", "all", *(["--json"] if as_json else [])])

    captured = capsys.readouterr()
    assert code == ExitCode.UNREACHABLE
    assert captured.out.count("cannot reach") == 4
    assert "reporting" not in captured.out and "challenges" not in captured.out
