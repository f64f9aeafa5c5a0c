"""`lrs_ingest_publish_seconds` times failed publishes too, under `outcome="failed"` (successful ones under
`outcome="published"`): observing only the successes, a "Kafka publish latency" panel looked healthy while every
publish timed out (sre walk, finding 7). Both series exist at 0 from the start."""

from __future__ import annotations

import subprocess
import sys

import pytest
from prometheus_client import REGISTRY
from services.ingest.tests.unit.test_ingest_service import FakePublisher, FakeRepository, batch_file, make, submit

from ingest import metrics
from ingest.service import PublishFailed


def _count(outcome: str) -> float:
    return REGISTRY.get_sample_value("lrs_ingest_publish_seconds_count", {"outcome": outcome}) or 0.0


async def test_a_failed_publish_is_timed_as_failed_and_a_published_one_as_published() -> None:
    repository, publisher = FakeRepository(), FakePublisher(available=False)
    service = make(repository, publisher)
    published, failed = _count("published"), _count("failed")

    with pytest.raises(PublishFailed):
        await submit(service, batch_file())

    assert (_count("published"), _count("failed")) == (published, failed + 1)

    publisher.available = True
    await submit(service, batch_file())

    assert (_count("published"), _count("failed")) == (published + 1, failed + 1)


def test_the_help_says_what_is_timed_and_both_outcomes_exist_at_zero_from_the_start() -> None:
    script = "import ingest.bootstrap, prometheus_client; print(prometheus_client.generate_latest().decode())"
    exported = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout

    for outcome in metrics.PUBLISH_OUTCOMES:
        assert f'lrs_ingest_publish_seconds_count{{outcome="{outcome}"}} 0.0' in exported
    assert set(metrics.PUBLISH_OUTCOMES) == {"published", "failed"}
    (family,) = metrics.PUBLISH_SECONDS.describe()
    assert "published" in family.documentation and "failed" in family.documentation
