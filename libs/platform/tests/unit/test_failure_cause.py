"""A background loop's fatal error is logged with what it means for the operator, not only its repr
(`KafkaTimeoutError()` alone said nothing of a frozen broker)."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, ProducerFenced

from lrs_platform.service import failure_cause


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (KafkaTimeoutError(), "Kafka did not answer within the client's timeout"),
        (ProducerFenced(), "another instance took over this instance's transactional id"),
        (KafkaConnectionError(), "Kafka refused or failed a request (KafkaConnectionError)"),
        (asyncpg.InterfaceError("connection is closed"), "PostgreSQL failed a request (InterfaceError)"),
        (KeyError("x"), "an unexpected KeyError: a defect"),
    ],
)
def test_a_fatal_error_is_told_in_an_operators_words(error: BaseException, said: str) -> None:
    assert failure_cause(error).startswith(said)
