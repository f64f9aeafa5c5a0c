"""The running ingest most ingest integration modules share: import `ingest_service` (with `ingest_database_url`, the
module's own database) and its tests ask for `ingest`, one service a module as each module's fixture used to be."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tests.integration.test_ingest_api import Ingest, ingest_caught_up


@pytest.fixture(scope="module", name="ingest")
async def ingest_service(kafka_bootstrap: str, ingest_database_url: str) -> AsyncIterator[Ingest]:
    async with ingest_caught_up(kafka_bootstrap, ingest_database_url) as ingest:
        yield ingest
