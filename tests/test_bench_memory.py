"""The benchmark's memory figures: a service's processes together, and its largest process alone."""

from __future__ import annotations

import os
import subprocess
import sys

from bench.memory import PeakMemory, each_rss_bytes, rss_bytes


def test_a_process_with_a_child_is_measured_together_and_one_by_one() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        sizes = each_rss_bytes(os.getpid())
        assert len(sizes) >= 2 and all(size > 0 for size in sizes)

        memory = PeakMemory({"bench": os.getpid()})
        memory.sample()
        assert 0 < memory.largest["bench"] < memory.peak["bench"]
        assert memory.largest["bench"] >= max(each_rss_bytes(child.pid))
    finally:
        child.communicate(b"")
    assert each_rss_bytes(child.pid) == [] and rss_bytes(child.pid) == 0
