"""The AO's command line against the running services: submit a file, follow it to its outcome."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import register
from tests.support.learners import new_learner

from lrs_domain.formats import BatchFormat, ParsedBatch, parse_batch, write_batch

pytestmark = pytest.mark.integration

LRS = str(Path(sys.executable).parent / "lrs")


async def _lrs(system: SystemUnderTest, principal: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LRS_API_KEY": await system.key_for(principal),
        "LRS_INGEST_URL": system.url("ingest"),
        "LRS_VALIDATION_URL": system.url("validation"),
        "LRS_PLR_PROJECTOR_URL": system.url("plr-projector"),
    }
    return await asyncio.to_thread(
        subprocess.run, [LRS, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _sample_template() -> ParsedBatch:
    return parse_batch(Path("samples/sample-100.csv").read_bytes(), BatchFormat.CSV)


async def test_an_ao_submits_with_the_cli_and_follows_the_batch(system: SystemUnderTest, tmp_path: Path) -> None:
    learners = [new_learner() for _ in range(3)]
    await register(system, learners)
    template = _sample_template()
    records = [
        record.model_copy(
            update={
                "uln": learner["uln"],
                "given_name": learner["given_name"],
                "family_name": learner["family_name"],
                "date_of_birth": learner["date_of_birth"],
            }
        )
        for record, learner in zip(template.records, sorted(learners, key=lambda lr: lr["uln"]), strict=False)
    ]
    file = tmp_path / "three.csv"
    content = write_batch(ParsedBatch(template.header, tuple(records), BatchFormat.CSV), BatchFormat.CSV)
    file.write_bytes(content)
    ao = f"ao:{template.header.awarding_organisation}"

    submitted = await _lrs(system, ao, "batch", "submit", str(file))
    assert submitted.returncode == 0, submitted.stderr
    batch_id = submitted.stdout.strip()

    status = await _lrs(system, ao, "batch", "status", batch_id, "--wait", "90", "--records")
    assert status.returncode == 0, status.stderr
    assert f"batch {batch_id}: completed - 3 records, 3 accepted, 0 rejected" in status.stdout
    assert status.stdout.count(" accepted ") == 3

    other = await _lrs(system, "ao:RN9008", "batch", "status", batch_id)
    assert other.returncode == 1
    assert "HTTP 404" in other.stderr
