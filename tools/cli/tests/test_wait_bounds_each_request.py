"""`--wait N` returns within about N seconds when ingest takes requests but answers none (frozen, its database
locked): each request made while waiting is given up a few seconds after the wait ends, not after the client's
60 s. Never seen: exit 4, saying how long it waited; seen before: exit 3, the batch as last seen."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from lrs_cli import batch_commands
from lrs_cli.client import ExitCode
from lrs_cli.main import main

BATCH = "0b5c1e0e-8d0c-4f47-9c3a-2c8b6f1d7e11"
WAIT = 1


class _FrozenIngest:
    """Answers the first `answered` requests with the batch still validating, then none in time."""

    sandpit = False

    def __init__(self, answered: int) -> None:
        self.answered = answered
        self.timeouts: list[dict[str, Any]] = []

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url="http://ingest:8000", transport=httpx.MockTransport(self._answer), timeout=timeout)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.timeouts.append(request.extensions["timeout"])
        if len(self.timeouts) <= self.answered:
            return httpx.Response(200, json={"batch_id": BATCH, "status": "validating"})
        raise httpx.ReadTimeout("timed out", request=request)


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")


def _longest(ingest: _FrozenIngest) -> float:
    return float(max(max(phases.values()) for phases in ingest.timeouts))


def test_a_batch_never_seen_gives_up_soon_after_the_wait(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest = _FrozenIngest(answered=0)
    monkeypatch.setattr(batch_commands, "connection", lambda ctx: ingest)

    assert main(["batch", "status", BATCH, "--wait", str(WAIT)]) == ExitCode.UNREACHABLE

    assert _longest(ingest) <= WAIT + batch_commands.ANSWER_MARGIN_SECONDS
    said = re.fullmatch(
        r"lrs: http://ingest:8000 did not answer within (\d+) s: it may be busy.*\n", capsys.readouterr().err
    )
    assert said and int(said[1]) <= WAIT + batch_commands.ANSWER_MARGIN_SECONDS


def test_a_batch_seen_before_ingest_froze_is_given_as_last_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    ingest = _FrozenIngest(answered=1)
    monkeypatch.setattr(batch_commands, "connection", lambda ctx: ingest)

    assert main(["batch", "status", BATCH, "--wait", str(WAIT)]) == ExitCode.NOT_FINAL

    assert len(ingest.timeouts) > 1 and _longest(ingest) <= WAIT + batch_commands.ANSWER_MARGIN_SECONDS


def test_without_wait_a_request_has_the_client_s_own_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    ingest = _FrozenIngest(answered=1)
    monkeypatch.setattr(batch_commands, "connection", lambda ctx: ingest)

    assert main(["batch", "status", BATCH]) == ExitCode.NOT_FINAL

    assert ingest.timeouts == [{"connect": 60.0, "read": 60.0, "write": 60.0, "pool": 60.0}]
