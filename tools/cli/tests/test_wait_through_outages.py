"""`lrs batch submit --wait` and `lrs batch status --wait` keep waiting while ingest answers 503 for a moment (its
PostgreSQL restarting, say): the batch is not the worse for it, and a script must not read exit 1 as a refusal."""

from __future__ import annotations

import httpx
import pytest

from lrs_cli import batch_commands
from lrs_cli.client import CommandError

BATCH = "0b5c1e0e-8d0c-4f47-9c3a-2c8b6f1d7e11"
UNAVAILABLE = httpx.Response(
    503, headers={"Retry-After": "0"}, json={"title": "The batch store is unavailable", "status": 503}
)


def _ingest(answers: list[httpx.Response]) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        return answers.pop(0) if len(answers) > 1 else answers[0]

    return httpx.Client(transport=httpx.MockTransport(answer), base_url="http://ingest")


def test_503s_while_waiting_are_waited_through_to_the_decision() -> None:
    completed = httpx.Response(200, json={"batch_id": BATCH, "status": "completed"})
    answers = [
        httpx.Response(200, json={"batch_id": BATCH, "status": "validating"}),
        UNAVAILABLE,
        UNAVAILABLE,
        completed,
    ]
    assert batch_commands.follow(_ingest(answers), BATCH, wait=10)["status"] == "completed"


def test_at_the_end_of_the_wait_the_batch_is_given_as_last_seen() -> None:
    answers = [httpx.Response(200, json={"batch_id": BATCH, "status": "validating"}), UNAVAILABLE]
    assert batch_commands.follow(_ingest(answers), BATCH, wait=0.3)["status"] == "validating"


def test_a_batch_never_seen_says_what_ingest_said() -> None:
    with pytest.raises(CommandError, match="The batch store is unavailable"):
        batch_commands.follow(_ingest([UNAVAILABLE]), BATCH, wait=0.3)
