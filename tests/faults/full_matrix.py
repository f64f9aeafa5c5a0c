"""`make faults`: every fault of the matrix, one after the other, over one whole running system.

Run explicitly (the file name keeps it out of `make test`, which runs the smoke matrix instead). The
table is printed, saved as JSON beside the run's logs and, when every row ran, written into
docs/reliability.md.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from tests.faults.harness import FaultSystem, RowWork, running_system
from tests.faults.matrix import Fault, RowResult, audit, full_matrix, no_fault, run_row
from tests.faults.report import document, table, update_reliability_doc, write_json
from tests.support.log_scan import run_log_dir

pytestmark = pytest.mark.integration

RECORDS = int(os.environ.get("LRS_FAULTS_RECORDS", "1000"))
WITHIN = 300.0
FAULTS = [no_fault(), *full_matrix()]
ROWS: list[tuple[RowResult, RowWork | None]] = []


@pytest.fixture(scope="module")
async def fault_system() -> AsyncIterator[FaultSystem]:
    async with running_system(run_log_dir() / "faults") as system:
        await system.prepare(challenges=len(FAULTS))
        yield system


@pytest.mark.parametrize("fault", FAULTS, ids=[f"{fault.name} at {fault.point}" for fault in FAULTS])
async def test_fault(fault_system: FaultSystem, fault: Fault) -> None:
    result, work = await run_row(fault_system, fault, RECORDS, WITHIN)
    ROWS.append((result, work))
    print(table([result]))
    assert result.passed, result.notes


async def test_every_row_again_at_the_end(fault_system: FaultSystem) -> None:
    await audit(fault_system, ROWS)
    rows = [result for result, _ in ROWS]
    result = document(rows, records_per_batch=RECORDS)
    write_json(result, run_log_dir() / "faults" / "faults.json")
    if len(rows) == len(FAULTS):
        update_reliability_doc(rows, result)
    print("\n" + table(rows))
    assert result["passed"], [row.fault + " at " + row.point for row in rows if not row.passed]
