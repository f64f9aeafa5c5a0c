"""glibc's allocator, tuned for a decider that allocates a batch's large buffers again and again."""

from __future__ import annotations

import ctypes

_M_MMAP_THRESHOLD = -3
LARGE_BLOCK_BYTES = 1_048_576


def map_large_blocks_apart() -> bool:
    """Every block of 1 MB or more gets a mapping of its own, given back when freed. glibc's default
    threshold rises to the largest block freed (up to 32 MB), after which a batch's multi-megabyte
    buffers (fetched chunks, the stored decision, asyncpg's and the producer's buffers) land on the
    heap and stay in the RSS, fragmented (decision 0034: ~40 MB less RSS between decisions, 5-20 MB
    lower peaks). False where the C library is not glibc."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    return mallopt is not None and mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK_BYTES) == 1
