"""Operator actions on validation say who did them in their log line: re-wrapping the learners' keys
(`learner_keys_rewrapped`) and loading the reference catalogue every batch is judged by (`reference_loaded`,
with its counts)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, MutableMapping
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import httpx
import structlog

from lrs_contracts.environments import Environment
from lrs_domain.reference import Catalogue
from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from lrs_platform.keyring import WrappingState
from validation.api import router
from validation.reference_store import ReferenceFiles

OPERATOR = "operator:alex"


class Keyring:
    """The keyring as the re-wrap route reaches it: three keys wrapped with key 1 until re-wrapped with key 2."""

    def __init__(self) -> None:
        self.rewrapped = False

    async def rewrap(self, at_most: int) -> int:
        self.rewrapped = True
        return 3

    async def wrapping(self) -> WrappingState:
        return WrappingState(2, {2: 3} if self.rewrapped else {1: 3})


class ReferenceStore:
    """The reference store as the load route reaches it: an empty catalogue, at version 7."""

    change = None

    def ruled(self, rules: object, by: str) -> ReferenceStore:
        return self

    async def load(self, files: ReferenceFiles) -> tuple[int, int]:
        return 12, 3456

    async def current(self) -> tuple[Catalogue, object]:
        return Catalogue(), None

    async def version(self) -> int:
        return 7

    @asynccontextmanager
    async def publishing(self) -> AsyncIterator[None]:
        yield

    async def published_keys(self) -> set[str]:
        return set()

    async def add_published_keys(self, keys: Collection[str]) -> None:
        pass

    async def keep_published_keys(self, keys: Collection[str]) -> None:
        pass


class Producer:
    async def send(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("an empty catalogue publishes nothing")


def _client() -> httpx.AsyncClient:
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse(OPERATOR)
    app.state.environment = Environment.LIVE
    app.state.keyring = Keyring()
    app.state.reference = ReferenceStore()
    app.state.outbox_producer = Producer()
    app.state.settings = SimpleNamespace(reference_dir=None)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation")


def _lines(logs: list[MutableMapping[str, Any]], event: str) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == event]


async def test_a_rewrap_names_the_operator_who_asked() -> None:
    async with _client() as client:
        with structlog.testing.capture_logs() as logs:
            answer = await client.post("/v1/admin/keyring/rewrap")

    assert answer.status_code == 200, answer.text
    (line,) = _lines(logs, "learner_keys_rewrapped")
    assert (line["operator"], line["keys"], line["wrap_with"], line["to_rewrap"]) == (OPERATOR, 3, 2, 0)


async def test_a_reference_load_names_the_operator_and_what_it_loaded() -> None:
    async with _client() as client:
        with structlog.testing.capture_logs() as logs:
            answer = await client.post("/v1/admin/reference/load")

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "awarding_organisations": 12,
        "qualifications": 3456,
        "added": 0,
        "removed": 0,
        "changed": 0,
        "catalogue_version": 7,
    }
    (line,) = _lines(logs, "reference_loaded")
    assert line["operator"] == OPERATOR
    assert (line["awarding_organisations"], line["qualifications"], line["catalogue_version"]) == (12, 3456, 7)
