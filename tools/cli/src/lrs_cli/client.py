"""How the CLI finds and calls the services: URLs and the API key from the environment or flags."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

DEFAULT_URLS = {
    "ingest": "http://127.0.0.1:8001",
    "validation": "http://127.0.0.1:8002",
    "plr_projector": "http://127.0.0.1:8003",
    "challenges": "http://127.0.0.1:8004",
    "notifier": "http://127.0.0.1:8005",
    "reporting": "http://127.0.0.1:8006",
}


class CommandError(Exception):
    """A failure to report to the user in one line (exit status 1)."""


@dataclass(frozen=True)
class Connection:
    api_key: str | None

    @staticmethod
    def from_environment(key_file: str | None = None) -> Connection:
        if key_file:
            return Connection(Path(key_file).read_text(encoding="utf-8").strip())
        return Connection(os.environ.get("LRS_API_KEY"))

    def url(self, service: str) -> str:
        return os.environ.get(f"LRS_{service.upper()}_URL", DEFAULT_URLS[service]).rstrip("/")

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        if not self.api_key:
            raise CommandError("no API key: set LRS_API_KEY or pass --key-file")
        return httpx.Client(
            base_url=self.url(service),
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=timeout,
        )


def problem_text(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:500]}"
    if isinstance(body, dict):
        parts = [body.get("code"), body.get("title"), body.get("detail")]
        where = f" (line {body['line']}, column {body.get('column')})" if body.get("line") else ""
        return f"HTTP {response.status_code}: " + " - ".join(str(p) for p in parts if p) + where
    return f"HTTP {response.status_code}: {body}"


def expect_ok(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise CommandError(problem_text(response))
    return response.json() if response.content else None
