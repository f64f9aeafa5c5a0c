"""Messages a consumer had not read when the topic's retention deleted them are said and counted
(`lrs_platform.kafka._Fetcher`; tests/integration/test_consumer_expired_messages.py shows it against Kafka). Here:
every aiokafka consumer of the process builds that fetcher, a consumer is named as it is built, and the aiokafka code
the fetcher follows is the code it was written against."""

from __future__ import annotations

import hashlib
import inspect

from aiokafka.consumer import consumer as aiokafka_consumer
from aiokafka.consumer import fetcher

from lrs_platform.kafka import _CONSUMER_NAMES, EXPIRED_MESSAGES, _Fetcher, make_consumer, name_consumer


def test_every_aiokafka_consumer_of_the_process_builds_the_fetcher_that_says_so() -> None:
    assert aiokafka_consumer.Fetcher is _Fetcher


async def test_a_consumer_is_counted_under_its_name_else_its_group() -> None:
    named = make_consumer("127.0.0.1:9", "lrs.test", group_id="lrs.validation", name="validation.decider")
    grouped = make_consumer("127.0.0.1:9", "lrs.test", group_id="lrs.notifier")
    placed = make_consumer("127.0.0.1:9", group_id=None)

    assert _CONSUMER_NAMES[named._subscription] == "validation.decider"
    assert _CONSUMER_NAMES[grouped._subscription] == "lrs.notifier"
    assert placed._subscription not in _CONSUMER_NAMES
    name_consumer(placed, "challenges.plr-follower")
    assert _CONSUMER_NAMES[placed._subscription] == "challenges.plr-follower"


def test_the_counter_is_the_one_the_alert_reads() -> None:
    assert EXPIRED_MESSAGES._name == "lrs_consumer_expired_messages"  # exported with `_total`
    assert EXPIRED_MESSAGES._labelnames == ("consumer", "topic")


def test_the_aiokafka_code_the_fetcher_follows_is_the_code_it_was_written_against() -> None:
    """`_Fetcher` reads what aiokafka 0.14's fetcher leaves: a fetch answered OffsetOutOfRange leaves its partition
    awaiting a reset with the consumer's strategy, whose position the reset then sets from the broker's answer. An
    aiokafka whose fetching or resetting changed fails here, to be followed."""
    for method, pinned in (
        (fetcher.Fetcher._proc_fetch_request, PROC_FETCH_REQUEST_SHA256),
        (fetcher.Fetcher._update_fetch_positions, UPDATE_FETCH_POSITIONS_SHA256),
    ):
        assert hashlib.sha256(inspect.getsource(method).encode()).hexdigest() == pinned, method.__name__


PROC_FETCH_REQUEST_SHA256 = "59bf948fff47eed580671971252454daa614df479733f3bedfefe95bc4d8ad30"
UPDATE_FETCH_POSITIONS_SHA256 = "d7774d8241dc6a7e04ce2172518adfa952a905b739590bda01baba207604a686"
