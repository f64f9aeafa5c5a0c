"""The consumer group session is a setting (`KAFKA_SESSION_TIMEOUT_MS`, `KAFKA_HEARTBEAT_INTERVAL_MS`): 10 s and 1 s
unless set, within what the brokers and aiokafka take, and refused as a service starts rather than by each consumer
as it builds its client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from lrs_platform.kafka import KafkaGroupSession, group_session, make_consumer
from lrs_platform.settings import ServiceSettings


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.delenv("KAFKA_SESSION_TIMEOUT_MS", raising=False)
    monkeypatch.delenv("KAFKA_HEARTBEAT_INTERVAL_MS", raising=False)
    group_session.cache_clear()
    yield monkeypatch
    group_session.cache_clear()


async def test_a_consumer_keeps_ten_seconds_and_one_second_heartbeats_unless_set(
    environment: pytest.MonkeyPatch,
) -> None:
    consumer = make_consumer("127.0.0.1:9", "lrs.batch.submitted.v1", group_id="a-group")

    assert (consumer._session_timeout_ms, consumer._heartbeat_interval_ms) == (10_000, 1_000)


async def test_every_consumer_of_the_process_keeps_the_session_the_environment_sets(
    environment: pytest.MonkeyPatch,
) -> None:
    environment.setenv("KAFKA_SESSION_TIMEOUT_MS", "4000")
    environment.setenv("KAFKA_HEARTBEAT_INTERVAL_MS", "500")

    consumer = make_consumer("127.0.0.1:9", "lrs.batch.submitted.v1", group_id="a-group")

    assert (consumer._session_timeout_ms, consumer._heartbeat_interval_ms) == (4_000, 500)
    assert consumer._rebalance_timeout_ms == 4_000  # aiokafka's: the session, so a join waits no longer for a member


@pytest.mark.parametrize(
    ("session", "heartbeat", "refusal"),
    [
        (999, 100, "greater than or equal to 1000"),  # under any broker's group.min.session.timeout.ms
        (30_001, 1_000, "less than or equal to 30000"),  # a join would time out while a rebalance waits for a member
        (3_000, 1_000, "KAFKA_HEARTBEAT_INTERVAL_MS (1000) must be under a third of KAFKA_SESSION_TIMEOUT_MS (3000)"),
        (10_000, 99, "greater than or equal to 100"),
    ],
)
def test_a_session_brokers_or_heartbeats_cannot_keep_is_refused(session: int, heartbeat: int, refusal: str) -> None:
    with pytest.raises(ValidationError, match=refusal.replace("(", r"\(").replace(")", r"\)")):
        KafkaGroupSession(session_timeout_ms=session, heartbeat_interval_ms=heartbeat)


def test_the_bounds_themselves_are_taken() -> None:
    assert KafkaGroupSession(session_timeout_ms=1_000, heartbeat_interval_ms=300).session_timeout_ms == 1_000
    assert KafkaGroupSession(session_timeout_ms=30_000).session_timeout_ms == 30_000


def test_a_service_refuses_to_start_with_a_session_its_heartbeats_do_not_fit(
    environment: pytest.MonkeyPatch,
) -> None:
    environment.setenv("KAFKA_SESSION_TIMEOUT_MS", "2000")

    with pytest.raises(ValidationError, match="must be under a third of KAFKA_SESSION_TIMEOUT_MS"):
        ServiceSettings()
