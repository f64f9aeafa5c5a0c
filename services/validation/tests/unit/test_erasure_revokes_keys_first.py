"""An erased learner's own API keys are revoked before the erasure commits: a failure right after it (the process
stopped, PostgreSQL gone) leaves no erased learner's key working until an operator erases again. A refused erasure
revokes nothing; one said again (200) revokes again."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx

from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal, PrincipalKind
from validation.api import router
from validation.learner_registry import Erasure, ErasurePreview, LearnerNotHeldError

ULN = "1000000043"
MERGED = "1000000051"
MERGED_MEANWHILE = "1000000078"  # merged with the learner after the preview, before the erasure took its lock
NOT_HELD = "5555555554"
OPERATOR = "operator:dpo"


def _key_of(uln: str) -> str:
    return str(Principal(PrincipalKind.LEARNER, uln))


class Keys:
    """The identity store: the learner keys still working."""

    def __init__(self, *ulns: str) -> None:
        self.working = {_key_of(uln) for uln in ulns}

    async def revoke_principal(self, principal: Principal, *, by: str | None = None, erased: bool = False) -> int:
        revoked = str(principal) in self.working
        self.working.discard(str(principal))
        return int(revoked)


class StoppedAfterCommit(OSError):
    """The erasure committed, and then PostgreSQL went (or the process stopped) before anything else ran."""


class Registry:
    """A learner with a merged ULN; its erasure notes which keys were still working when it committed."""

    def __init__(self, keys: Keys, *, erased_before: bool = False, stops_after_commit: bool = False) -> None:
        self.keys = keys
        self.erased_before = erased_before
        self.stops_after_commit = stops_after_commit
        self.merged_with = (MERGED,)
        self.working_at_commit: set[str] | None = None

    async def erasure_preview(self, uln: str) -> ErasurePreview:
        if uln == NOT_HELD:
            raise LearnerNotHeldError(uln[-4:])
        return ErasurePreview(uln, self.merged_with, None)

    async def erase(self, uln: str, erased_by: str, reason: str, with_key: str | None = None) -> tuple[Erasure, bool]:
        if uln == NOT_HELD:
            raise LearnerNotHeldError(uln[-4:])
        self.working_at_commit = set(self.keys.working)
        return Erasure(uuid.uuid4(), uln, erased_by, reason, datetime.now(UTC)), not self.erased_before

    async def same_learner(self, uln: str) -> list[str]:
        if self.stops_after_commit:
            raise StoppedAfterCommit("connection lost")
        return sorted(self.merged_with)


def _client(registry: Registry) -> httpx.AsyncClient:
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse(OPERATOR)
    app.state.learner_registry = registry
    app.state.outbox_wake = asyncio.Event()
    app.state.credentials = registry.keys
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation")


async def _erase(registry: Registry, uln: str = ULN) -> httpx.Response:
    async with _client(registry) as client:
        return await client.post(f"/v1/admin/learners/{uln}/erasure", json={"reason": "asked by the learner"})


async def test_the_learners_keys_are_revoked_before_the_erasure_commits() -> None:
    keys = Keys(ULN, MERGED, "1000000086")
    registry = Registry(keys)

    answer = await _erase(registry)

    assert answer.status_code == 201, answer.text
    assert registry.working_at_commit == {_key_of("1000000086")}  # a bystander's only
    assert keys.working == {_key_of("1000000086")}


async def test_a_failure_right_after_the_erasure_commits_leaves_no_erased_learners_key_working() -> None:
    keys = Keys(ULN, MERGED)
    registry = Registry(keys, stops_after_commit=True)

    answer = await _erase(registry)

    assert answer.status_code == 503, answer.text  # PostgreSQL gone: the operator is told to erase again
    assert registry.working_at_commit == set()
    assert keys.working == set()


async def test_a_refused_erasure_revokes_nothing() -> None:
    keys = Keys(NOT_HELD)

    answer = await _erase(Registry(keys), NOT_HELD)

    assert answer.status_code == 404, answer.text
    assert keys.working == {_key_of(NOT_HELD)}


async def test_an_erasure_said_again_revokes_again() -> None:
    keys = Keys(ULN, MERGED)  # say, a key an operator made by hand since

    answer = await _erase(Registry(keys, erased_before=True))

    assert answer.status_code == 200, answer.text
    assert keys.working == set()


async def test_a_uln_merged_with_the_learner_after_the_preview_is_revoked_once_erased_with_them() -> None:
    keys = Keys(ULN, MERGED, MERGED_MEANWHILE)
    registry = Registry(keys)

    async def erased_with_one_more(uln: str) -> list[str]:
        return sorted([*registry.merged_with, MERGED_MEANWHILE])

    registry.same_learner = erased_with_one_more  # type: ignore[method-assign]
    answer = await _erase(registry)

    assert answer.status_code == 201, answer.text
    assert answer.json()["erased_with"] == sorted([MERGED, MERGED_MEANWHILE])
    assert keys.working == set()


async def test_a_key_made_between_the_first_revocation_and_the_commit_is_revoked_once_committed() -> None:
    keys = Keys(ULN, MERGED)
    registry = Registry(keys)
    erase = registry.erase

    async def a_key_made_meanwhile(
        uln: str, erased_by: str, reason: str, with_key: str | None = None
    ) -> tuple[Erasure, bool]:
        keys.working.add(_key_of(ULN))  # `lrs credentials create`: validation did not say erased yet
        return await erase(uln, erased_by, reason, with_key)

    registry.erase = a_key_made_meanwhile  # type: ignore[method-assign]
    answer = await _erase(registry)

    assert answer.status_code == 201, answer.text
    assert keys.working == set()
