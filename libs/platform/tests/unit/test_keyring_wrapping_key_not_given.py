"""A service whose `LRS_KEYRING_WRAPPING_KEYS` lost a wrapping key that still wraps stored learner keys is not
ready, and says which key to give back; readiness, polled every few seconds, reads the store for it at most once
a minute (ops walk, finding 1). The store here is a stub behind the statements `ready` and `find` send;
tests/integration/test_keyring_wrapping_key_not_given.py runs them on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from lrs_platform import keyring
from lrs_platform.keyring import Keyring, KeyringKey, KeyringUnavailable, WrappingKeyNotGiven

ROOT = KeyringKey.generate()


@dataclass
class Store:
    """learner_keys as far as `ready` and `find` see it: the wrapping keys that wrap stored keys."""

    wrapped_by: set[int] = field(default_factory=set)
    looks: int = 0

    async def fetchval(self, query: str, *arguments: Any) -> Any:
        if query.startswith("SELECT to_regclass"):
            return True
        return arguments[0] if arguments else None  # the keyring's fingerprint: recorded, then matched

    async def fetch(self, query: str, *arguments: Any) -> list[Any]:
        if query.startswith("SELECT DISTINCT wrapped_by"):
            self.looks += 1
            return [{"wrapped_by": key_id} for key_id in self.wrapped_by if key_id not in arguments[0]]
        # a look-up of one learner's key, wrapped with the first wrapping key of the store
        return [([arguments[0][0]], [b"\0" * 60], [min(self.wrapped_by)])]

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Store]:
        yield self


async def test_a_service_without_a_wrapping_key_in_use_is_not_ready_and_names_it() -> None:
    store = Store({0, 1, 4})
    with pytest.raises(WrappingKeyNotGiven, match="wrapping keys 1 and 4, which this service was not given") as error:
        await Keyring(store, ROOT).ready()
    assert error.value.key_ids == (1, 4)
    assert "add them back to LRS_KEYRING_WRAPPING_KEYS and restart" in str(error.value)
    assert isinstance(error.value, KeyringUnavailable)  # waited out by consumers, a 503 at the routes

    given = ROOT.with_wrapping(f"1:{KeyringKey.generate().encoded()},4:{KeyringKey.generate().encoded()}")
    assert await Keyring(Store({0, 1, 4}), given).ready()


async def test_readiness_reads_the_store_for_it_once_a_minute_or_at_once_after_a_key_could_not_be_opened(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1_000.0]
    monkeypatch.setattr(keyring, "time", SimpleNamespace(monotonic=lambda: now[0]))  # the keyring's clock only
    store = Store({0})
    ring = Keyring(store, ROOT)
    for _ in range(200):  # a probe every few seconds, for longer than a minute: one look, at start
        assert await ring.ready()
        now[0] += 2.0
    assert store.looks == 1

    store.wrapped_by = {1}  # another service wraps with a key this one was not given
    with pytest.raises(WrappingKeyNotGiven, match="wrapping key 1, which this service was not given: add it back"):
        await ring.find(["9000000043"])
    with pytest.raises(WrappingKeyNotGiven, match="wrapping key 1"):
        await ring.ready()  # not a minute later: the key that could not be opened made it look again
    assert store.looks == 2

    store.wrapped_by = {0}  # re-wrapped by a service that has both
    with pytest.raises(WrappingKeyNotGiven):
        await ring.ready()  # still the last look
    now[0] += keyring._WRAPPING_CHECK_SECONDS
    assert await ring.ready()
    assert store.looks == 3
