"""How the CLI finds and calls the services: URLs and the API key from the environment or flags."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
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
    "portal": "http://127.0.0.1:8007",
}


class ExitCode(IntEnum):
    """`lrs` exit statuses, documented in docs/operations.md; scripts depend on them."""

    OK = 0
    FAILED = 1  # a batch rejected, failed (RS005, also when `batch check` projects it) or refused; an error
    USAGE = 2
    NOT_FINAL = 3  # the batch was still being decided when --wait ran out
    UNREACHABLE = 4  # no answer from a service


class CommandError(Exception):
    """A failure to report to the user in one line, without a traceback."""

    exit_code = ExitCode.FAILED


@dataclass(frozen=True)
class Connection:
    api_key: str | None

    @staticmethod
    def from_environment(key_file: Path | None = None) -> Connection:
        if key_file:
            return Connection(key_file.read_text(encoding="utf-8").strip())
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


def pages(client: httpx.Client, path: str, items: str, page_size: int, **params: Any) -> Iterator[dict[str, Any]]:
    """Every item of a paged listing (`page`, `page_size`, `total`), one page in memory at a time."""
    page = 1
    while True:
        body = expect_ok(client.get(path, params={**params, "page": page, "page_size": page_size}))
        yield from body[items]
        if not body[items] or page * page_size >= body["total"]:
            return
        page += 1


def unreachable_text(error: httpx.TransportError) -> str:
    try:
        where = f"{error.request.url.scheme}://{error.request.url.netloc.decode()}"
    except RuntimeError:
        where = "the service"
    reason = str(error) or type(error).__name__
    return f"cannot reach {where} ({reason}): is it running, and is its LRS_<SERVICE>_URL right?"
