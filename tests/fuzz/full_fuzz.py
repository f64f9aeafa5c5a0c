"""`make fuzz` (and `make faults`): at least 5,000 hostile batches in the three formats against a real
ingest, then a normal batch that must complete with its email. Run explicitly; `make test` runs 300
cases in tests/integration/test_faults_smoke.py."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from tests.faults.harness import FaultSystem, running_system
from tests.faults.report import table, update_fuzz_summary, write_json
from tests.fuzz.driver import fuzz_then_a_normal_row
from tests.support.log_scan import run_log_dir

pytestmark = pytest.mark.integration

CASES = int(os.environ.get("LRS_FUZZ_CASES", "5000"))
RECORDS = 300
WITHIN = 900.0  # the normal batch queues behind every fuzzed batch the AO got accepted


@pytest.fixture(scope="module")
async def fault_system() -> AsyncIterator[FaultSystem]:
    async with running_system(run_log_dir() / "fuzz") as system:
        await system.prepare(challenges=1)
        yield system


@pytest.mark.timeout(3600)
async def test_hostile_batches_get_202_or_a_problem_and_every_consumer_still_consumes(
    fault_system: FaultSystem,
) -> None:
    fuzzed, result, _ = await fuzz_then_a_normal_row(fault_system, CASES, RECORDS, WITHIN)
    print(f"\nfuzz: {fuzzed.summary()}\n{table([result])}")
    write_json(
        {"summary": fuzzed.summary(), "failures": fuzzed.failures, "after": result.as_json()},
        run_log_dir() / "fuzz" / "fuzz.json",
    )
    if CASES >= 5000:
        update_fuzz_summary(fuzzed.summary(), result.passed)

    assert fuzzed.sent >= CASES
    assert fuzzed.failures == [], fuzzed.failures[:20]
    assert result.passed, table([result])
    assert not fault_system.supervisor_restarts, fault_system.supervisor_restarts
