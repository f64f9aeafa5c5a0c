"""Ingest's young garbage collections come after 10,000 surviving objects, not 700."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import gc, sys
if sys.argv[1] == "tuned":
    from ingest.collector import collect_less_often
    collect_less_often()
gc.collect()
before = gc.get_stats()[0]["collections"]
records = [{"line": line, "values": [str(line)]} for line in range(10_000)]  # two containers a record
print(gc.get_stats()[0]["collections"] - before)
"""


def _young_collections(mode: str) -> int:
    run = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return int(run.stdout)


def test_a_batch_of_records_is_built_with_few_young_collections() -> None:
    assert _young_collections("default") >= 20  # the probe sees Python's default: one per ~700 objects
    assert _young_collections("tuned") <= 2
