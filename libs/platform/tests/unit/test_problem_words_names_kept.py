"""Chaos walk, finding 3: a problem's detail joined after its title kept "Kafka" only when it had a capital after
its first letter, so every AO read "The batch could not be queued: kafka did not take the batch" during a Kafka
outage. A first word that is a name keeps its capital; an ordinary first word is still lowered."""

from __future__ import annotations

import pytest

from lrs_platform.problem_words import said_once
from lrs_platform.problems import said_once as said_once_re_exported

TITLE = "The batch could not be queued"


@pytest.mark.parametrize(
    "detail",
    [
        "Kafka did not take the batch, so nothing of it was accepted",
        "PostgreSQL refused the connection",
        "Ofqual has not published that qualification yet",
        "LRS keys are issued by an operator",
        "AO RN9008 is not in the register",
        "ULN 1000000043 is not registered",
        "Idempotency-Key is too long",
        "Sandpit batches are reset each night",
    ],
)
def test_a_detail_beginning_with_a_name_keeps_its_capital(detail: str) -> None:
    assert said_once(TITLE, detail) == f"{TITLE}: {detail}"


@pytest.mark.parametrize(
    ("detail", "said"),
    [
        ("The store did not answer.", "the store did not answer"),
        ("A batch of yours is still waiting", "a batch of yours is still waiting"),
        ("Nothing of it was accepted", "nothing of it was accepted"),
        ("No record was kept", "no record was kept"),
        ("This key may not submit batches.", "this key may not submit batches"),
    ],
)
def test_a_detail_beginning_with_an_ordinary_word_is_lowered(detail: str, said: str) -> None:
    assert said_once(TITLE, detail) == f"{TITLE}: {said}"


def test_the_cli_and_the_portal_read_the_same_rule() -> None:
    assert said_once_re_exported is said_once
    assert said_once("Service unavailable", "Kafka did not take the batch.") == (
        "Service unavailable: Kafka did not take the batch"
    )
