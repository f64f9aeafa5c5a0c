"""`lrs dlq history`, `lrs credentials list` and `lrs batch list` say when in UK time, to the minute, as every other
listing of `lrs` does (`lrs learners erasures`, `lrs challenges list`...): they printed UTC under a "(UTC)" header, an
hour off the UK clock all summer and the only listings that did. --json keeps the instants for scripts."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from lrs_cli import admin_commands, batch_commands, dlq_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_platform.credential_store import StoredKey
from lrs_platform.identity import Principal

SUMMER = "2027-06-06T22:30:02.463389Z"  # 23:30 BST
WINTER = "2026-12-06T11:33:02.463389+00:00"  # 11:33 GMT
SUMMER_SAID, WINTER_SAID = "6 Jun 2027, 23:30", "6 Dec 2026, 11:33"
RAW = ("T22:30", "T11:33", "22:30:02", "11:33:02", "2027-06-06", "2026-12-06", "(UTC)")

ACTION = {
    "action": "skip",
    "operator": "operator:ops",
    "reason": "a duplicate batch",
    "replaced": False,
    "consumer": "notifier",
    "topic": "lrs.batch.outcomes.v1",
    "partition": 3,
    "offset": 41,
    "event_id": None,
    "event_type": None,
    "applied": 1,
    "skipped": 1,
    "still_parked": 0,
}
ACTIONS = [{**ACTION, "acted_at": SUMMER}, {**ACTION, "offset": 42, "acted_at": WINTER}]
BATCHES = [
    {"batch_id": "0b6c2f3e-summer", "received_at": SUMMER, "ao_id": "RN9093", "status": "completed", "counts": {}},
    {"batch_id": "9a1d4e7c-winter", "received_at": WINTER, "ao_id": "RN9093", "status": "completed", "counts": {}},
]


class Ingest:
    """A service's admin API as the operator's key reaches it: its retries and skips."""

    sandpit = False

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url=f"http://{service}", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/admin/dlq/actions":
            return httpx.Response(200, json={"actions": ACTIONS})
        return httpx.Response(404, json={"title": "Not Found"})


def _dlq_history(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(dlq_commands, "connection", lambda ctx: Ingest())
    return main(["dlq", "history", "--service", "ingest", *args])


def _batch_list(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    def answered(_client: Any, *_: Any) -> batch_commands.Listed:
        return batch_commands.Listed(BATCHES, 2, None)

    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(batch_commands, "history", answered)
    return main(["batch", "list", *args])


def _credentials_list(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    summer, winter = (datetime.fromisoformat(moment).astimezone(UTC) for moment in (SUMMER, WINTER))
    keys = [
        StoredKey("0123456789abcdef", Principal.parse("operator:jo"), "made by jo", summer, None),
        StoredKey("fedcba9876543210", Principal.parse("operator:night"), "night", winter, summer),
    ]

    async def listed(*_: object) -> tuple[list[StoredKey], int]:
        return keys, len(keys)

    monkeypatch.setattr(admin_commands, "_listed_keys", listed)
    return main(["credentials", "list", *args])


def test_dlq_history_says_when_in_uk_time(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert _dlq_history(monkeypatch) == ExitCode.OK

    out = capsys.readouterr().out
    header, summer, winter = out.splitlines()
    assert header.startswith("when (UK time) ")
    assert summer.startswith(f"{SUMMER_SAID} ") and summer.endswith(
        " 3:41  1 applied, 1 skipped, 0 still parked; a duplicate batch"
    )
    assert winter.startswith(f"{WINTER_SAID} ") and " 3:42 " in winter
    assert header.index("operator") == summer.index("operator:ops") == winter.index("operator:ops")
    assert not [raw for raw in RAW if raw in out]


def test_batch_list_says_when_each_was_received_in_uk_time(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _batch_list(monkeypatch) == ExitCode.OK

    out = capsys.readouterr().out
    header, summer, winter = [_cells(line) for line in out.splitlines() if re.match("^[│┃]", line)]
    assert header[:2] == ["batch", "received (UK time)"]
    assert summer[:2] == ["0b6c2f3e-summer", SUMMER_SAID]
    assert winter[:2] == ["9a1d4e7c-winter", WINTER_SAID]
    assert not [raw for raw in RAW if raw in out]


def test_credentials_list_says_when_each_key_was_made_and_revoked_in_uk_time(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _credentials_list(monkeypatch) == ExitCode.OK

    out = capsys.readouterr().out
    header, made_in_summer, made_in_winter = out.splitlines()
    assert "created (UK time)" in header and "revoked (UK time)" in header
    assert f" {SUMMER_SAID} " in made_in_summer and made_in_summer.endswith("made by jo")
    made, revoked = header.index("created"), header.index("revoked")
    assert made_in_winter[made:].startswith(WINTER_SAID) and made_in_winter[revoked:].startswith(SUMMER_SAID)
    assert made_in_winter.rindex("night") == header.index("label")
    assert not [raw for raw in RAW if raw in out]


def test_json_keeps_the_instants(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert _dlq_history(monkeypatch, "--json") == ExitCode.OK
    assert json.loads(capsys.readouterr().out) == ACTIONS

    assert _batch_list(monkeypatch, "--json") == ExitCode.OK
    assert json.loads(capsys.readouterr().out) == BATCHES

    assert _credentials_list(monkeypatch, "--json") == ExitCode.OK
    keys = json.loads(capsys.readouterr().out)
    assert [(key["created_at"], key["revoked_at"]) for key in keys] == [
        ("2027-06-06T22:30:02.463389+00:00", None),
        ("2026-12-06T11:33:02.463389+00:00", "2027-06-06T22:30:02.463389+00:00"),
    ]


def _cells(line: str) -> list[str]:
    """A table row's cells, without the box drawing around them."""
    return [cell.strip() for cell in re.split("[│┃]", line)[1:-1]]
