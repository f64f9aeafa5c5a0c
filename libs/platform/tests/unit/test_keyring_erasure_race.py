"""A key read from the store just before its learner's erasure must not outlive the erasure in the cache.

The store here is a dict behind the few statements `Keyring` sends, so that the read can be held until
the erasure has happened: on PostgreSQL the two interleave only by chance (tests/integration/test_keyring.py
covers the real store)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from lrs_platform.keyring import ERASED, Keyring, KeyringKey, LearnerKey

ULN = "9000000043"


@dataclass
class HeldStore:
    """learner_keys.keys as a dict; a read answers what it saw once `release` is set."""

    keys: dict[bytes, bytes | None] = field(default_factory=dict)
    read: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    holding: bool = False

    async def fetchval(self, query: str, *arguments: Any) -> Any:
        if query.startswith("INSERT INTO learner_keys.keys"):  # an erasure
            self.keys[arguments[0]] = None
            return True
        return arguments[0] if arguments else None  # the keyring's fingerprint: recorded, then matched

    async def fetch(self, query: str, *arguments: Any) -> list[Any]:
        if query.startswith("INSERT"):  # new keys: the ones this statement stored
            offered = [
                (ref, wrapped) for ref, wrapped in zip(arguments[0], arguments[1], strict=True) if ref not in self.keys
            ]
            self.keys.update(offered)
            return [{"learner_ref": ref} for ref, _ in offered]
        found = [ref for ref in arguments[0] if ref in self.keys]  # one row: the refs, keys, wrapping keys
        row = (found or None, [self.keys[ref] for ref in found] or None, [0 for _ in found] or None)
        if self.holding:
            self.read.set()
            await self.release.wait()
        return [row]

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[HeldStore]:
        yield self


async def test_a_key_read_before_the_learners_erasure_is_not_cached_after_it() -> None:
    store = HeldStore()
    keyring = Keyring(store, KeyringKey.generate())
    assert isinstance((await keyring.issue([ULN]))[ULN], LearnerKey)
    keyring.forget(ULN)  # the next look-up reads the store

    store.holding = True
    lookup = asyncio.create_task(keyring.find([ULN]))
    await asyncio.wait_for(store.read.wait(), timeout=10)  # it has read the key, not yet remembered it
    await keyring.erase(store, ULN)
    store.release.set()
    await asyncio.wait_for(lookup, timeout=10)

    store.holding = False
    assert (await keyring.find([ULN]))[ULN] is ERASED
