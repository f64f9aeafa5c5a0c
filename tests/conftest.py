"""Session-wide real infrastructure (one Kafka broker, one PostgreSQL cluster for the test run), and the
scan of every log the run wrote for the test learners' personal data."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from tests.support import learners, projector
from tests.support.databases import create_database, unique_name
from tests.support.infra import database_url as provide_database_url
from tests.support.infra import kafka_bootstrap as provide_kafka_bootstrap
from tests.support.log_scan import (
    LOG_DIR_VARIABLE,
    SAMPLE_LEARNERS,
    LogScan,
    PersonalData,
    prune_old_runs,
    record_learners_made_by,
    run_log_dir,
)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    chosen = LOG_DIR_VARIABLE in os.environ
    log_dir = run_log_dir()
    if not chosen:
        prune_old_runs(log_dir.parent)
    log_dir.mkdir(parents=True, exist_ok=True)
    if config.option.basetemp is None:
        # tests that start services write their logs under tmp_path: this puts them in the scanned directory
        config.option.basetemp = str(log_dir / "tmp")
    known = PersonalData.of_sample_learners(SAMPLE_LEARNERS.read_text(encoding="utf-8"))
    record_learners_made_by(learners, "new_learner", known)
    record_learners_made_by(learners, "random_uln", known)
    record_learners_made_by(projector, "uln_for", known)
    config.pluginmanager.register(LogScan(log_dir, known), "lrs-log-scan")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    with provide_kafka_bootstrap() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with provide_database_url() as url:
        yield url


@pytest.fixture
async def fresh_database_url(database_url: str) -> str:
    """A new, empty database on the session's cluster: for tests that need their own read model."""
    return await create_database(database_url, unique_name("t"))
