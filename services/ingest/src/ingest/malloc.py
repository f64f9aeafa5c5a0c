"""glibc's allocator, tuned for a service that takes 6 MB uploads one after another (decision 0092)."""

from __future__ import annotations

import ctypes

_M_MMAP_THRESHOLD = -3
LARGE_BLOCK_BYTES = 1_048_576


def map_large_blocks_apart() -> bool:
    """Every block of 1 MB or more gets a mapping of its own, given back when freed. glibc's default
    threshold rises to the largest block freed (up to 32 MB), after which an upload's multi-megabyte
    buffers (the body, its text, its records' text, the chunks and the producer's batches) land on the
    heap and stay in the RSS, fragmented: ingest peaked ~40-60 MB lower in the sustained benchmark.
    The same setting as validation's (decision 0034). False where the C library is not glibc."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    return mallopt is not None and mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK_BYTES) == 1
