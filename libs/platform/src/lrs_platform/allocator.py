"""glibc's allocator, tuned for services that handle a batch's multi-megabyte buffers one after another."""

from __future__ import annotations

import ctypes

_M_MMAP_THRESHOLD = -3
LARGE_BLOCK_BYTES = 1_048_576


def map_large_blocks_apart() -> bool:
    """Every block of 1 MB or more gets a mapping of its own, given back when freed. glibc's default
    threshold rises to the largest block freed (up to 32 MB), after which a batch's buffers (an upload,
    its records' text, fetched chunks, a stored decision, asyncpg's and the producer's buffers) land on
    the heap and stay in the RSS, fragmented. Validation (decision 0034: ~40 MB less RSS between
    decisions) and ingest (decision 0092: peaks ~40-60 MB lower) call it at start-up. False where the
    C library is not glibc."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    return mallopt is not None and mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK_BYTES) == 1
