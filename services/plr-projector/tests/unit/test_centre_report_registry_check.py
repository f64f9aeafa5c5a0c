"""A centre report is published only once validation's registry said its learner is not erased: asked last, after
the read model's word (which the projection's lag may leave behind the erasure). A registry that cannot be asked
takes no report (503, nothing published); a database with no registry at all leaves the read model's word."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import pytest

from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from plr_projector.api import centre_router
from plr_projector.consumer import Topics
from plr_projector.endpoints import projector_of

ULN, OTHER_ULN = "1000000043", "1000000051"
PROVIDER = "10004567"
REPORT = {"uln": ULN, "qualification_number": "601/4491/X", "subject": "Polymer Operations", "grade": "Merit"}


class Projector:
    """A projector whose read model links the provider to a learner of two merged ULNs, erased or not, and whose
    database answers the registry's question with `registry` (a value, or an exception raised)."""

    def __init__(self, registry: object, *, erased_in_model: bool = False) -> None:
        self.registry = registry
        self.erased_in_model = erased_in_model
        self.asked: list[list[str]] = []
        self.published: list[bytes] = []
        self.topics = Topics()
        self.pool = self
        self.model = self
        self.producer = self

    def acquire(self) -> Any:
        @contextlib.asynccontextmanager
        async def connection() -> AsyncIterator[Projector]:
            yield self

        return connection()

    async def learner_group(self, _connection: Any, uln: str, *, with_links: bool) -> Any:
        return SimpleNamespace(ulns=(uln, OTHER_ULN), linked_providers=frozenset({PROVIDER}))

    async def any_erased(self, _connection: Any, _ulns: Any) -> bool:
        return self.erased_in_model

    async def fetchval(self, query: str, ulns: list[str]) -> object:
        assert "validation.learner_erased" in query
        self.asked.append(ulns)
        if isinstance(self.registry, BaseException):
            raise self.registry
        return self.registry

    async def send_and_wait(self, _topic: str, value: bytes, key: bytes) -> Any:
        self.published.append(value)
        return SimpleNamespace(partition=0, offset=7)


async def _report(projector: Projector) -> httpx.Response:
    app = build_app("plr-projector", title="PLR", description="", lifespan=noop_lifespan)
    app.include_router(centre_router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse(f"provider:{PROVIDER}")
    app.dependency_overrides[projector_of] = lambda: projector
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://plr") as client:
        return await client.post("/v1/centre/achievements", json=REPORT)


async def test_a_learner_the_registry_says_was_erased_is_refused_and_nothing_is_published() -> None:
    projector = Projector(True)
    answer = await _report(projector)
    assert answer.status_code == 410, answer.text
    assert answer.json()["code"] == "LEARNER_ERASED"
    assert projector.asked == [sorted([ULN, OTHER_ULN])]  # every ULN of the learner
    assert projector.published == []


async def test_a_learner_the_registry_says_was_not_erased_is_reported() -> None:
    projector = Projector(False)
    answer = await _report(projector)
    assert answer.status_code == 202, answer.text
    assert len(projector.published) == 1


async def test_a_learner_the_read_model_knows_erased_is_refused_without_asking_the_registry() -> None:
    projector = Projector(False, erased_in_model=True)
    answer = await _report(projector)
    assert answer.status_code == 410, answer.text
    assert projector.asked == []
    assert projector.published == []


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.InsufficientPrivilegeError("permission denied for function learner_erased"),
        asyncpg.UndefinedFunctionError("function validation.learner_erased(text) does not exist"),
    ],
)
async def test_a_registry_that_cannot_be_asked_takes_no_report(error: Exception) -> None:
    projector = Projector(error)
    answer = await _report(projector)
    assert answer.status_code == 503, answer.text
    assert "send it again" in answer.json()["detail"]
    assert projector.published == []


async def test_a_database_without_a_registry_leaves_the_read_models_word() -> None:
    """A projector on a database of its own (no `validation` schema): nobody erases there."""
    projector = Projector(asyncpg.InvalidSchemaNameError('schema "validation" does not exist'))
    answer = await _report(projector)
    assert answer.status_code == 202, answer.text
    assert len(projector.published) == 1
