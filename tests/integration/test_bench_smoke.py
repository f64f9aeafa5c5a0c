"""The benchmark harness keeps working: its smoke run (`make bench-smoke`) inside `make test`.

One batch of 1,000 records through all six services, then small baselines. It checks that the
pipeline did its job and that the result document is complete; it never checks a timing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.run import run_smoke
from tests.support.infra import private_kafka

pytestmark = pytest.mark.integration


@pytest.mark.timeout(240)
async def test_bench_smoke_measures_one_batch_end_to_end(database_url: str, tmp_path: Path) -> None:
    # A broker of its own: another running system's validation would also decide the smoke's batch.
    with private_kafka() as kafka_bootstrap:
        result = await run_smoke(kafka_bootstrap, database_url, tmp_path / "logs")

    assert result["ok"], result.get("error")
    (run,) = result["latency"]["runs"]
    assert run["status"] == "completed"
    assert run["counts"]["accepted"] == 970
    assert run["counts"]["rejected"] == 30
    found, sampled = run["probes_found"].split("/")
    assert found == sampled != "0"  # the sampled accepted records are on their learners' PLRs
    assert all(run[stage] is not None for stage in ("ingest_s", "validation_s", "projection_s", "end_to_end_s"))
    assert result["baselines"]["kafka"]["records"] == 1_000
    assert result["baselines"]["postgres_copy"]["rows"]["achievements"] == 970
    assert set(result["memory_peak_mb"]["latency"]) == {
        "ingest",
        "validation",
        "plr-projector",
        "challenges",
        "notifier",
        "reporting",
    }
    assert set(result["targets"]) >= {"latency_p50_s", "max_service_rss_mb"}
