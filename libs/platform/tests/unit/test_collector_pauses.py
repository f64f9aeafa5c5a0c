"""What the collector does around a poll's pause: what the pause built is frozen out of its scans, and
garbage cycles among it wait for the next full collection."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from lrs_platform import consumer
from lrs_platform.consumer import FullCollections, collector_paused


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Node:
    """A container the collector tracks, which can be made part of a cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    clock = Clock()
    monkeypatch.setattr(consumer, "FULL_COLLECTIONS", FullCollections(every_s=300.0, clock=clock))
    yield clock
    gc.unfreeze()
    gc.collect()


def _scanned(value: object) -> bool:
    """Whether a collection of some generation would scan it (frozen objects are in none)."""
    return any(tracked is value for tracked in gc.get_objects())


def test_what_a_pause_built_and_still_holds_is_no_longer_scanned(clock: Clock) -> None:
    outside = Node()
    assert _scanned(outside)
    with collector_paused():
        held = Node()
        assert _scanned(held)
    assert gc.isenabled()
    assert not _scanned(held)
    assert not _scanned(outside)  # frozen with it: reference counts still free either


def test_a_cycle_built_in_a_pause_is_collected_by_the_next_full_collection_and_not_before(clock: Clock) -> None:
    with collector_paused():
        first, second = Node(), Node()
        first.other, second.other = second, first
        gone = weakref.ref(first)
        del first, second
    gc.collect()
    assert gone() is not None  # frozen: a collection does not see it

    clock.now = 299.0
    with collector_paused():
        pass
    assert gone() is not None

    clock.now = 300.0
    with collector_paused():
        pass
    assert gone() is None


def test_an_object_a_pause_built_is_freed_by_its_reference_count_once_dropped(clock: Clock) -> None:
    with collector_paused():
        held = Node()
        gone = weakref.ref(held)
    assert not _scanned(held)
    del held
    assert gone() is None


@pytest.mark.parametrize("pause_collector", [True, False])
async def test_a_consumer_that_does_not_pause_the_collector_has_its_cycles_collected_as_it_goes(
    clock: Clock, pause_collector: bool
) -> None:
    """The notifier's emails each left ~50 KB in reference cycles, frozen by the pause until a full collection
    minutes later: its memory rose ~70 KB an email through a burst (a walk-through's 87 -> 157 MB)."""
    gone: list[weakref.ref[Node]] = []

    async def send_an_email() -> None:
        first, second = Node(), Node()
        first.other, second.other = second, first
        gone.append(weakref.ref(first))

    await consumer.Attempts("notifier", pause_collector=pause_collector).run(send_an_email)
    gc.collect()

    assert (gone[0]() is None) is not pause_collector
