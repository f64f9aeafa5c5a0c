"""A service's large blocks get mappings of their own even after one was freed (glibc only)."""

from __future__ import annotations

import ctypes
import subprocess
import sys

import pytest

PROBE = """
import ctypes, sys
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "tuned":
    from lrs_platform.allocator import map_large_blocks_apart
    assert map_large_blocks_apart()
freed = bytes(4_000_000)
del freed  # glibc's default threshold now rises above 4 MB
before = libc.mallinfo2().hblks
block = bytes(3_000_000)
print(libc.mallinfo2().hblks - before)
"""


def _mapped_blocks_added(mode: str) -> int:
    run = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return int(run.stdout)


@pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "mallinfo2"), reason="glibc only")
def test_a_large_block_is_mapped_apart_even_after_a_larger_one_was_freed() -> None:
    assert _mapped_blocks_added("default") == 0  # the probe sees glibc's default: on the heap
    assert _mapped_blocks_added("tuned") == 1
