"""A few rows of the fault matrix (`make faults` runs them all), and a short fuzz of ingest's door.

Each row: a challenge and two batches go through the whole system while a fault hits; then nothing
may be lost or applied twice, and each batch run and challenge is emailed exactly once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tests.faults.harness import FaultSystem, RowWork, running_system
from tests.faults.matrix import Fault, RowResult, run_row, smoke_matrix
from tests.faults.report import document, table, write_json
from tests.fuzz.driver import fuzz_then_a_normal_row
from tests.support.log_scan import run_log_dir

pytestmark = pytest.mark.integration

RECORDS = 300
WITHIN = 240.0
FUZZ_CASES = 300
FAULTS = smoke_matrix()
ROWS: list[tuple[RowResult, RowWork | None]] = []


@pytest.fixture(scope="module")
async def fault_system() -> AsyncIterator[FaultSystem]:
    async with running_system(run_log_dir() / "faults-smoke") as system:
        await system.prepare(challenges=len(FAULTS) + 1)
        yield system
    rows = [result for result, _ in ROWS]
    write_json(document(rows, records_per_batch=RECORDS), run_log_dir() / "faults-smoke" / "faults.json")
    print("\n" + table(rows))


@pytest.mark.parametrize("fault", FAULTS, ids=[f"{fault.name} at {fault.point}" for fault in FAULTS])
async def test_nothing_lost_or_doubled_and_one_email_each(fault_system: FaultSystem, fault: Fault) -> None:
    result, work = await run_row(fault_system, fault, RECORDS, WITHIN)
    ROWS.append((result, work))
    assert result.passed, table([result])


async def test_hostile_batches_get_202_or_a_problem_and_every_consumer_still_consumes(
    fault_system: FaultSystem,
) -> None:
    fuzzed, result, work = await fuzz_then_a_normal_row(fault_system, FUZZ_CASES, RECORDS, WITHIN)
    ROWS.append((result, work))
    write_json({"summary": fuzzed.summary(), "failures": fuzzed.failures}, run_log_dir() / "faults-smoke" / "fuzz.json")

    assert fuzzed.sent >= FUZZ_CASES
    assert fuzzed.failures == [], fuzzed.failures[:20]
    assert fuzzed.answers["202"] > 0, fuzzed.summary()  # some went on to validation and beyond
    assert result.passed, table([result])
    assert not fault_system.supervisor_restarts, fault_system.supervisor_restarts
