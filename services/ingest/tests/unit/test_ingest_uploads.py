"""The bounds on uploads being read (decision 0185): an idle deadline, and a gate per caller and per replica."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ingest.uploads import TooManyUploads, UploadGate, UploadStalled, until_idle


async def _sent(*chunks: bytes, pause: float = 0.0, then_stall: bool = False) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
        await asyncio.sleep(pause)
    if then_stall:
        await asyncio.Event().wait()


async def _collected(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def test_an_upload_that_stops_sending_is_given_up_after_the_idle_deadline() -> None:
    with pytest.raises(UploadStalled) as stalled:
        await asyncio.wait_for(_collected(until_idle(_sent(b"x" * 100, then_stall=True), 0.05)), 5)
    assert stalled.value.idle_seconds == 0.05


async def test_a_slow_upload_that_keeps_moving_takes_as_long_as_it_needs() -> None:
    chunks = [bytes([index]) * 10 for index in range(8)]
    # each chunk well within the deadline, the whole upload well past it
    assert await _collected(until_idle(_sent(*chunks, pause=0.03), 0.1)) == b"".join(chunks)


def test_a_caller_may_have_its_limit_of_uploads_read_at_once_and_not_one_more() -> None:
    gate = UploadGate(per_caller=2, overall=10)
    with gate.admit("ao:RN1"), gate.admit("ao:RN1"):
        with pytest.raises(TooManyUploads) as busy, gate.admit("ao:RN1"):
            pass
        assert (busy.value.limit, busy.value.per_caller) == (2, True)
        with gate.admit("ao:RN2"):  # another caller is not held by this one's
            assert gate.held == 3
    with gate.admit("ao:RN1"):  # the places are given back when the uploads end
        assert gate.held == 1
    assert gate.held == 0


def test_the_replica_reads_at_most_its_limit_of_uploads_whoever_sends_them() -> None:
    gate = UploadGate(per_caller=2, overall=3)
    with (
        gate.admit("ao:RN1"),
        gate.admit("ao:RN2"),
        gate.admit("ao:RN3"),
        pytest.raises(TooManyUploads) as busy,
        gate.admit("ao:RN4"),
    ):
        pass
    assert (busy.value.limit, busy.value.per_caller) == (3, False)
    assert gate.held == 0


def test_an_upload_that_ends_in_an_error_gives_its_place_back() -> None:
    gate = UploadGate(per_caller=1, overall=1)
    with pytest.raises(UploadStalled), gate.admit("ao:RN1"):
        raise UploadStalled(30)
    with gate.admit("ao:RN1"):
        assert gate.held == 1
