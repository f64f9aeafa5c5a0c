"""For tests of what a command refuses itself: a connection that fails the test if anything would be sent."""

from __future__ import annotations

from types import ModuleType

import httpx
import pytest


class NoServer:
    """A connection that fails the test if anything is sent."""

    sandpit = False

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        raise AssertionError(f"a file refused here must not reach {service}")


def refuse_the_network(monkeypatch: pytest.MonkeyPatch, commands: ModuleType) -> None:
    """Give `commands` (a module of CLI commands) an API key and a connection that sends nothing."""
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setattr(commands, "connection", lambda ctx: NoServer())
