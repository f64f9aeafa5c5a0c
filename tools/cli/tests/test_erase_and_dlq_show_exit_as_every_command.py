"""`lrs learners erase --yes`, the erasure's reach and `lrs dlq show` read their answers themselves, not through
`expect_ok`, so a refused key and an LRS unavailable exited 1 ("refused or failed") there, not 5 and 4 as every other
command does (review of the day, finding 1)."""

from __future__ import annotations

import httpx
import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main

PROBLEMS = {
    401: {"title": "Unauthenticated", "status": 401, "detail": "unknown key."},
    403: {"title": "Forbidden", "status": 403, "detail": "needs the erasure duty."},
    503: {"title": "Service unavailable", "status": 503, "detail": "PostgreSQL is away."},
}


def _answering(monkeypatch: pytest.MonkeyPatch, status: int) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=PROBLEMS[status], headers={"content-type": "application/problem+json"})

    real = httpx.Client

    def mocked(*args: object, **kwargs: object) -> httpx.Client:
        kwargs["transport"] = httpx.MockTransport(answer)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(httpx, "Client", mocked)
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    for service in ("VALIDATION", "PLR_PROJECTOR", "INGEST", "NOTIFIER", "REPORTING", "CHALLENGES"):
        monkeypatch.setenv(f"LRS_{service}_URL", f"http://{service.lower().replace('_', '-')}")  # a cluster name


@pytest.mark.parametrize(("status", "exit_code"), [(401, ExitCode.KEY_REFUSED), (403, ExitCode.KEY_REFUSED), (503, 4)])
def test_an_erasure_answered_with_an_error_exits_as_every_command(
    monkeypatch: pytest.MonkeyPatch, status: int, exit_code: int
) -> None:
    _answering(monkeypatch, status)

    assert main(["learners", "erase", "1000000043", "--reason", "asked", "--yes"]) == exit_code


@pytest.mark.parametrize(("status", "exit_code"), [(401, ExitCode.KEY_REFUSED), (403, ExitCode.KEY_REFUSED), (503, 4)])
def test_a_dead_letter_shown_with_an_error_exits_as_every_command(
    monkeypatch: pytest.MonkeyPatch, status: int, exit_code: int
) -> None:
    _answering(monkeypatch, status)

    assert main(["dlq", "show", "1000000043"]) == exit_code
