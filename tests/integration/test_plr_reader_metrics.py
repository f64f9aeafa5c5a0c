"""A running PLR reader (`PROJECTOR_RUN_CONSUMER=false`, plr-reader) exports none of the projector's consumer, lag or
dead-letter series on `/metrics`, only its HTTP series: scraped beside the projector, its copies raised the
parked-message alert once per reader, multiplied `sum(lrs_projector_dlq_depth)` and diluted the projector's lag and
`retrying` with zeros (sre walk, finding 3)."""

from __future__ import annotations

import pytest
from tests.support.projector import create_topics, new_prefix, running_projector

pytestmark = pytest.mark.integration


async def test_a_reader_exports_its_http_series_and_none_of_the_projectors_consumer_series(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix, run_consumer=False) as reader:
        assert (await reader.get(None, "/healthz")).status_code == 200
        exported = (await reader.get(None, "/metrics")).text

    samples = [line for line in exported.splitlines() if line and not line.startswith("#")]
    consumers = [
        line
        for line in samples
        if line.startswith(("lrs_projector_lag_", "lrs_projector_dlq_"))
        or (line.startswith("lrs_consumer_") and 'consumer="plr-projector.plr"' in line)
    ]
    assert consumers == []
    assert any(
        line.startswith("lrs_http_requests_total{") and 'service="plr-projector"' in line and 'route="/healthz"' in line
        for line in samples
    ), "its HTTP series stay"
