"""`Attempts.run` and `until_done` share one retry skeleton: both wait what a `Transient` asks for (a server that
says when to come back), where `until_done` once waited the policy's backoff whatever the failure said."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from structlog.testing import capture_logs

from lrs_platform.consumer import Attempts, Poisoned, RetryPolicy, Transient

NO_BACKOFF = RetryPolicy(base_seconds=0.0, max_seconds=0.0, poison_attempts=2)


def away_once() -> Callable[[], Awaitable[int]]:
    failures = [Transient("the mail relay is away", delay=0.01)]

    async def effect() -> int:
        if failures:
            raise failures.pop()
        return 7

    return effect


@pytest.mark.parametrize("way", ["run", "until_done"])
async def test_both_ways_wait_the_delay_a_transient_failure_asks_for(way: str) -> None:
    attempts = Attempts(f"tests-{way}", NO_BACKOFF)

    with capture_logs() as logs:
        result = await getattr(attempts, way)(away_once())

    assert result == 7
    assert [entry["retry_in"] for entry in logs if entry["event"] == "consumer_retrying"] == [0.01]
    assert attempts.describe() is None


async def test_until_done_never_gives_up_on_poison_where_run_does() -> None:
    failures = [KeyError("grade")] * 3

    async def effect() -> str:
        if failures:
            raise failures.pop()
        return "done"

    assert await Attempts("tests-until-done", NO_BACKOFF).until_done(effect) == "done"
    failures.extend([KeyError("grade")] * 3)
    given_up = await Attempts("tests-run", NO_BACKOFF).run(effect)
    assert given_up == Poisoned("KeyError: 'grade'", 2)
