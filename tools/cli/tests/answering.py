"""For tests of what a command says of a service's answers: every client the CLI makes is answered by the test."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx
import pytest


def clients_answered_by(monkeypatch: pytest.MonkeyPatch, answer: Callable[[httpx.Request], httpx.Response]) -> None:
    """Have `answer` answer every request the CLI's clients send (an `httpx.MockTransport`); no key is given."""
    real_client = httpx.Client

    def fake_client(*args: Any, **kwargs: Any) -> httpx.Client:
        return real_client(*args, **{**kwargs, "transport": httpx.MockTransport(answer)})

    monkeypatch.setattr(httpx, "Client", fake_client)


def answered_by(monkeypatch: pytest.MonkeyPatch, answer: Callable[[httpx.Request], httpx.Response]) -> None:
    """Give the CLI a live API key, and have `answer` answer every request its clients send."""
    clients_answered_by(monkeypatch, answer)
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")


def paths_answered(
    monkeypatch: pytest.MonkeyPatch,
    answers: Mapping[str, httpx.Response],
    otherwise: httpx.Response | None = None,
) -> list[str]:
    """Give the CLI a live API key and answer each request by its path from `answers`, a path not there with
    `otherwise` (failing the test when there is none); returns the paths asked, in order."""
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path in answers:
            return answers[request.url.path]
        assert otherwise is not None, f"not a path this test answers: {request.url.path}"
        return otherwise

    answered_by(monkeypatch, answer)
    return asked
