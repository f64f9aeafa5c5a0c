"""How long a revoked API key keeps working in a process that cached it: at most CACHE_SECONDS, none in the
process that revoked it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from lrs_platform.credential_store import CACHE_SECONDS, CredentialStore
from lrs_platform.identity import Principal

KEY_ID = "0123456789abcdef"
SECRET = "s3cret"
TOKEN = f"lrs_{KEY_ID}_{SECRET}"


@dataclass
class FakePool:
    """The credentials table as another process (the `lrs` command) sees it."""

    revoked: bool = False
    queries: int = 0
    rows: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            KEY_ID: {"principal": "ao:RN5133", "scopes": [], "secret_hash": hashlib.sha256(SECRET.encode()).hexdigest()}
        }
    )

    async def execute(self, _query: str, key_ids: list[str]) -> str:
        revoked = 0 if self.revoked else sum(key_id in self.rows for key_id in key_ids)
        self.revoked = self.revoked or revoked > 0
        return f"UPDATE {revoked}"

    async def fetchrow(self, _query: str, key_id: str) -> dict[str, Any] | None:
        self.queries += 1
        return None if self.revoked else self.rows.get(key_id)


@dataclass
class Clock:
    now: float = 1_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_key_revoked_elsewhere_stops_working_within_the_cache_time() -> None:
    pool, clock = FakePool(), Clock()
    store = CredentialStore(pool, clock=clock)
    assert await store.authenticate(TOKEN) == Principal.parse("ao:RN5133")

    pool.revoked = True
    clock.now += CACHE_SECONDS / 2
    assert await store.authenticate(TOKEN) is not None  # still cached
    clock.now += CACHE_SECONDS / 2 + 0.001
    assert await store.authenticate(TOKEN) is None
    assert CACHE_SECONDS <= 1.0


async def test_a_cached_key_costs_no_query_and_a_wrong_secret_is_refused() -> None:
    pool, clock = FakePool(), Clock()
    store = CredentialStore(pool, clock=clock)
    for _ in range(5):
        assert await store.authenticate(TOKEN) is not None
    assert await store.authenticate(f"lrs_{KEY_ID}_wrong") is None
    assert pool.queries == 1


async def test_unknown_keys_are_looked_up_every_time_and_never_cached() -> None:
    pool, clock = FakePool(), Clock()
    store = CredentialStore(pool, clock=clock)
    for _ in range(3):
        assert await store.authenticate("lrs_feedfacefeedface_x") is None
    assert pool.queries == 3
    pool.rows["feedfacefeedface"] = {**pool.rows[KEY_ID], "secret_hash": hashlib.sha256(b"x").hexdigest()}
    assert await store.authenticate("lrs_feedfacefeedface_x") is not None  # issued since: works at once


async def test_a_key_revoked_by_this_process_stops_working_at_once() -> None:
    pool, clock = FakePool(), Clock()
    store = CredentialStore(pool, clock=clock)
    assert await store.authenticate(TOKEN) is not None

    assert await store.revoke(KEY_ID) == 1
    assert await store.authenticate(TOKEN) is None
    assert await store.revoke() == 0


async def test_a_look_up_under_way_while_the_key_is_revoked_here_keeps_nothing() -> None:
    """The process that revokes a key stops it at once, even for a look-up that read it just before."""

    class RevokedWhileReading(FakePool):
        store: CredentialStore | None = None

        async def fetchrow(self, query: str, key_id: str) -> dict[str, Any] | None:
            row = await super().fetchrow(query, key_id)
            assert self.store is not None
            await self.store.revoke(KEY_ID)  # committed after this read, before the look-up goes on
            return row

    pool = RevokedWhileReading()
    store = CredentialStore(pool, clock=Clock())
    pool.store = store
    assert await store.authenticate(TOKEN) is not None  # read before the revocation
    assert await store.authenticate(TOKEN) is None  # not served from a cache filled after it


async def test_keys_no_longer_used_leave_the_cache() -> None:
    """A soak walk's finding: each portal sign-in makes a key, used for one session, and the cache kept every key a
    process had read until that key was used again. Entries older than the cache time now go as others are added."""
    pool, clock = FakePool(), Clock()
    store = CredentialStore(pool, clock=clock)
    secret_hash = pool.rows[KEY_ID]["secret_hash"]
    for session in range(1_000):
        key_id = f"{session:016x}"
        pool.rows[key_id] = {"principal": "ao:RN5133", "scopes": [], "secret_hash": secret_hash}
        assert await store.authenticate(f"lrs_{key_id}_{SECRET}") is not None
        clock.now += 0.1  # ten sign-ins a second, each key used once

    assert len(store._cache) <= 2 * CACHE_SECONDS / 0.1 + 1
    assert await store.authenticate(f"lrs_{999:016x}_{SECRET}") is not None  # the latest still cached
