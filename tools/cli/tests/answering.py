"""For tests of what a command says of a service's answers: every client the CLI makes is answered by the test."""

from __future__ import annotations

from collections.abc import Callable
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
