"""Bounds on the uploads ingest holds (decision 0185). A body is capped at 6 MB, but a client that stops sending
would hold what it sent until it closed the connection, and nothing bounded how many such bodies one caller, or
all callers, could have open: an idle deadline ends a stalled upload, and a gate admits a bounded number of
uploads at a time, per caller and per replica. An upload keeps its place until its submission ends, not only
while its body is read: a body read whole waits in memory for the parser (one at a time), so a place given back
at the end of the read would bound only the uploads arriving, not those held. The same gate, a second one, bounds
the results CSVs ingest sends at once per caller (`download_records`): each is built on the event loop while it is
sent, and fifty of one caller's held up every other request for seconds."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import contextmanager


class UploadStalled(Exception):
    """The body sent nothing for the idle deadline."""

    def __init__(self, idle_seconds: float) -> None:
        super().__init__(f"nothing of the body arrived for {idle_seconds:g} seconds")
        self.idle_seconds = idle_seconds


class TooManyUploads(Exception):
    """The caller (`per_caller`), or the replica as a whole, already has as many uploads (or downloads, at the
    download gate) held as it may."""

    def __init__(self, limit: int, *, per_caller: bool) -> None:
        whose = "of yours are" if per_caller else "are"
        super().__init__(f"{limit:,} uploads {whose} being received or processed already")
        self.limit = limit
        self.per_caller = per_caller


class UploadGate:
    """Counts the uploads held: being read, or read and waiting for (or in) their submission. Admission is
    decided and counted in one step on the event loop, with no await between, so two requests cannot both take
    the last place. A plain context manager: the block may await, and its place is given back however it ends
    (an answer, an error, the request cancelled)."""

    def __init__(self, *, per_caller: int, overall: int | None) -> None:
        """`overall`: None, no limit for all callers together."""
        self._per_caller = per_caller
        self._overall = overall
        self._held: Counter[str] = Counter()

    @property
    def held(self) -> int:
        """The uploads holding a place, all callers' together."""
        return self._held.total()

    @contextmanager
    def admit(self, caller: str) -> Iterator[None]:
        """Holds a place for `caller`'s upload for the length of the block; raises TooManyUploads when there is
        none (the caller's own limit is named first: it is the one its client can do something about)."""
        if self._held[caller] >= self._per_caller:
            raise TooManyUploads(self._per_caller, per_caller=True)
        if self._overall is not None and self.held >= self._overall:
            raise TooManyUploads(self._overall, per_caller=False)
        self._held[caller] += 1
        try:
            yield
        finally:
            self._held[caller] -= 1
            if self._held[caller] <= 0:
                del self._held[caller]


async def until_idle(chunks: AsyncIterable[bytes], idle_seconds: float) -> AsyncIterator[bytes]:
    """`chunks`, as long as each arrives within `idle_seconds` of the one before: a slow upload that keeps
    moving goes on for as long as it takes; one that stops raises UploadStalled."""
    arriving = aiter(chunks)
    while True:
        try:
            async with asyncio.timeout(idle_seconds):  # no task a chunk, as `wait_for` would make
                chunk = await anext(arriving)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise UploadStalled(idle_seconds) from None
        yield chunk
